using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Globalization;
using CageNet.Budgets.Subscription;
using CageNet.Ledger;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Budgets;

/// <summary>
/// Enforces the budget tree in-process (SPEC 7): reserve an estimate against a scope's nodes and every ancestor before a
/// call (all-or-nothing), settle to the actual cost after it, release on failure keeping what was billed. Block nodes
/// refuse the next call once at their cap; warn thresholds fire once per period on the crossing call. Metered calls
/// (a <see cref="MeterScope"/>'s <c>Usage</c>) are charged automatically when the guard is registered with the meter.
/// Thread-safe and lock-free on the reserve/settle path.
/// </summary>
/// <remarks>
/// Spend lives in memory; on start-up <see cref="InitializeAsync"/> rebuilds the current periods from the ledger's
/// committed calls (each in the period it started in) and from the spend without a ledger call that the
/// <see cref="IBudgetStore"/> recorded, and loads warning/reset/window state from the store. Under any concurrency a
/// node's spend exceeds its cap by at most what calls admitted in flight cost beyond their estimates.
/// </remarks>
public sealed partial class BudgetGuard : IDisposable
{
    private static readonly long LifetimeStart = DateTimeOffset.MinValue.UtcTicks;
    private static readonly long Never = DateTimeOffset.MaxValue.UtcTicks;

    private readonly BudgetTree _tree;
    private readonly BudgetOptions _options;
    private readonly TimeProvider _time;
    private readonly IBudgetStore _store;
    private readonly ILogger _logger;
    private readonly BudgetLeases _live = new();
    private readonly Dictionary<string, List<BudgetNodeState>> _saved = new(StringComparer.Ordinal);
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _warnings;
    private readonly Counter<long> _refusals;
    private readonly ITimer _reaper;
    private readonly long _leaseTicks;
    private readonly long _idleTicks;
    private readonly Lock _sweepGate = new();
    private int _initializing;
    private readonly Action _saveEstimator;
    private long _nextId;
    private volatile bool _unavailable;

    /// <summary>Creates a guard. Call <see cref="InitializeAsync"/> before use to rebuild spend and load saved state.</summary>
    /// <param name="options">The tree and settings.</param>
    /// <param name="time">The clock; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="store">Where warning, reset and window state is saved; in-memory by default.</param>
    /// <param name="estimator">The subscription-window estimator; a new one from <see cref="BudgetOptions.Subscription"/> by default.</param>
    /// <param name="logger">Receives warnings, refusals and faults.</param>
    /// <param name="meterFactory">Creates the <c>Cage</c> meter for <c>cage.budget.*</c> metrics; a standalone meter by default.</param>
    /// <exception cref="BudgetConfigurationException">The tree is invalid (a clamp violation, a bad period, an unknown time zone…).</exception>
    public BudgetGuard(BudgetOptions options, TimeProvider? time = null, IBudgetStore? store = null, SubscriptionEstimator? estimator = null, ILogger? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = time ?? TimeProvider.System;
        _store = store ?? new InMemoryBudgetStore();
        _logger = logger ?? NullLogger.Instance;
        Estimator = estimator ?? new SubscriptionEstimator(options.Subscription, _logger);
        _tree = BudgetTree.Compile(options, Estimator);
        _leaseTicks = options.LeaseDuration.Ticks;
        if (options.EvictIdleAfter <= TimeSpan.Zero && options.EvictIdleAfter != Timeout.InfiniteTimeSpan)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:EvictIdleAfter must be positive (got {options.EvictIdleAfter})");
        }

        _idleTicks = options.EvictIdleAfter == Timeout.InfiniteTimeSpan ? long.MaxValue : options.EvictIdleAfter.Ticks;
        _saveEstimator = SaveEstimator;

        var meter = meterFactory?.Create(new MeterOptions(CageTelemetry.MeterName)) ?? (_ownedMeter = new Meter(CageTelemetry.MeterName));
        _warnings = meter.CreateCounter<long>(CageTelemetry.BudgetWarnings, "{warning}", "Budget warn thresholds crossed.");
        _refusals = meter.CreateCounter<long>(CageTelemetry.BudgetRefusals, "{call}", "Calls refused by a blocking budget.");

        var sweep = TimeSpan.FromTicks(Math.Clamp(Math.Min(options.LeaseDuration.Ticks, _idleTicks) / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond * 30));
        _reaper = _time.CreateTimer(static state => ((BudgetGuard)state!).Sweep(), this, sweep, sweep);
    }

    /// <summary>Raised once per warn threshold per period, on the call that crossed it (after it is logged and counted).</summary>
    public event EventHandler<BudgetWarningEventArgs>? Warning;

    /// <summary>The subscription-window estimator: feed it utilization samples (<see cref="SubscriptionEstimator.Observe"/>).</summary>
    public SubscriptionEstimator Estimator { get; }

    /// <summary>The time zone day, week and month periods follow.</summary>
    public TimeZoneInfo TimeZone => _tree.Zone;

    /// <summary>The settings.</summary>
    public BudgetOptions Options => _options;

    /// <summary>Reservations currently holding budget.</summary>
    public int OpenReservations => _live.Count;

    /// <summary>Whether the guard must not write to its store (the CLI reads state without changing it).</summary>
    internal bool ReadOnly { get; init; }

    /// <summary>Whether <see cref="InitializeAsync"/> throws instead of degrading (the CLI reports a broken ledger).</summary>
    internal bool Strict { get; init; }

    /// <summary>
    /// Loads the saved state and rebuilds the current periods' spend from the ledger's committed calls (each counted in
    /// the period it started in; calls that started before an explicit reset do not count) and from the charges the
    /// <see cref="IBudgetStore"/> recorded for spend without a ledger call. A failure is logged; the guard then admits
    /// calls (or refuses them all with <see cref="BudgetOptions.FailClosed"/>).
    /// </summary>
    /// <param name="ledger">The ledger to rebuild from; no call is replayed when <see langword="null"/> (the store's charges still are).</param>
    /// <param name="cancellationToken">Cancels the rebuild.</param>
    /// <returns>The number of calls replayed.</returns>
    public async ValueTask<long> InitializeAsync(ILedgerReader? ledger, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _initializing); // the rebuild adds to instances without pinning them: no eviction meanwhile
        try
        {
            var states = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
            lock (_saved)
            {
                foreach (var state in states)
                {
                    if (!_saved.TryGetValue(state.Node, out var list))
                    {
                        _saved[state.Node] = list = [];
                    }

                    list.Add(state);
                }
            }

            if (_store is IBudgetEstimatorStore estimatorStore)
            {
                await LoadEstimatorAsync(estimatorStore, cancellationToken).ConfigureAwait(false);
                var recovered = await RecoverEstimatorTokensAsync(ledger, cancellationToken).ConfigureAwait(false);
                if (!ReadOnly)
                {
                    Estimator.Changed = _saveEstimator; // every change (a snapshot, a reconciliation, a new reference reading) is saved
                    if (recovered > 0) SaveEstimator();
                }
            }

            var replayed = await ReplayAsync(ledger, cancellationToken).ConfigureAwait(false);
            BudgetLog.Replayed(_logger, replayed);
            return replayed;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !Strict)
        {
            _unavailable = _options.FailClosed;
            BudgetLog.LoadFailed(_logger, ex, _options.FailClosed ? "refusing calls (FailClosed)" : "admitting calls (fail-open)");
            return 0;
        }
        finally
        {
            Interlocked.Decrement(ref _initializing);
        }
    }

    private async ValueTask LoadEstimatorAsync(IBudgetEstimatorStore store, CancellationToken cancellationToken)
    {
        if (await store.LoadEstimatorAsync(cancellationToken).ConfigureAwait(false) is not { } saved)
        {
            return;
        }

        try
        {
            Estimator.ImportState(saved);
        }
        catch (FormatException ex)
        {
            BudgetLog.EstimatorLoadFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Counts again the tokens of the calls the ledger stored after the estimator's saved mark (metered by a process that
    /// stopped before its next save, SIGKILL included), from at most the longest subscription window (7 days) back.
    /// </summary>
    /// <returns>The number of calls counted again.</returns>
    private async ValueTask<int> RecoverEstimatorTokensAsync(ILedgerReader? ledger, CancellationToken cancellationToken)
    {
        if (ledger is null || Estimator.CountedThrough is not { } through)
        {
            return 0;
        }

        var now = _time.GetUtcNow();
        var oldest = now - TimeSpan.FromDays(7);
        var recovered = 0;
        await foreach (var call in ledger.ReadCallsAsync(new TimeWindow(through > oldest ? through : oldest, null), cancellationToken).ConfigureAwait(false))
        {
            if (call.Timestamp <= now && Estimator.RecoverTokens(call.Model, call.Usage.TotalTokens, call.Timestamp, call.Id))
            {
                recovered++;
            }
        }

        if (recovered > 0)
        {
            BudgetLog.EstimatorRecovered(_logger, recovered, through);
        }

        return recovered;
    }

    private void SaveEstimator()
    {
        var state = (Json: Estimator.ExportState(), At: _time.GetUtcNow());
        Write(static (store, s) => ((IBudgetEstimatorStore)store).SaveEstimatorAsync(s.Json, s.At), state, "(subscription estimator)", BudgetLog.EstimatorSaveFailed);
    }

    /// <summary>
    /// Reserves an estimate for one call against every node <paramref name="scope"/> charges, all-or-nothing. Use this for
    /// calls that are not metered; for metered calls use the <see cref="MeterScope"/> overload so the call is not counted twice.
    /// </summary>
    /// <param name="scope">Who the call is for.</param>
    /// <param name="estimatedUsd">The estimated cost, ≥ 0 (0 admits while the node is below its cap).</param>
    /// <param name="estimatedTokens">The estimated tokens, ≥ 0.</param>
    /// <param name="reservation">The reservation when admitted: settle or release it.</param>
    /// <param name="refusal">Why not, when refused.</param>
    /// <returns>Whether the call may go ahead.</returns>
    public bool TryReserve(BudgetScope scope, decimal estimatedUsd, long estimatedTokens, [NotNullWhen(true)] out BudgetReservation? reservation, [NotNullWhen(false)] out BudgetRefusal? refusal)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedTokens);
        if (!TryReserveCore(scope, BudgetMoney.ToUnits(estimatedUsd), estimatedTokens, register: true, out reservation, out refusal))
        {
            return false;
        }

        SyncOnFleet(reservation);
        return true;
    }

    /// <summary>
    /// Reserves for the call a metering scope is about to make, and binds the reservation to it: the scope's next
    /// <c>Usage</c> settles it with the priced cost (an explicit <see cref="BudgetReservation.Settle"/> first is also fine;
    /// the call is counted once either way). Disposing the scope releases a reservation left open.
    /// </summary>
    /// <param name="scope">The metering scope (its user, agent, session and task pick the nodes).</param>
    /// <param name="estimatedUsd">The estimated cost, ≥ 0.</param>
    /// <param name="estimatedTokens">The estimated tokens, ≥ 0.</param>
    /// <param name="reservation">The reservation when admitted.</param>
    /// <param name="refusal">Why not, when refused.</param>
    /// <returns>Whether the call may go ahead.</returns>
    public bool TryReserve(MeterScope scope, decimal estimatedUsd, long estimatedTokens, [NotNullWhen(true)] out BudgetReservation? reservation, [NotNullWhen(false)] out BudgetRefusal? refusal)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedTokens);
        // A 5-hour window this opens starts when the scope's call started (its ledger timestamp), so the call counts in it.
        var opensAt = CageIds.TruncateToMilliseconds(scope.StartedAt).UtcTicks;
        if (!TryReserveCore(BudgetScope.From(scope), BudgetMoney.ToUnits(estimatedUsd), estimatedTokens, register: true, out reservation, out refusal, opensAt))
        {
            return false;
        }

        BindTo(scope, reservation); // releasing a previous reservation the scope never used
        SyncOnFleet(reservation);
        return true;
    }

    /// <summary>Reserves like <see cref="TryReserve(BudgetScope, decimal, long, out BudgetReservation?, out BudgetRefusal?)"/>, throwing when refused.</summary>
    /// <param name="scope">Who the call is for.</param>
    /// <param name="estimatedUsd">The estimated cost.</param>
    /// <param name="estimatedTokens">The estimated tokens.</param>
    /// <returns>The reservation.</returns>
    /// <exception cref="BudgetExceededException">A blocking node is at its cap (carries the refusal).</exception>
    public BudgetReservation Reserve(BudgetScope scope, decimal estimatedUsd = 0m, long estimatedTokens = 0) =>
        TryReserve(scope, estimatedUsd, estimatedTokens, out var reservation, out var refusal) ? reservation : throw new BudgetExceededException(refusal);

    /// <summary>Reserves like <see cref="TryReserve(MeterScope, decimal, long, out BudgetReservation?, out BudgetRefusal?)"/>, throwing when refused.</summary>
    /// <param name="scope">The metering scope.</param>
    /// <param name="estimatedUsd">The estimated cost.</param>
    /// <param name="estimatedTokens">The estimated tokens.</param>
    /// <returns>The reservation.</returns>
    /// <exception cref="BudgetExceededException">A blocking node is at its cap.</exception>
    public BudgetReservation Reserve(MeterScope scope, decimal estimatedUsd = 0m, long estimatedTokens = 0) =>
        TryReserve(scope, estimatedUsd, estimatedTokens, out var reservation, out var refusal) ? reservation : throw new BudgetExceededException(refusal);

    /// <summary>Whether a call would be admitted now, without holding anything.</summary>
    /// <param name="scope">Who the call is for.</param>
    /// <param name="estimatedUsd">The estimated cost.</param>
    /// <param name="estimatedTokens">The estimated tokens.</param>
    /// <returns>The refusal it would get, or <see langword="null"/>.</returns>
    /// <remarks>Nothing is held, opened or saved: a closed 5-hour window stays closed.</remarks>
    public BudgetRefusal? Check(BudgetScope scope, decimal estimatedUsd = 0m, long estimatedTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedTokens);
        var usd = BudgetMoney.ToUnits(estimatedUsd);
        var tokens = BudgetLimits.ClampTokens(estimatedTokens);
        if (_unavailable)
        {
            return Unavailable(usd);
        }

        for (var attempt = 0; ; attempt++)
        {
            var now = _time.GetUtcNow().UtcTicks;
            foreach (var template in _tree.Route(scope))
            {
                var counter = CounterFor(template, scope, now, pin: false);
                if (counter.Fits(usd, tokens) is { } metric)
                {
                    if (attempt == 0 && !_live.IsEmpty && ReclaimExpired() > 0)
                    {
                        goto retry;
                    }

                    return Refuse(counter, metric, metric == BudgetMetric.Usd ? usd : tokens);
                }
            }

            return null;
        retry:;
        }
    }

    /// <summary>
    /// Charges spend that no ledger call carries (a call that is not metered, made without a reservation): its cost and
    /// tokens count against every node of the scope in the current period, and are recorded in the
    /// <see cref="IBudgetStore"/> (<see cref="IBudgetStore.AddChargesAsync"/>) so a restarted guard counts them again.
    /// For a call the ledger holds (or will hold) use <see cref="Charge(CallRecord)"/>, so it is not counted twice.
    /// </summary>
    /// <param name="scope">Who the call was for.</param>
    /// <param name="costUsd">
    /// The cost; <see langword="null"/> (unknown: an unpriced model or missing usage) charges
    /// <see cref="BudgetOptions.FallbackUsdPerMillionTokens"/> × tokens when set, else only tokens, and is counted in
    /// <see cref="BudgetNodeStatus.UnpricedCalls"/>.
    /// </param>
    /// <param name="tokens">The tokens.</param>
    public void Charge(BudgetScope scope, decimal? costUsd, long tokens) => ChargeCore(scope, costUsd, tokens, startedTicks: null);

    /// <summary>
    /// Charges a call the ledger holds or will hold (an importer's, or a meter's when no reservation was made) to the
    /// period in which it started (its <see cref="CallRecord.Timestamp"/>), exactly as the start-up rebuild counts it:
    /// a call that started in an earlier period, or before the node's explicit reset, does not count toward the current
    /// one. Nothing is written to the <see cref="IBudgetStore"/> (the rebuild reads the call from the ledger).
    /// </summary>
    /// <param name="call">The call.</param>
    public void Charge(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        ChargeCore(BudgetScope.From(call), call.CostUsd, call.Usage.TotalTokens, call.Timestamp.UtcTicks);
    }

    /// <summary>
    /// Charges a call with no reservation: a metered one (<paramref name="startedTicks"/> = its ledger timestamp) to the
    /// period it started in, writing nothing; otherwise to the current period, recorded in the store.
    /// </summary>
    private void ChargeCore(BudgetScope scope, decimal? costUsd, long tokens, long? startedTicks)
    {
        if (costUsd < 0) throw new ArgumentOutOfRangeException(nameof(costUsd), costUsd, "the cost must be ≥ 0");
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        tokens = BudgetLimits.ClampTokens(tokens);
        var unpriced = costUsd is null;
        var usd = costUsd is { } c ? BudgetMoney.ToUnits(c) : UnknownCostUnits(tokens, 0);
        if (usd == 0 && tokens == 0 && !unpriced)
        {
            return; // nothing to charge (and no 5-hour window to open)
        }

        var now = startedTicks is null ? _time.GetUtcNow().UtcTicks : 0; // a metered call needs no clock read
        List<BudgetCharge>? rows = null;
        foreach (var template in _tree.Route(scope))
        {
            if (template.IsTemplated && now == 0) now = _time.GetUtcNow().UtcTicks; // when the instance was last used
            var node = template.Pinned(this, scope, now);
            try
            {
                if (startedTicks is { } started)
                {
                    if (Locate(node, started) is { } located)
                    {
                        Apply(located, usd, usd, tokens, tokens, unpriced, started);
                    }

                    continue;
                }

                var counter = node.At(now);
                Apply(counter, usd, usd, tokens, tokens, unpriced);
                AddRow(ref rows, counter, now, usd, tokens, unpriced);
            }
            finally
            {
                node.Unpin();
            }
        }

        Persist(rows);
    }

    /// <summary>The state of every node <paramref name="scope"/> charges, root first (SPEC 7.8).</summary>
    /// <param name="scope">The scope.</param>
    /// <returns>The status.</returns>
    public BudgetStatus GetStatus(BudgetScope scope) => Status(scope, includeUnbound: false);

    /// <summary>The state of a concrete node path (<c>org/users/alice</c>) and its ancestors, root first.</summary>
    /// <param name="path">The path; a segment fills the template variable at its position.</param>
    /// <returns>The status.</returns>
    /// <exception cref="ArgumentException">No configured node matches the path.</exception>
    public BudgetStatus GetStatus(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (template, scope) = Resolve(path);
        var now = _time.GetUtcNow();
        var target = template.Concrete(template.Key(scope));
        var chain = new List<BudgetNodeStatus>();
        foreach (var t in _tree.Route(scope))
        {
            // The node and the ancestors the routing passed through on the way to it (not the other branches it charges).
            if (t.Configured && t.Depth <= template.Depth && IsPrefix(t.Concrete(t.Key(scope)), target))
            {
                chain.Add(NodeStatus(t, scope, now));
            }
        }

        return new BudgetStatus(now, chain);
    }

    /// <summary>
    /// Resets a node explicitly: its spend this period and its warnings start over (warnings re-arm). The reset takes
    /// effect from the next millisecond (the ledger's precision): metered calls that started before it, and spend
    /// charged before it, do not count, now or after a restart.
    /// </summary>
    /// <param name="path">The concrete node path.</param>
    /// <exception cref="ArgumentException">No configured node matches the path.</exception>
    public void Reset(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (template, scope) = Resolve(path);
        var now = _time.GetUtcNow();
        var node = template.Pinned(this, scope, now.UtcTicks);
        try
        {
            var effective = TruncateToMs(now.UtcTicks) + TimeSpan.TicksPerMillisecond;
            if (template.Period != BudgetPeriod.FiveHours)
            {
                node.At(now.UtcTicks); // a calendar rollover nobody has triggered yet: reset the current period
            }

            var counter = node.Replace(current => new PeriodCounter(node, current.StartTicks, current.EndTicks, effective));
            Save(counter, now);
        }
        finally
        {
            node.Unpin();
        }
    }

    /// <summary>Reclaims every reservation whose lease ran out (a timer also does this); returns how many.</summary>
    /// <returns>The number reclaimed.</returns>
    public int ReclaimExpired()
    {
        var now = _time.GetUtcNow().UtcTicks;
        var reclaimed = 0;
        foreach (var reservation in _live.Open())
        {
            if (reservation.ExpiresTicks <= now && reservation.Expire())
            {
                reclaimed++;
            }
        }

        if (reclaimed > 0)
        {
            BudgetLog.Reclaimed(_logger, reclaimed);
        }

        return reclaimed;
    }

    /// <summary>The timer: reclaims expired leases, then evicts idle instances.</summary>
    private void Sweep()
    {
        ReclaimExpired();
        EvictIdle();
    }

    /// <summary>
    /// Evicts the instances of templated nodes that no reservation holds and no call used for
    /// <see cref="BudgetOptions.EvictIdleAfter"/> (the lease timer does this); returns how many.
    /// </summary>
    internal int EvictIdle()
    {
        if (_idleTicks == long.MaxValue || Volatile.Read(ref _initializing) > 0 || !_sweepGate.TryEnter())
        {
            return 0;
        }

        try
        {
            var now = _time.GetUtcNow().UtcTicks;
            var evicted = 0;
            foreach (var template in _tree.Templates)
            {
                evicted += template.Evict(now - _idleTicks, now);
            }

            Evictions += evicted;
            return evicted;
        }
        finally
        {
            _sweepGate.Exit();
        }
    }

    /// <summary>The instances of templated nodes in memory, and the evicted ones whose spend is kept.</summary>
    internal (int Live, int Evicted) InstanceCounts() =>
        (_tree.Templates.Where(t => t.IsTemplated).Sum(t => t.InstanceCount), _tree.Templates.Sum(t => t.EvictedCount));

    internal long UtcTicks => _time.GetUtcNow().UtcTicks;

    /// <summary>How many instances were evicted so far (written under the sweep lock).</summary>
    internal long Evictions { get; private set; }

    /// <summary>Stops the lease timer and saves the estimator's state once more (the tokens metered since its last reading).</summary>
    public void Dispose()
    {
        _reaper.Dispose();
        if (!WaitForSharedSettles(TimeSpan.FromSeconds(5)))
        {
            BudgetLog.SharedSettlesLeft(_logger, Volatile.Read(ref _sharedPending));
        }

        if (Estimator.Changed == _saveEstimator)
        {
            Estimator.Changed = null;
            SaveEstimator(); // metered tokens alone do not save (one write per call would cost too much): keep them for the next reading
        }

        _ownedMeter?.Dispose();
    }

    internal BudgetStatus Status(BudgetScope scope, bool includeUnbound)
    {
        var now = _time.GetUtcNow();
        var routed = _tree.Route(scope);
        var nodes = new List<BudgetNodeStatus>();
        foreach (var template in includeUnbound ? _tree.Templates : routed)
        {
            if (!template.Configured) continue;
            nodes.Add(!template.IsTemplated || Array.IndexOf(routed, template) >= 0 ? NodeStatus(template, scope, now) : Unbound(template));
        }

        return new BudgetStatus(now, nodes);
    }

    /// <summary>
    /// Every configured node as a tree for <c>cage budget</c>: each literal node, each templated node (unbound, with
    /// its caps), and each instance in memory (those the rebuild found spend for, and those <paramref name="scope"/>
    /// binds), ordered so a node comes right before its descendants.
    /// </summary>
    internal BudgetStatus Tree(BudgetScope scope)
    {
        var now = _time.GetUtcNow();
        var routed = _tree.Route(scope);
        foreach (var template in routed)
        {
            if (template.Configured) template.Instance(this, scope);
        }

        foreach (var template in _tree.Templates)
        {
            if (template.Configured) template.CreateKept(this); // instances whose spend the rebuild (or an eviction) kept outside memory
        }

        var nodes = new List<BudgetNodeStatus>();
        foreach (var template in _tree.Templates)
        {
            if (!template.Configured) continue;
            if (!template.IsTemplated)
            {
                nodes.Add(NodeStatus(template, default, now));
                continue;
            }

            nodes.Add(Unbound(template));
            foreach (var node in template.Instances.ToList())
            {
                var bound = BudgetLabels.Scope(template.BoundLabels(node.Path));
                nodes.Add(NodeStatus(template, bound, now));
            }
        }

        nodes.Sort(static (a, b) => ComparePaths(a.Path, b.Path));
        return new BudgetStatus(now, nodes);
    }

    /// <summary>Segment by segment; a template segment (<c>{team}</c>) before literals, so a templated node's row leads its instances' siblings.</summary>
    private static int ComparePaths(string a, string b)
    {
        var (x, y) = (a.Split('/'), b.Split('/'));
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            var (tx, ty) = (x[i].StartsWith('{'), y[i].StartsWith('{'));
            if (tx != ty) return tx ? -1 : 1;
            var c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0) return c;
        }

        return x.Length.CompareTo(y.Length);
    }

    /// <summary>The meter's hook: a metered attempt settles its scope's reservation, or is charged directly.</summary>
    internal void OnMetered(MeterScope scope, CallRecord record)
    {
        try
        {
            var tokens = record.Usage.TotalTokens;
            Estimator.RecordTokens(record, tokens);
            if (scope.BudgetSkipNext)
            {
                scope.BudgetSkipNext = false;
                scope.BudgetDeferred = null; // the ledger call now carries what the explicit settle charged
                return;
            }

            var started = record.Timestamp.UtcTicks;
            if (scope.BudgetReservation is { } reservation)
            {
                scope.BudgetReservation = null;
                if (reservation.SettleFromMeter(record.CostUsd, tokens, started))
                {
                    return;
                }
            }

            ChargeCore(BudgetScope.From(record), record.CostUsd, tokens, started);
        }
#pragma warning disable CA1031 // Fail-open: budget accounting never breaks the caller's metered call.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            BudgetLog.MeteredChargeFailed(_logger, ex);
        }
    }

    internal bool TryReserveCore(BudgetScope scope, long usd, long tokens, bool register, [NotNullWhen(true)] out BudgetReservation? reservation, [NotNullWhen(false)] out BudgetRefusal? refusal, long opensAt = long.MaxValue)
    {
        if (_unavailable)
        {
            reservation = null;
            refusal = Unavailable(usd);
            return false;
        }

        tokens = BudgetLimits.ClampTokens(tokens);
        for (var attempt = 0; ; attempt++)
        {
            var now = _time.GetUtcNow().UtcTicks;
            var templates = _tree.Route(scope);
            var counters = new PeriodCounter[templates.Length];
            var held = 0;
            BudgetMetric? failed = null;
            for (; held < templates.Length; held++)
            {
                var counter = CounterFor(templates[held], scope, now, pin: true); // each instance stays pinned until the reservation completes
                counters[held] = counter;
                if ((failed = counter.TryHold(usd, tokens)) is not null)
                {
                    break;
                }
            }

            if (failed is null && (usd > 0 || tokens > 0))
            {
                // Every node admits it and an amount is held: now open the closed 5-hour windows it holds against.
                for (var i = 0; i < counters.Length; i++)
                {
                    if (!counters[i].Provisional) continue;
                    var real = counters[i].Node.Open(now, opensAt);
                    if ((failed = real.TryHold(usd, tokens)) is not null)
                    {
                        // Another caller opened and filled the window meanwhile: roll back everything else.
                        for (var j = 0; j < counters.Length; j++)
                        {
                            if (j != i) counters[j].Unhold(usd, tokens);
                        }

                        counters[i] = real;
                        held = i;
                        break;
                    }

                    counters[i] = real;
                }

                if (failed is not null)
                {
                    reservation = null;
                    refusal = Refuse(counters[held], failed.Value, failed == BudgetMetric.Usd ? usd : tokens);
                    Unpin(counters, counters.Length);
                    if (register)
                    {
                        _refusals.Add(1, new KeyValuePair<string, object?>("cage.budget.node", counters[held].Node.Template.Path));
                        BudgetLog.Refused(_logger, refusal.Message);
                    }

                    return false;
                }
            }

            if (failed is { } metric)
            {
                for (var i = 0; i < held; i++)
                {
                    counters[i].Unhold(usd, tokens);
                }

                // Expired leases may be what fills the node: reclaim them once and try again.
                if (attempt == 0 && !_live.IsEmpty && ReclaimExpired() > 0)
                {
                    Unpin(counters, held + 1);
                    continue;
                }

                reservation = null;
                refusal = Refuse(counters[held], metric, metric == BudgetMetric.Usd ? usd : tokens);
                Unpin(counters, held + 1);
                if (register)
                {
                    _refusals.Add(1, new KeyValuePair<string, object?>("cage.budget.node", counters[held].Node.Template.Path));
                    BudgetLog.Refused(_logger, refusal.Message);
                }

                return false;
            }

            reservation = new BudgetReservation(this, Interlocked.Increment(ref _nextId), counters, usd, tokens, SaturatingAdd(now, _leaseTicks));
            if (register)
            {
                _live.Add(reservation);
            }

            refusal = null;
            return true;
        }
    }

    internal void Unhold(BudgetReservation reservation)
    {
        _live.Remove(reservation);
        foreach (var counter in reservation.Counters)
        {
            counter.Unhold(reservation.UsdUnits, reservation.EstimatedTokens);
        }

        Unpin(reservation.Counters, reservation.Counters.Length);
    }

    private static void Unpin(PeriodCounter?[] counters, int count)
    {
        for (var i = 0; i < count; i++)
        {
            counters[i]?.Node.Unpin();
        }
    }

    /// <summary>
    /// Pins the instances of an expired reservation again for its late settle. One evicted meanwhile is looked up again
    /// (rebuilt with its spend) and charged in its place when it is still in the same period; otherwise (an ended
    /// period that was dropped from memory) that node is skipped (<see langword="null"/>).
    /// </summary>
    private PeriodCounter?[] Repin(PeriodCounter[] counters)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var pinned = new PeriodCounter?[counters.Length];
        for (var i = 0; i < counters.Length; i++)
        {
            var counter = counters[i];
            var node = counter.Node;
            if (node.TryPin(now))
            {
                pinned[i] = counter;
                continue;
            }

            var fresh = node.Template.Instance(this, node.Key, pin: true, now);
            var current = fresh.Current;
            if (counter.Provisional)
            {
                pinned[i] = new PeriodCounter(fresh, counter.StartTicks, counter.EndTicks, 0) { Provisional = true };
            }
            else if (current.StartTicks == counter.StartTicks && current.ResetAtTicks == counter.ResetAtTicks)
            {
                pinned[i] = current;
            }
            else
            {
                fresh.Unpin();
            }
        }

        return pinned;
    }

    /// <summary>
    /// Completes a reservation. A metered call (<paramref name="meteredAt"/> = its ledger timestamp) is charged to the
    /// period and reset it started in, as the rebuild counts it; other spend goes to the reservation's period and is
    /// recorded in the store (deferred to <paramref name="deferTo"/>'s disposal when that scope's next metered call,
    /// which would carry it, has not been reported yet).
    /// </summary>
    internal void Complete(BudgetReservation reservation, long holdUsd, long holdTokens, long usd, long tokens, bool unpriced, long? meteredAt = null, MeterScope? deferTo = null, bool expired = false)
    {
        _live.Remove(reservation);
        tokens = BudgetLimits.ClampTokens(tokens);
        var now = 0L;
        List<BudgetCharge>? rows = null;
        // An open reservation holds its instances pinned; an expired one gave them back, so a late settle pins them again.
        PeriodCounter?[] counters = expired ? Repin(reservation.Counters) : reservation.Counters;
        try
        {
            foreach (var counter in counters)
            {
                if (counter is null) continue; // evicted, and its period has ended
                PeriodCounter? target;
                if (counter.Provisional)
                {
                    // Reserved with nothing held while the 5-hour window was closed: the first spend opens it now.
                    if (usd == 0 && tokens == 0 && !unpriced) continue;
                    if (now == 0) now = _time.GetUtcNow().UtcTicks;
                    target = meteredAt is { } started ? Locate(counter.Node, started) : counter.Node.At(now);
                    if (target is null) continue;
                    Apply(target, usd, usd, tokens, tokens, unpriced, meteredAt ?? 0, FleetWarns(reservation, counter));
                }
                else
                {
                    target = counter;
                    if (meteredAt is { } started)
                    {
                        target = Locate(counter.Node, started);
                        if (target is null && counter.Covers(started))
                        {
                            target = counter; // a period that ended (or a reset) since: it settles where it started
                        }
                    }

                    if (ReferenceEquals(target, counter))
                    {
                        Apply(counter, usd - holdUsd, usd, tokens - holdTokens, tokens, unpriced, meteredAt ?? 0, FleetWarns(reservation, counter));
                    }
                    else
                    {
                        // The call started in another period than the reservation's (or after a reset): charge it there.
                        counter.Unhold(holdUsd, holdTokens);
                        if (target is null) continue;
                        Apply(target, usd, usd, tokens, tokens, unpriced, meteredAt ?? 0, FleetWarns(reservation, counter));
                    }
                }

                if (meteredAt is null)
                {
                    if (now == 0) now = _time.GetUtcNow().UtcTicks;
                    AddRow(ref rows, target, now, usd, tokens, unpriced);
                }
            }
        }
        finally
        {
            Unpin(counters, counters.Length);
        }

        SettleShared(reservation, usd);
        if (rows is not null && deferTo is not null)
        {
            deferTo.BudgetDeferred = (this, rows);
            return;
        }

        Persist(rows);
    }

    /// <summary>
    /// The counter a metered call that started at <paramref name="startedTicks"/> counts in (the rule the start-up rebuild
    /// applies to the ledger's calls): the node's period containing it, rolling over (or opening a 5-hour window at that
    /// instant) when needed; <see langword="null"/> when it started in an earlier period or before the node's reset.
    /// </summary>
    private static PeriodCounter? Locate(BudgetNode node, long startedTicks)
    {
        var counter = node.Current;
        if (!counter.IsOpenAt(startedTicks))
        {
            counter = node.At(startedTicks);
        }

        return startedTicks >= counter.StartTicks && startedTicks >= counter.ResetAtTicks ? counter : null;
    }

    /// <summary>
    /// Adds the row recording spend charged to <paramref name="counter"/> without a ledger call (configured nodes only).
    /// The rows of one charge share its id, time and amount, which are made once, for the first row.
    /// </summary>
    private static void AddRow(ref List<BudgetCharge>? rows, PeriodCounter counter, long nowTicks, long usd, long tokens, bool unpriced)
    {
        if (!counter.Node.Template.Configured || (usd == 0 && tokens == 0 && !unpriced))
        {
            return;
        }

        var periodStart = counter.Node.Template.Period == BudgetPeriod.Lifetime ? DateTimeOffset.MinValue : counter.Start;
        DateTimeOffset? resetAt = counter.ResetAtTicks > 0 ? new DateTimeOffset(counter.ResetAtTicks, TimeSpan.Zero) : null;
        if (rows is { Count: > 0 })
        {
            var first = rows[0];
            rows.Add(new BudgetCharge(first.Id, counter.Node.Path, periodStart, resetAt, first.At, first.Usd, tokens, unpriced));
            return;
        }

        var at = new DateTimeOffset(TruncateToMs(nowTicks), TimeSpan.Zero);
        (rows ??= []).Add(new BudgetCharge(CageIds.New('b', at), counter.Node.Path, periodStart, resetAt, at, BudgetMoney.FromUnits(usd), tokens, unpriced));
    }

    /// <summary>Records charges in the store (fail-open: a fault is logged, the call goes on).</summary>
    internal void Persist(List<BudgetCharge>? rows)
    {
        if (rows is null || ReadOnly)
        {
            return;
        }

        Write(static (store, rows) => store.AddChargesAsync(rows), rows, rows[0].Node, BudgetLog.ChargeSaveFailed);
    }

    private static long TruncateToMs(long ticks) => ticks - (ticks % TimeSpan.TicksPerMillisecond);

    /// <summary>
    /// What a call of unknown cost is charged, in units: <see cref="BudgetOptions.FallbackUsdPerMillionTokens"/> × its
    /// tokens when set and it has tokens, else <paramref name="otherwise"/> (a reservation's estimate, or 0).
    /// </summary>
    internal long UnknownCostUnits(long tokens, long otherwise) =>
        _options.FallbackUsdPerMillionTokens is { } rate && tokens > 0 ? BudgetMoney.ToUnits(rate * tokens / 1_000_000m) : otherwise;

    private static BudgetRefusal Unavailable(long usd, string? why = null) => new("(budget state unavailable)", "usd", 0, 0, 0, BudgetMoney.FromUnits(usd), BudgetPeriod.Lifetime, null,
        why ?? "the budget guard could not load its state and is configured to fail closed");

    /// <summary>The counter a call is admitted against: the current period's, or a provisional (unopened) 5-hour window.</summary>
    private PeriodCounter CounterFor(NodeTemplate template, in BudgetScope scope, long now, bool pin)
    {
        var node = pin ? template.Pinned(this, scope, now) : template.Instance(this, scope);
        var counter = node.Current;
        if (counter.IsOpenAt(now))
        {
            counter.Rolling?.Expire(now);
            return counter;
        }

        return template.Period == BudgetPeriod.FiveHours
            ? new PeriodCounter(node, now, SaturatingAdd(now, BudgetPeriods.FiveHours.Ticks), 0) { Provisional = true }
            : node.At(now); // a calendar rollover: nothing is saved
    }

    /// <summary>
    /// The counter a new node instance starts with: the current period, with its saved warnings and reset, and the spend
    /// an eviction of the same instance left when that was in this period.
    /// </summary>
    internal PeriodCounter InitialCounter(BudgetNode node, EvictedSpend? evicted)
    {
        var counter = InitialCounter(node);
        if (evicted is not { } spend || spend.EndTicks <= UtcTicks || counter.ResetAtTicks != 0 ||
            (spend.StartTicks != counter.StartTicks && node.Template.Period != BudgetPeriod.FiveHours))
        {
            return counter; // nothing kept for this period, or a reset in it (whose spend is replayed from the reset)
        }

        if (spend.StartTicks == counter.StartTicks)
        {
            counter.Restore(spend with { Warned = spend.Warned | counter.Warned }); // the counter carries the saved warnings and state
            MarkCrossed(counter);
            return counter;
        }

        var restored = new PeriodCounter(node, spend.StartTicks, spend.EndTicks, 0); // a 5-hour window an eviction kept
        restored.Restore(spend);
        return restored;
    }

    private PeriodCounter InitialCounter(BudgetNode node)
    {
        var template = node.Template;
        var now = _time.GetUtcNow();
        switch (template.Period)
        {
            case BudgetPeriod.Lifetime or BudgetPeriod.FiveHoursRolling:
                return Counter(node, LifetimeStart, Never, Saved(node.Path, DateTimeOffset.MinValue));
            case BudgetPeriod.FiveHours:
                BudgetNodeState? open = null;
                lock (_saved)
                {
                    if (_saved.TryGetValue(node.Path, out var list))
                    {
                        open = list.Where(s => s.PeriodStart + BudgetPeriods.FiveHours > now && s.PeriodStart <= now).MaxBy(s => s.PeriodStart);
                    }
                }

                return open is null
                    ? new PeriodCounter(node, 0, 0, 0) // no window open: the next spend opens one
                    : Counter(node, open.PeriodStart.UtcTicks, (open.PeriodStart + BudgetPeriods.FiveHours).UtcTicks, open);
            default:
                var (start, end) = BudgetPeriods.Calendar(template.Period, now, _tree.Zone);
                return Counter(node, start.UtcTicks, end.UtcTicks, Saved(node.Path, start));
        }
    }

    /// <summary>The counter after a rollover (or the opening of a 5h window) at <paramref name="nowTicks"/>.</summary>
    internal PeriodCounter NextCounter(BudgetNode node, long nowTicks)
    {
        if (node.Template.Period == BudgetPeriod.FiveHours)
        {
            nowTicks = TruncateToMs(nowTicks); // the store keeps milliseconds: the window is the same after a restart
            var counter = new PeriodCounter(node, nowTicks, SaturatingAdd(nowTicks, BudgetPeriods.FiveHours.Ticks), 0);
            Save(counter, new DateTimeOffset(nowTicks, TimeSpan.Zero));
            return counter;
        }

        var (start, end) = BudgetPeriods.Calendar(node.Template.Period, new DateTimeOffset(nowTicks, TimeSpan.Zero), _tree.Zone);
        return Counter(node, start.UtcTicks, end.UtcTicks, Saved(node.Path, start));
    }

    /// <summary>Marks the warn thresholds the counter's spend is already past as fired (they were crossed before a rebuild).</summary>
    private static void MarkCrossed(PeriodCounter counter)
    {
        var template = counter.Node.Template;
        foreach (var threshold in template.Thresholds)
        {
            var spent = threshold.Metric == BudgetMetric.Usd ? counter.Spent : counter.SpentTokens;
            if (template.ThresholdValue(threshold) is { } value && spent >= value && value > 0)
            {
                counter.Warned |= threshold.Bit;
            }
        }
    }

    private PeriodCounter Counter(BudgetNode node, long start, long end, BudgetNodeState? saved)
    {
        var counter = new PeriodCounter(node, start, end, saved?.ResetAt?.UtcTicks ?? 0);
        if (saved is not null)
        {
            foreach (var threshold in node.Template.Thresholds)
            {
                if (saved.WarningsFired.Contains(threshold.Key, StringComparer.Ordinal))
                {
                    counter.Warned |= threshold.Bit;
                }
            }
        }

        return counter;
    }

    private BudgetNodeState? Saved(string path, DateTimeOffset periodStart)
    {
        lock (_saved)
        {
            return _saved.TryGetValue(path, out var list) ? list.LastOrDefault(s => s.PeriodStart == periodStart) : null;
        }
    }

    // fleetWarns: the fleet fires this node's dollar thresholds up to its cap (the settle of a shared hold), not this process.
    private void Apply(PeriodCounter counter, long committedUsd, long spentUsd, long committedTokens, long spentTokens, bool unpriced = false, long atTicks = 0, bool fleetWarns = false)
    {
        if (counter.Rolling is { } rolling)
        {
            // A rolling sum records when the spend happened (a metered call: when it started), so it can leave the sum later.
            var now = _time.GetUtcNow().UtcTicks;
            if (!rolling.Add(atTicks == 0 ? now : atTicks, now, spentUsd, spentTokens))
            {
                (committedUsd, committedTokens, spentUsd, spentTokens) = (committedUsd - spentUsd, committedTokens - spentTokens, 0, 0); // older than 5 hours
            }
        }

        if (unpriced)
        {
            Interlocked.Increment(ref counter.UnpricedCalls);
            if (counter.Node.Template.Configured && Interlocked.Exchange(ref counter.UnpricedLogged, 1) == 0)
            {
                BudgetLog.UnknownCost(_logger, counter.Node.Path, _options.FallbackUsdPerMillionTokens is { } rate
                    ? $"charged at the fallback {BudgetMoney.Format(rate)} per million tokens"
                    : "its dollar spend is now a lower bound (set Cage:Budgets:FallbackUsdPerMillionTokens to charge a fallback price)");
            }
        }

        Interlocked.Add(ref counter.Committed, committedUsd);
        Interlocked.Add(ref counter.CommittedTokens, committedTokens);
        var usd = Interlocked.Add(ref counter.Spent, spentUsd);
        var tokens = Interlocked.Add(ref counter.SpentTokens, spentTokens);
        var thresholds = counter.Node.Template.Thresholds;
        if (thresholds.Length == 0)
        {
            return;
        }

        var values = counter.Node.Template.ThresholdValues();
        for (var i = 0; i < thresholds.Length; i++)
        {
            var threshold = thresholds[i];
            var (after, added) = threshold.Metric == BudgetMetric.Usd ? (usd, spentUsd) : (tokens, spentTokens);
            var value = values[i];
            if (added <= 0 || value < 0 || fleetWarns && IsFleetThreshold(threshold, value, counter.Node.Template.UsdCap ?? 0, out _))
            {
                continue;
            }

            // The first charge at or past the threshold fires it, whether the spend crossed it or the cap moved under the spend.
            if (after >= value && (Volatile.Read(ref counter.Warned) & threshold.Bit) == 0 && (Interlocked.Or(ref counter.Warned, threshold.Bit) & threshold.Bit) == 0)
            {
                Fire(counter, threshold, value, after);
            }
        }
    }

    private void Fire(PeriodCounter counter, BudgetThreshold threshold, long value, long after, bool fleet = false)
    {
        var template = counter.Node.Template;
        var isUsd = threshold.Metric == BudgetMetric.Usd;
        var cap = template.Cap(threshold.Metric);
        decimal Display(long v) => isUsd ? BudgetMoney.FromUnits(v) : v;
        var what = threshold.PctOfCap is { } pct
            ? $"{BudgetTree.Format(pct)}% of its {BudgetTree.Amount(threshold.Metric, cap ?? 0)} cap"
            : BudgetTree.Amount(threshold.Metric, value);
        var resets = ResetsText(counter, "no reset");
        var message = $"budget '{counter.Node.Path}' crossed {what}{(fleet ? " across the fleet" : "")}: spent {BudgetTree.Amount(threshold.Metric, after)}" +
            (cap is { } c && threshold.PctOfCap is null ? $" of {BudgetTree.Amount(threshold.Metric, c)}" : "") +
            $" ({BudgetPeriods.Name(template.Period)} period, {resets})";
        var args = new BudgetWarningEventArgs(counter.Node.Path, threshold.Key, isUsd ? "usd" : "tokens", Display(value), Display(after),
            cap is { } capValue ? Display(capValue) : null, template.Period, ResetsAt(counter), message);
        try
        {
            BudgetLog.Warning(_logger, message);
            _warnings.Add(1, new KeyValuePair<string, object?>("cage.budget.node", template.Path), new KeyValuePair<string, object?>("cage.budget.threshold", threshold.Key));
            Warning?.Invoke(this, args);
        }
#pragma warning disable CA1031 // A throwing handler or logger must not break the call that crossed the threshold.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Save(counter, _time.GetUtcNow());
    }

    private void Save(PeriodCounter counter, DateTimeOffset now)
    {
        if (ReadOnly)
        {
            return;
        }

        var template = counter.Node.Template;
        var warned = Volatile.Read(ref counter.Warned);
        var state = new BudgetNodeState(
            counter.Node.Path,
            template.Period == BudgetPeriod.Lifetime ? DateTimeOffset.MinValue : counter.Start,
            counter.ResetAtTicks > 0 ? new DateTimeOffset(counter.ResetAtTicks, TimeSpan.Zero) : null,
            [.. template.Thresholds.Where(t => (warned & t.Bit) != 0).Select(t => t.Key)],
            now);
        lock (_saved)
        {
            if (!_saved.TryGetValue(state.Node, out var list))
            {
                _saved[state.Node] = list = [];
            }

            list.RemoveAll(s => s.PeriodStart == state.PeriodStart);
            list.Add(state);
        }

        Write(static (store, state) => store.SaveAsync(state), state, state.Node, BudgetLog.SaveFailed);
    }

    /// <summary>Writes to the store without waiting (fail-open: a fault, now or later, is logged; the call goes on).</summary>
    private void Write<T>(Func<IBudgetStore, T, ValueTask> write, T value, string node, Action<ILogger, Exception, string> failed)
    {
        try
        {
            var pending = write(_store, value);
            if (!pending.IsCompletedSuccessfully)
            {
                _ = Observe(pending, node, failed);
            }
        }
#pragma warning disable CA1031 // Fail-open: a store fault is logged; the call goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed(_logger, ex, node);
        }
    }

    private async Task Observe(ValueTask pending, string node, Action<ILogger, Exception, string> failed)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Fail-open, as above.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed(_logger, ex, node);
        }
    }

    private async ValueTask<long> ReplayAsync(ILedgerReader? ledger, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var nowTicks = now.UtcTicks;
        DateTimeOffset? since = now;
        foreach (var template in _tree.Templates)
        {
            var start = template.Period switch
            {
                BudgetPeriod.Lifetime => (DateTimeOffset?)null,
                BudgetPeriod.FiveHours or BudgetPeriod.FiveHoursRolling => now - BudgetPeriods.FiveHours - TimeSpan.FromMinutes(1),
                _ => BudgetPeriods.Calendar(template.Period, now, _tree.Zone).Start,
            };
            since = start is null || since is null ? null : start < since ? start : since;
        }

        // With a ledger that keeps this tree's rollup, the calendar and lifetime nodes start from one row each; only the
        // 5-hour nodes, and nodes reset during their period, are rebuilt from the calls (of the last 5 hours, or since
        // the earliest reset).
        var rolled = ledger is IBudgetRollupStore rollups && ReadRollup(rollups, now) is { } since2 ? since2 : (DateTimeOffset?)null;
        var useRollup = rolled is not null;
        var replayFrom = useRollup ? (rolled == DateTimeOffset.MaxValue ? now : rolled) : since;

        // The nodes with a saved reset: only they, of the rolled-up nodes, are rebuilt from the calls.
        HashSet<string> resetPaths;
        lock (_saved)
        {
            resetPaths = [.. _saved.Where(p => p.Value.Any(s => s.ResetAt is not null)).Select(p => p.Key)];
        }

        long calls = 0;
        var replayed = ledger is null ? AsyncEnumerable.Empty<CallRecord>()
            : useRollup && ledger is IBudgetRollupStore lean ? lean.ReadBudgetCalls(replayFrom!.Value.ToUnixTimeMilliseconds()).ToAsyncEnumerable()
            : ledger.ReadCallsAsync(new TimeWindow(replayFrom, null), cancellationToken);
        await foreach (var call in replayed.ConfigureAwait(false))
        {
            var ts = call.Timestamp.UtcTicks;
            if (ts > nowTicks)
            {
                continue; // charged live
            }

            var scope = BudgetScope.From(call);
            var tokens = BudgetLimits.ClampTokens(call.Usage.TotalTokens);
            var usd = call.CostUsd is { } cost ? BudgetMoney.ToUnits(cost) : UnknownCostUnits(tokens, 0);
            var unpriced = call.CostUsd is null;
            foreach (var template in _tree.Route(scope))
            {
                if (useRollup && (!template.Configured || (BudgetRollup.Rolls(template) && (resetPaths.Count == 0 || !resetPaths.Contains(template.Concrete(template.Key(scope)))))))
                {
                    continue; // its rollup row counted it (or an implied ancestor, which nothing reads): no instance needed
                }

                var node = template.Instance(this, scope);
                var counter = node.Current;
                if (useRollup && BudgetRollup.Rolls(template) && counter.ResetAtTicks == 0)
                {
                    continue; // a reset of an earlier period: the rollup row counted it
                }

                if (template.Period == BudgetPeriod.FiveHours && !counter.IsOpenAt(nowTicks))
                {
                    if (ts < nowTicks - BudgetPeriods.FiveHours.Ticks || InSavedWindow(node.Path, ts))
                    {
                        continue; // it counted in a window that has closed
                    }

                    // The first call of the last five hours opened the window.
                    counter = node.Replace(_ => new PeriodCounter(node, ts, ts + BudgetPeriods.FiveHours.Ticks, 0));
                }

                if (ts < counter.StartTicks || ts < counter.ResetAtTicks || !counter.IsOpenAt(nowTicks) || counter.Rolling?.Add(ts, nowTicks, usd, tokens) == false)
                {
                    continue;
                }

                counter.AddRebuilt(usd, tokens, unpriced);
            }

            calls++;
        }

        // Spend charged without a ledger call, recorded with the period and reset it went to.
        foreach (var charge in await _store.LoadChargesAsync(since, cancellationToken).ConfigureAwait(false))
        {
            if (TryResolve(charge.Node) is not { } resolved)
            {
                continue; // a node no longer configured
            }

            var node = resolved.Template.Instance(this, resolved.Scope);
            var counter = node.Current;
            if (!string.Equals(node.Path, charge.Node, StringComparison.Ordinal) || !counter.IsOpenAt(nowTicks) ||
                charge.PeriodStart.UtcTicks != counter.StartTicks || (charge.ResetAt?.UtcTicks ?? 0) != counter.ResetAtTicks)
            {
                continue; // an earlier period, or spend an explicit reset cleared
            }

            var (chargeUsd, chargeTokens) = (charge.Usd > 0 ? BudgetMoney.ToUnits(charge.Usd) : 0, BudgetLimits.ClampTokens(Math.Max(0, charge.Tokens)));
            if (counter.Rolling?.Add(charge.At.UtcTicks, nowTicks, chargeUsd, chargeTokens) == false)
            {
                continue; // charged more than 5 hours ago: out of the rolling sum
            }

            counter.AddRebuilt(chargeUsd, chargeTokens, charge.Unpriced);
        }

        // Thresholds the rebuilt spend is already past were crossed before: they do not fire again (an instance created
        // later from the spend kept for it is marked the same way, in InitialCounter).
        foreach (var template in _tree.Templates)
        {
            foreach (var node in template.Instances)
            {
                var counter = node.Current;
                MarkCrossed(counter);

                if (counter.Rolling is not null) counter.RearmBelowSpend(); // a saved warning the rolling sum has fallen back below

            }
        }

        return calls;
    }

    /// <summary>
    /// Adds the rollup rows of the current periods to the rolled-up nodes' counters (a node reset during its period is
    /// left to the replay). Returns where the replay of calls must start for the rest — the 5-hour nodes and the reset
    /// ones — (<see cref="DateTimeOffset.MaxValue"/> when nothing is left), or <see langword="null"/> when the ledger
    /// cannot answer for this tree and every node is replayed.
    /// </summary>
    private DateTimeOffset? ReadRollup(IBudgetRollupStore store, DateTimeOffset now)
    {
        if (BudgetRollup.Of(_tree, _options) is not { } rollup)
        {
            return null;
        }

        var rows = store.ReadBudgetRollup(rollup, rollup.CoverageStart(now), rollup.ReadStart(now), now.ToUnixTimeMilliseconds(), register: true);
        if (rows is null)
        {
            return null;
        }

        // The rows name nodes by path; a bound value with a '/' in it makes a path that does not parse back to its node,
        // and then the calls are replayed instead (before anything was added).
        var nowTicks = now.UtcTicks;
        var resolved = new List<(NodeTemplate Template, BudgetScope Scope, InstanceKey Key, RollupRow Row)>(rows.Count);
        foreach (var row in rows)
        {
            if (TryResolve(row.Node) is not { } match || !BudgetRollup.Rolls(match.Template))
            {
                return null;
            }

            var key = match.Template.Key(match.Scope);
            if (!string.Equals(match.Template.Concrete(key), row.Node, StringComparison.Ordinal))
            {
                return null;
            }

            resolved.Add((match.Template, match.Scope, key, row));
        }

        var periods = new Dictionary<BudgetPeriod, (long Start, long End)>();
        foreach (var (template, scope, key, row) in resolved)
        {
            // Only a row of the node's current period counts (a lifetime node has one period).
            if (!periods.TryGetValue(template.Period, out var current))
            {
                var calendar = template.Period == BudgetPeriod.Lifetime ? default : BudgetPeriods.Calendar(template.Period, now, _tree.Zone);
                periods[template.Period] = current = template.Period == BudgetPeriod.Lifetime ? (LifetimeStart, Never) : (calendar.Start.UtcTicks, calendar.End.UtcTicks);
            }

            // A node with calls since the earliest current calendar period start (or a lifetime node with calls) is in
            // the tree; its spend counts when the row is of its current period. A templated instance is not created
            // until a call needs it (or `cage budget` lists it): its spend waits beside the template, as an evicted
            // instance's does (a node reset in this period then starts from its reset and is replayed).
            var isCurrent = DateTimeOffset.FromUnixTimeMilliseconds(row.PeriodStartMs).UtcTicks == current.Start;
            if (template.IsTemplated && template.KeepRebuilt(key, isCurrent
                ? new EvictedSpend(current.Start, current.End, row.Usd, row.Tokens, (int)Math.Min(row.Unpriced, int.MaxValue), 0)
                : new EvictedSpend(current.Start, current.End, 0, 0, 0, 0), replace: isCurrent))
            {
                continue;
            }

            var counter = template.Instance(this, scope).Current;
            if (!isCurrent || !counter.IsOpenAt(nowTicks) || counter.ResetAtTicks != 0 || counter.StartTicks != current.Start)
            {
                continue; // an earlier period, or a node reset in this one (replayed from its reset)
            }

            counter.AddRebuilt(row.Usd, row.Tokens, row.Unpriced);
        }

        var start = DateTimeOffset.MaxValue;
        if (_tree.Templates.Any(t => t.Configured && !BudgetRollup.Rolls(t)))
        {
            start = now - BudgetPeriods.FiveHours - TimeSpan.FromMinutes(1);
        }

        lock (_saved)
        {
            var cover = DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(rollup.CoverageStart(now), DateTimeOffset.MinValue.ToUnixTimeMilliseconds()));
            foreach (var state in _saved.Values.SelectMany(l => l))
            {
                if (state.ResetAt is { } reset && reset < start && state.PeriodStart >= cover)
                {
                    start = reset;
                }
            }
        }

        return start;
    }

    /// <summary>When the counter's spend next goes down: its period's end, or for a rolling sum when its oldest spend leaves it.</summary>
    private static DateTimeOffset? ResetsAt(PeriodCounter counter) => counter.Rolling is { } rolling ? rolling.NextExpiry : counter.End;

    private static string ResetsText(PeriodCounter counter, string never) =>
        ResetsAt(counter) is { } at ? (counter.Rolling is null ? "resets " : "its oldest spend leaves the sum ") + at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : counter.Rolling is null ? never : "nothing spent in the last 5 hours";

    // fleet: the shared reservations' refusal; the spend and holds shown are then the fleet's, when it could read them.
    private BudgetRefusal Refuse(PeriodCounter counter, BudgetMetric metric, long requested, SharedReserveResult? fleet = null)
    {
        var template = counter.Node.Template;
        var isUsd = metric == BudgetMetric.Usd;
        var spent = isUsd ? Volatile.Read(ref counter.Spent) : Volatile.Read(ref counter.SpentTokens);
        var committed = isUsd ? Volatile.Read(ref counter.Committed) : Volatile.Read(ref counter.CommittedTokens);
        if (fleet is { RefusedSpentUsd: { } fleetSpent })
        {
            spent = BudgetMoney.ToUnits(fleetSpent);
            committed = spent + BudgetMoney.ToUnits(fleet.RefusedHeldUsd ?? 0m);
        }

        var cap = template.Cap(metric) ?? 0;
        decimal Display(long v) => isUsd ? BudgetMoney.FromUnits(v) : v;
        var resets = ResetsText(counter, "lifetime budget, no reset");
        var message = $"budget '{counter.Node.Path}' is exhausted{(fleet is null ? "" : " across the fleet")}: spent {BudgetTree.Amount(metric, spent)}" +
            (committed > spent ? $" + reserved {BudgetTree.Amount(metric, committed - spent)}" : "") +
            $" of {BudgetTree.Amount(metric, cap)}" + (requested > 0 ? $", this call needs {BudgetTree.Amount(metric, requested)}" : "") +
            $" ({BudgetPeriods.Name(template.Period)} period, {resets})";
        return new BudgetRefusal(counter.Node.Path, isUsd ? "usd" : "tokens", Display(spent), Display(Math.Max(0, committed - spent)), Display(cap), Display(requested), template.Period, ResetsAt(counter), message);
    }

    private BudgetNodeStatus NodeStatus(NodeTemplate template, BudgetScope scope, DateTimeOffset now)
    {
        var node = template.Instance(this, scope);
        var counter = node.Current;
        var open = counter.IsOpenAt(now.UtcTicks);
        if (!open && template.Period != BudgetPeriod.FiveHours)
        {
            counter = node.At(now.UtcTicks); // a calendar rollover nobody has triggered yet
            open = true;
        }

        counter.Rolling?.Expire(now.UtcTicks);
        long spent = 0, committed = 0, spentTokens = 0, committedTokens = 0;
        if (open)
        {
            spent = Volatile.Read(ref counter.Spent);
            committed = Volatile.Read(ref counter.Committed);
            spentTokens = Volatile.Read(ref counter.SpentTokens);
            committedTokens = Volatile.Read(ref counter.CommittedTokens);
        }

        var warned = open ? Volatile.Read(ref counter.Warned) : 0;
        var unpriced = open ? Volatile.Read(ref counter.UnpricedCalls) : 0;
        return new BudgetNodeStatus(
            node.Path,
            template.Path,
            bound: true,
            template.Period,
            template.OnExceed,
            counter.Rolling is not null ? now - BudgetPeriods.FiveHours : open && template.Period != BudgetPeriod.Lifetime ? counter.Start : null,
            open ? ResetsAt(counter) : null,
            new BudgetMetricStatus(BudgetMoney.FromUnits(spent), BudgetMoney.FromUnits(Math.Max(0, committed - spent)), template.UsdCap is { } u ? BudgetMoney.FromUnits(u) : null),
            new BudgetMetricStatus(spentTokens, Math.Max(0, committedTokens - spentTokens), template.TokenCap),
            [.. template.Thresholds.Where(t => (warned & t.Bit) != 0).Select(t => t.Key)],
            unpriced,
            unpriced > 0 && _options.FallbackUsdPerMillionTokens is null)
        {
            Labels = template.BoundLabels(node.Path),
        };
    }

    private BudgetNodeStatus Unbound(NodeTemplate template)
    {
        DateTimeOffset? start = null, end = null;
        if (template.Period is BudgetPeriod.Day or BudgetPeriod.Week or BudgetPeriod.Month)
        {
            (var s, var e) = BudgetPeriods.Calendar(template.Period, _time.GetUtcNow(), _tree.Zone);
            (start, end) = (s, e);
        }

        return new BudgetNodeStatus(template.Path, template.Path, bound: false, template.Period, template.OnExceed, start, end,
            new BudgetMetricStatus(0, 0, template.UsdCap is { } u ? BudgetMoney.FromUnits(u) : null),
            new BudgetMetricStatus(0, 0, template.TokenCap), []);
    }

    private (NodeTemplate Template, BudgetScope Scope) Resolve(string path) =>
        Match(BudgetPath.Normalize(path).Split('/')) ?? throw Unmatched(path);

    /// <summary>The configured node a stored concrete path names, or <see langword="null"/>.</summary>
    private (NodeTemplate Template, BudgetScope Scope)? TryResolve(string path)
    {
        try
        {
            return Match(BudgetPath.Normalize(path).Split('/'));
        }
        catch (BudgetConfigurationException)
        {
            return null;
        }
    }

    private (NodeTemplate Template, BudgetScope Scope)? Match(string[] segments)
    {
        // The most specific configured node that matches and that the path's labels route to (org/team-a over org/{team}).
        foreach (var template in _tree.Templates.Where(t => t.Configured && t.Depth == segments.Length).Order(Comparer<NodeTemplate>.Create(NodeTemplate.Specificity)))
        {
            if (template.Match(segments) is { } scope && Array.IndexOf(_tree.Route(scope), template) >= 0)
            {
                return (template, scope);
            }
        }

        return null;
    }

    private static bool IsPrefix(string ancestor, string path) =>
        path.Length == ancestor.Length ? string.Equals(path, ancestor, StringComparison.Ordinal)
        : path.Length > ancestor.Length && path[ancestor.Length] == '/' && path.StartsWith(ancestor, StringComparison.Ordinal);

    /// <summary>Whether a saved 5-hour window of <paramref name="path"/> contains <paramref name="ticks"/>.</summary>
    private bool InSavedWindow(string path, long ticks)
    {
        lock (_saved)
        {
            return _saved.TryGetValue(path, out var list) &&
                list.Exists(s => s.PeriodStart.UtcTicks <= ticks && ticks < (s.PeriodStart + BudgetPeriods.FiveHours).UtcTicks);
        }
    }

    private ArgumentException Unmatched(string path) =>
        new($"no budget node matches '{path}' (configured: {string.Join(", ", _tree.Templates.Where(t => t.Configured).Select(t => t.Path))})", nameof(path));

    private static long SaturatingAdd(long ticks, long add) => ticks > Never - add ? Never : ticks + add;
}
