namespace CageNet.Budgets;

/// <summary>
/// One period's counters of one node. Money in 1e-10 USD. <see cref="Committed"/> is spent + held by open reservations
/// and is what admission checks; <see cref="Spent"/> is what settled. A reservation keeps the counter it reserved
/// against, so it settles into the period it started in even after a rollover replaced the node's current counter.
/// </summary>
internal sealed class PeriodCounter
{
    public long Spent;
    public long Committed;
    public long SpentTokens;
    public long CommittedTokens;
    public int Warned;

    /// <summary>Calls charged this period whose cost was unknown (an unpriced model, or usage that never arrived).</summary>
    public long UnpricedCalls;

    /// <summary>1 once the first unknown-cost charge of this period was logged.</summary>
    public int UnpricedLogged;

    public PeriodCounter(BudgetNode node, long startTicks, long endTicks, long resetAtTicks)
    {
        Node = node;
        StartTicks = startTicks;
        EndTicks = endTicks;
        ResetAtTicks = resetAtTicks;
        if (node.Template.Period == BudgetPeriod.FiveHoursRolling)
        {
            Rolling = new RollingWindow(this);
        }
    }

    /// <summary>For a <see cref="BudgetPeriod.FiveHoursRolling"/> node: the spend of the last 5 hours by minute, which leaves the sums as it ages.</summary>
    public RollingWindow? Rolling { get; }

    public BudgetNode Node { get; }
    public long StartTicks { get; }
    public long EndTicks { get; }
    public long ResetAtTicks { get; }

    /// <summary>
    /// A 5-hour window that is not open yet: admission checks against it (empty) without opening it; the window opens
    /// only when an amount is held or charged (the reservation then opens the node's real window).
    /// </summary>
    public bool Provisional { get; init; }

    public DateTimeOffset Start => new(StartTicks, TimeSpan.Zero);

    public DateTimeOffset? End => EndTicks == DateTimeOffset.MaxValue.UtcTicks ? null : new DateTimeOffset(EndTicks, TimeSpan.Zero);

    public bool IsOpenAt(long nowTicks) => nowTicks < EndTicks;

    /// <summary>Adds spend found by the start-up rebuild (a ledger call or a recorded charge); no warning fires.</summary>
    public void AddRebuilt(long usd, long tokens, bool unpriced) => AddRebuilt(usd, tokens, unpriced ? 1 : 0);

    /// <summary>Adds rebuilt spend of several calls (a rollup row), <paramref name="unpricedCalls"/> of them without a cost.</summary>
    public void AddRebuilt(long usd, long tokens, long unpricedCalls)
    {
        Interlocked.Add(ref Committed, usd);
        Interlocked.Add(ref Spent, usd);
        Interlocked.Add(ref CommittedTokens, tokens);
        Interlocked.Add(ref SpentTokens, tokens);
        if (unpricedCalls != 0)
        {
            Interlocked.Add(ref UnpricedCalls, unpricedCalls);
        }
    }

    /// <summary>Takes back the spend an evicted instance left (no reservation was open on it).</summary>
    public void Restore(in EvictedSpend spend)
    {
        (Spent, Committed, SpentTokens, CommittedTokens, UnpricedCalls, Warned) = (spend.Spent, spend.Spent, spend.SpentTokens, spend.SpentTokens, spend.UnpricedCalls, spend.Warned);
        UnpricedLogged = spend.UnpricedCalls > 0 ? 1 : 0;
    }

    /// <summary>Clears the warnings whose threshold the spend is now below (a rolling sum that fell back), so they fire again.</summary>
    public void RearmBelowSpend()
    {
        var thresholds = Node.Template.Thresholds;
        if (thresholds.Length == 0) return;
        var values = Node.Template.ThresholdValues();
        for (var i = 0; i < thresholds.Length; i++)
        {
            var spent = thresholds[i].Metric == BudgetMetric.Usd ? Volatile.Read(ref Spent) : Volatile.Read(ref SpentTokens);
            if (values[i] >= 0 && spent < values[i])
            {
                Interlocked.And(ref Warned, ~thresholds[i].Bit);
            }
        }
    }

    /// <summary>Whether a call that started at <paramref name="ticks"/> belongs to this counter's period (and reset).</summary>
    public bool Covers(long ticks) => ticks >= StartTicks && ticks >= ResetAtTicks && ticks < EndTicks;

    /// <summary>Adds a hold if the node can take it (block nodes only refuse); all-or-nothing across the two metrics.</summary>
    public BudgetMetric? TryHold(long usd, long tokens)
    {
        var template = Node.Template;
        if (template.Blocks && template.UsdCap is { } usdCap)
        {
            if (!TryAdd(ref Committed, usd, usdCap)) return BudgetMetric.Usd;
        }
        else
        {
            Interlocked.Add(ref Committed, usd);
        }

        if (template.Blocks && template.TokenCap is { } tokenCap)
        {
            if (!TryAdd(ref CommittedTokens, tokens, tokenCap))
            {
                Interlocked.Add(ref Committed, -usd);
                return BudgetMetric.Tokens;
            }
        }
        else
        {
            Interlocked.Add(ref CommittedTokens, tokens);
        }

        return null;
    }

    /// <summary>Whether a hold would be admitted, without adding it (a <c>Check</c>).</summary>
    public BudgetMetric? Fits(long usd, long tokens)
    {
        var template = Node.Template;
        if (!template.Blocks) return null;
        if (template.UsdCap is { } usdCap && !Fits(Volatile.Read(ref Committed), usd, usdCap)) return BudgetMetric.Usd;
        if (template.TokenCap is { } tokenCap && !Fits(Volatile.Read(ref CommittedTokens), tokens, tokenCap)) return BudgetMetric.Tokens;
        return null;
    }

    public void Unhold(long usd, long tokens)
    {
        Interlocked.Add(ref Committed, -usd);
        Interlocked.Add(ref CommittedTokens, -tokens);
    }

    /// <summary>Admission: refused when the node is already at its cap, or the estimate would take it past.</summary>
    private static bool Fits(long current, long amount, long cap) => current < cap && current + amount <= cap;

    private static bool TryAdd(ref long committed, long amount, long cap)
    {
        while (true)
        {
            var current = Volatile.Read(ref committed);
            if (!Fits(current, amount, cap)) return false;
            if (Interlocked.CompareExchange(ref committed, current + amount, current) == current) return true;
        }
    }
}

/// <summary>
/// The last five hours of a rolling node's spend in minute buckets. <see cref="PeriodCounter.Spent"/> and
/// <see cref="PeriodCounter.Committed"/> include every bucket still in the window; <see cref="Expire"/> takes out the
/// buckets older than 5 hours (a bucket leaves once its minute ended more than 5 hours ago: never early) and re-arms
/// the warnings the sum fell back below. Adding and expiring take a short lock; admission stays a compare-and-swap.
/// </summary>
internal sealed class RollingWindow
{
    /// <summary>Minutes a bucket stays: 300 and the one being filled.</summary>
    private const int Buckets = 301;

    private readonly PeriodCounter _counter;
    private readonly long[] _usd = new long[Buckets];
    private readonly long[] _tokens = new long[Buckets];
    private readonly long[] _minute = new long[Buckets];
    private readonly Lock _gate = new();
    private long _oldest = long.MaxValue;

    public RollingWindow(PeriodCounter counter) => _counter = counter;

    /// <summary>
    /// Records spend charged at <paramref name="atTicks"/> (a metered call's start); <see langword="false"/> when that is
    /// more than 5 hours before <paramref name="nowTicks"/>, so it does not count.
    /// </summary>
    public bool Add(long atTicks, long nowTicks, long usd, long tokens)
    {
        var now = nowTicks / TimeSpan.TicksPerMinute;
        var minute = Math.Min(atTicks / TimeSpan.TicksPerMinute, now);
        if (now - minute >= Buckets)
        {
            return false;
        }

        lock (_gate)
        {
            ExpireLocked(now);
            var slot = (int)(minute % Buckets);
            if (_minute[slot] != minute)
            {
                (_minute[slot], _usd[slot], _tokens[slot]) = (minute, 0, 0);
            }

            _usd[slot] += usd;
            _tokens[slot] += tokens;
            if (minute < _oldest) Volatile.Write(ref _oldest, minute);
        }

        return true;
    }

    /// <summary>When the oldest spend in the window leaves it, or <see langword="null"/> when the window is empty.</summary>
    public DateTimeOffset? NextExpiry
    {
        get
        {
            var oldest = Volatile.Read(ref _oldest);
            return oldest == long.MaxValue ? null : new DateTimeOffset((oldest + Buckets) * TimeSpan.TicksPerMinute, TimeSpan.Zero);
        }
    }

    /// <summary>Takes the spend older than 5 hours out of the counter's sums.</summary>
    public void Expire(long nowTicks)
    {
        var now = nowTicks / TimeSpan.TicksPerMinute;
        var oldest = Volatile.Read(ref _oldest);
        if (oldest == long.MaxValue || now - oldest < Buckets)
        {
            return;
        }

        lock (_gate)
        {
            ExpireLocked(now);
        }
    }

    private void ExpireLocked(long now)
    {
        if (_oldest == long.MaxValue || now - _oldest < Buckets)
        {
            return;
        }

        long usd = 0, tokens = 0, oldest = long.MaxValue;
        for (var i = 0; i < Buckets; i++)
        {
            if (_usd[i] == 0 && _tokens[i] == 0) continue;
            if (now - _minute[i] >= Buckets)
            {
                usd += _usd[i];
                tokens += _tokens[i];
                (_usd[i], _tokens[i]) = (0, 0);
            }
            else if (_minute[i] < oldest)
            {
                oldest = _minute[i];
            }
        }

        Volatile.Write(ref _oldest, oldest);
        Interlocked.Add(ref _counter.Spent, -usd);
        Interlocked.Add(ref _counter.Committed, -usd);
        Interlocked.Add(ref _counter.SpentTokens, -tokens);
        Interlocked.Add(ref _counter.CommittedTokens, -tokens);
        _counter.RearmBelowSpend();
    }
}

/// <summary>
/// The spend of an evicted instance's current period, kept so the instance rebuilt for the next call starts where it
/// stopped: a value in its template's table (no object), a fraction of the live instance's size.
/// </summary>
internal readonly record struct EvictedSpend(long StartTicks, long EndTicks, long Spent, long SpentTokens, int UnpricedCalls, int Warned)
{
    /// <summary>What an idle counter leaves (one not reset in its period), or <see langword="null"/> when nothing is worth keeping (no spend, no warning, or its period has ended).</summary>
    public static EvictedSpend? Of(PeriodCounter counter, long nowTicks)
    {
        var (spent, tokens, unpriced, warned) = (Volatile.Read(ref counter.Spent), Volatile.Read(ref counter.SpentTokens), Volatile.Read(ref counter.UnpricedCalls), Volatile.Read(ref counter.Warned));
        if (!counter.IsOpenAt(nowTicks) || (spent == 0 && tokens == 0 && unpriced == 0 && warned == 0))
        {
            return null;
        }

        return new EvictedSpend(counter.StartTicks, counter.EndTicks, spent, tokens, (int)Math.Min(unpriced, int.MaxValue), warned);
    }
}

/// <summary>
/// One concrete node (<c>org/users/alice</c>): its template and its current period's counter. An instance of a
/// templated node can be evicted when idle: every write to its counters happens while the writer holds a pin
/// (<see cref="TryPin"/>), and the sweeper evicts only by turning a pin count of 0 into −1 (<see cref="TryEvict"/>), so
/// once evicted no one can change it and a caller that finds it evicted looks the instance up again.
/// </summary>
internal sealed class BudgetNode
{
    private const int EvictedPins = -1;

    private readonly BudgetGuard _guard;
    private readonly Lock _gate = new();
    private PeriodCounter _current;
    private int _pins;

    /// <summary>When a caller last pinned it (UTC ticks).</summary>
    private long _touched;

    public BudgetNode(NodeTemplate template, in InstanceKey key, string path, BudgetGuard guard, EvictedSpend? evicted = null)
    {
        Template = template;
        Key = key;
        Path = path;
        _guard = guard;
        _touched = guard.UtcTicks;
        _current = guard.InitialCounter(this, evicted);
    }

    /// <summary>The template's values this instance stands for.</summary>
    public InstanceKey Key { get; }

    /// <summary>Whether a caller holds it, so it cannot be evicted.</summary>
    public int Pins => Volatile.Read(ref _pins);

    public long Touched => Volatile.Read(ref _touched);

    /// <summary>
    /// Pins an instance of a templated node while the caller writes to it (a reservation holds its pins until it
    /// completes); <see langword="false"/> when it has been evicted (look it up again). Literal nodes are never evicted.
    /// </summary>
    public bool TryPin(long nowTicks)
    {
        if (!Template.IsTemplated)
        {
            return true;
        }

        var pins = Volatile.Read(ref _pins);
        while (true)
        {
            if (pins == EvictedPins)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _pins, pins + 1, pins);
            if (seen == pins)
            {
                if (nowTicks > Volatile.Read(ref _touched)) Volatile.Write(ref _touched, nowTicks);
                return true;
            }

            pins = seen;
        }
    }

    public void Unpin()
    {
        if (Template.IsTemplated)
        {
            Interlocked.Decrement(ref _pins);
        }
    }

    /// <summary>Evicts it if no one holds it and it was not touched since <paramref name="idleBeforeTicks"/> (the sweeper, under the template's lock).</summary>
    public bool TryEvict(long idleBeforeTicks)
    {
        if (Volatile.Read(ref _touched) >= idleBeforeTicks || Interlocked.CompareExchange(ref _pins, EvictedPins, 0) != 0)
        {
            return false;
        }

        if (Volatile.Read(ref _touched) >= idleBeforeTicks)
        {
            Volatile.Write(ref _pins, 0); // pinned and released in between: not idle after all
            return false;
        }

        return true;
    }

    /// <summary>Takes an eviction back (the sweeper found state it cannot keep compactly); callers waiting on the lock then pin it.</summary>
    public void Unevict() => Volatile.Write(ref _pins, 0);

    public NodeTemplate Template { get; }
    public string Path { get; }

    public PeriodCounter Current => Volatile.Read(ref _current);

    /// <summary>The counter of the period containing <paramref name="nowTicks"/>, rolling over (or opening a 5h window) when needed.</summary>
    public PeriodCounter At(long nowTicks) => Roll(nowTicks, long.MaxValue);

    /// <summary>
    /// Like <see cref="At"/>, but a 5-hour window it opens starts at <paramref name="opensAtTicks"/> (when the call
    /// started) if that is after the previous window closed and less than 5 hours ago, else now.
    /// </summary>
    public PeriodCounter Open(long nowTicks, long opensAtTicks) => Roll(nowTicks, opensAtTicks);

    private PeriodCounter Roll(long nowTicks, long opensAtTicks)
    {
        var current = Volatile.Read(ref _current);
        if (current.IsOpenAt(nowTicks))
        {
            return current;
        }

        lock (_gate)
        {
            current = _current;
            if (current.IsOpenAt(nowTicks))
            {
                return current;
            }

            var start = Template.Period == BudgetPeriod.FiveHours && opensAtTicks <= nowTicks && opensAtTicks >= current.EndTicks &&
                nowTicks - opensAtTicks < BudgetPeriods.FiveHours.Ticks
                ? opensAtTicks
                : nowTicks;
            var next = _guard.NextCounter(this, start);
            Volatile.Write(ref _current, next);
            return next;
        }
    }

    /// <summary>Replaces the current counter (a reset or a replayed 5h window).</summary>
    public PeriodCounter Replace(Func<PeriodCounter, PeriodCounter> next)
    {
        lock (_gate)
        {
            var replacement = next(_current);
            Volatile.Write(ref _current, replacement);
            return replacement;
        }
    }
}
