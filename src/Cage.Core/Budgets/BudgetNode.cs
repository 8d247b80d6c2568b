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
    }

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
    public void AddRebuilt(long usd, long tokens, bool unpriced)
    {
        Interlocked.Add(ref Committed, usd);
        Interlocked.Add(ref Spent, usd);
        Interlocked.Add(ref CommittedTokens, tokens);
        Interlocked.Add(ref SpentTokens, tokens);
        if (unpriced)
        {
            Interlocked.Increment(ref UnpricedCalls);
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

/// <summary>One concrete node (<c>org/users/alice</c>): its template and its current period's counter.</summary>
internal sealed class BudgetNode
{
    private readonly BudgetGuard _guard;
    private readonly Lock _gate = new();
    private PeriodCounter _current;

    public BudgetNode(NodeTemplate template, string path, BudgetGuard guard)
    {
        Template = template;
        Path = path;
        _guard = guard;
        _current = guard.InitialCounter(this);
    }

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
