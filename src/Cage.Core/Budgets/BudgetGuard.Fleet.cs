using System.Diagnostics.CodeAnalysis;

namespace CageNet.Budgets;

/// <summary>What <see cref="BudgetGuard.TryReserveAsync(MeterScope, decimal, long, CancellationToken)"/> gave: a reservation, or why not.</summary>
public sealed class BudgetAdmission
{
    internal BudgetAdmission(BudgetReservation? reservation, BudgetRefusal? refusal)
    {
        Reservation = reservation;
        Refusal = refusal;
    }

    /// <summary>The reservation when admitted: settle or release it (a metering scope's next <c>Usage</c> settles a bound one).</summary>
    public BudgetReservation? Reservation { get; }

    /// <summary>Why not, when refused.</summary>
    public BudgetRefusal? Refusal { get; }

    /// <summary>Whether the call may go ahead.</summary>
    [MemberNotNullWhen(true, nameof(Reservation))]
    [MemberNotNullWhen(false, nameof(Refusal))]
    public bool Admitted => Reservation is not null;
}

// The fleet path: a reservation the guard admitted on its own counters is also held on the shared reservations (every
// process's spend and holds), settled there when it completes, and the fleet's warnings are raised here.
public sealed partial class BudgetGuard
{
    private int _sharedPending;
    private int _syncWarned;

    /// <summary>
    /// Budget reservations shared by every process of a fleet (PostgreSQL: <c>AddPostgresLedger()</c> with
    /// <c>AddBudgets()</c> sets it). When set, <see cref="TryReserveAsync(MeterScope, decimal, long, CancellationToken)"/>
    /// admits a call only when this process's counters <em>and</em> the shared ones have the headroom, on every
    /// blocking dollar-capped node of a calendar or lifetime period; settles and releases reach the shared counters, and
    /// their warnings fire once for the whole fleet. The synchronous <c>TryReserve</c> and <c>Charge</c> stay on this
    /// process's counters. <see langword="null"/> (the default): every check is in-process.
    /// </summary>
    public ISharedBudgetReservations? Shared { get; init; }

    /// <summary>
    /// Reserves for the call a metering scope is about to make, like
    /// <see cref="TryReserve(MeterScope, decimal, long, out BudgetReservation?, out BudgetRefusal?)"/>, and, when the guard
    /// has <see cref="Shared"/> reservations, holds the estimate there too in one round trip, so N processes together never
    /// admit more than a cap. A store that cannot be reached admits the call on this process's counters alone (logged), or
    /// refuses it with <see cref="BudgetOptions.FailClosed"/>. Completes synchronously when nothing is shared.
    /// </summary>
    /// <param name="scope">The metering scope (its user, agent, session, task and labels pick the nodes).</param>
    /// <param name="estimatedUsd">The estimated cost, ≥ 0.</param>
    /// <param name="estimatedTokens">The estimated tokens, ≥ 0.</param>
    /// <param name="cancellationToken">Cancels the shared round trip (nothing stays held).</param>
    /// <returns>The reservation, bound to the scope, or the refusal.</returns>
    public ValueTask<BudgetAdmission> TryReserveAsync(MeterScope scope, decimal estimatedUsd, long estimatedTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedTokens);
        cancellationToken.ThrowIfCancellationRequested();
        var opensAt = CageIds.TruncateToMilliseconds(scope.StartedAt).UtcTicks;
        if (!TryReserveCore(BudgetScope.From(scope), BudgetMoney.ToUnits(estimatedUsd), estimatedTokens, register: true, out var reservation, out var refusal, opensAt))
        {
            return new(new BudgetAdmission(null, refusal));
        }

        return FleetNodes(reservation) is { } nodes
            ? AdmitSharedAsync(reservation, nodes, scope, cancellationToken)
            : new(new BudgetAdmission(BindTo(scope, reservation), null));
    }

    /// <summary>
    /// Reserves for a call that is not metered, like <see cref="TryReserve(BudgetScope, decimal, long, out BudgetReservation?, out BudgetRefusal?)"/>,
    /// holding the estimate on the <see cref="Shared"/> reservations too when the guard has them.
    /// </summary>
    /// <param name="scope">Who the call is for.</param>
    /// <param name="estimatedUsd">The estimated cost, ≥ 0.</param>
    /// <param name="estimatedTokens">The estimated tokens, ≥ 0.</param>
    /// <param name="cancellationToken">Cancels the shared round trip (nothing stays held).</param>
    /// <returns>The reservation, or the refusal.</returns>
    public ValueTask<BudgetAdmission> TryReserveAsync(BudgetScope scope, decimal estimatedUsd, long estimatedTokens, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(estimatedTokens);
        cancellationToken.ThrowIfCancellationRequested();
        if (!TryReserveCore(scope, BudgetMoney.ToUnits(estimatedUsd), estimatedTokens, register: true, out var reservation, out var refusal))
        {
            return new(new BudgetAdmission(null, refusal));
        }

        return FleetNodes(reservation) is { } nodes
            ? AdmitSharedAsync(reservation, nodes, scope: null, cancellationToken)
            : new(new BudgetAdmission(reservation, null));
    }

    /// <summary>Binds a reservation to the scope whose next <c>Usage</c> settles it, releasing one the scope never used.</summary>
    private static BudgetReservation BindTo(MeterScope scope, BudgetReservation reservation)
    {
        scope.BudgetReservation?.Dispose();
        reservation.Bind(scope);
        return reservation;
    }

    /// <summary>A synchronous reservation on nodes the fleet shares holds them in this process only: said once.</summary>
    private void SyncOnFleet(BudgetReservation reservation)
    {
        if (Shared is not null && Volatile.Read(ref _syncWarned) == 0 && reservation.Counters.Any(IsFleetNode) && Interlocked.Exchange(ref _syncWarned, 1) == 0)
        {
            BudgetLog.SyncReserveNotShared(_logger);
        }
    }

    private async ValueTask<BudgetAdmission> AdmitSharedAsync(BudgetReservation reservation, SharedBudgetNode[] nodes, MeterScope? scope, CancellationToken cancellationToken)
    {
        SharedReserveResult result;
        var threw = false;
        try
        {
            result = await Shared!.TryReserveAsync(nodes, reservation.EstimatedUsd, _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            reservation.Dispose();
            throw;
        }
#pragma warning disable CA1031 // The shared store's fault is fail-open (or fail-closed by option), as a store that cannot be reached.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            result = new SharedReserveResult(null, null) { Fault = ex.Message };
            threw = true;
        }

        if (result.Fault is { } fault)
        {
            // Fail-open: admitted on this process's counters (a fail-open shared reservation holds nothing). Refused when
            // the guard fails closed, or the shared reservations themselves did (answered a fault with no reservation).
            var closed = _options.FailClosed || (result.Reservation is null && !threw);
            BudgetLog.SharedUnreachable(_logger, fault, closed ? "refused" : "admitted on this process's counters alone");
            if (closed)
            {
                reservation.Dispose();
                return new BudgetAdmission(null, Unavailable(reservation.UsdUnits, $"the fleet's shared budget reservations could not be reached and the guard fails closed: {fault}"));
            }

            return new BudgetAdmission(scope is null ? reservation : BindTo(scope, reservation), null);
        }

        if (result.Reservation is { } hold)
        {
            reservation.SharedHold = hold;
            return new BudgetAdmission(scope is null ? reservation : BindTo(scope, reservation), null);
        }

        reservation.Dispose();
        var counter = reservation.Counters.FirstOrDefault(c => c.Node.Path == result.RefusedBy) ?? reservation.Counters[0];
        var refusal = Refuse(counter, BudgetMetric.Usd, reservation.UsdUnits, fleet: result);
        _refusals.Add(1, new KeyValuePair<string, object?>("cage.budget.node", counter.Node.Template.Path));
        BudgetLog.Refused(_logger, refusal.Message);
        return new BudgetAdmission(null, refusal);
    }

    /// <summary>A node whose cap the fleet shares: blocking, capped in dollars, over a calendar or lifetime period.</summary>
    private static bool IsFleetNode(PeriodCounter counter)
    {
        var template = counter.Node.Template;
        return template.Blocks && template.UsdCap is > 0 && counter.Rolling is null && !counter.Provisional
            && template.Period is BudgetPeriod.Lifetime or BudgetPeriod.Day or BudgetPeriod.Week or BudgetPeriod.Month;
    }

    /// <summary>A dollar threshold of a fleet node that the fleet fires (at or under the cap); its fraction of the cap.</summary>
    private static bool IsFleetThreshold(BudgetThreshold threshold, long value, long cap, out decimal fraction)
    {
        fraction = 0;
        if (threshold.Metric != BudgetMetric.Usd || value <= 0 || value > cap) return false;
        fraction = (decimal)value / cap;
        return true;
    }

    /// <summary>The nodes of a reservation the fleet shares, or <see langword="null"/> when there are none (or nothing is shared).</summary>
    private SharedBudgetNode[]? FleetNodes(BudgetReservation reservation)
    {
        if (Shared is null) return null;
        List<SharedBudgetNode>? nodes = null;
        foreach (var counter in reservation.Counters)
        {
            if (!IsFleetNode(counter)) continue;
            var template = counter.Node.Template;
            var cap = template.UsdCap!.Value;
            var values = template.ThresholdValues();
            List<decimal>? warnAt = null;
            for (var i = 0; i < values.Length; i++)
            {
                if (IsFleetThreshold(template.Thresholds[i], values[i], cap, out var fraction)) (warnAt ??= []).Add(fraction);
            }

            // A reset starts a fresh shared counter: the period as this process counts it begins at the later of the two.
            var start = Math.Max(template.Period == BudgetPeriod.Lifetime ? DateTimeOffset.MinValue.UtcTicks : counter.StartTicks, counter.ResetAtTicks);
            (nodes ??= []).Add(new SharedBudgetNode(counter.Node.Path, new DateTimeOffset(start, TimeSpan.Zero), BudgetMoney.FromUnits(cap))
            {
                WarnAt = warnAt ?? [],
                OpeningSpendUsd = BudgetMoney.FromUnits(Math.Max(0, Volatile.Read(ref counter.Spent))), // the period as this process knows it
            });
        }

        return nodes?.ToArray();
    }

    /// <summary>Whether this counter's dollar warnings come from the fleet for this completion (its reservation is held there).</summary>
    private static bool FleetWarns(BudgetReservation reservation, PeriodCounter counter) => reservation.SharedHold is { Held: true } && IsFleetNode(counter);

    /// <summary>Settles the shared hold of a completed reservation, off the caller's path; the fleet's warnings fire here.</summary>
    private void SettleShared(BudgetReservation reservation, long usd)
    {
        if (reservation.SharedHold is not { Held: true } hold || Shared is not { } shared) return;
        Interlocked.Increment(ref _sharedPending);
        _ = SettleSharedAsync(shared, reservation, hold, usd);
    }

    private async Task SettleSharedAsync(ISharedBudgetReservations shared, BudgetReservation reservation, SharedReservation hold, long usd)
    {
        try
        {
            var warnings = await shared.SettleAsync(hold, BudgetMoney.FromUnits(usd), CancellationToken.None).ConfigureAwait(false);
            foreach (var warning in warnings)
            {
                FireShared(reservation, warning);
            }
        }
#pragma warning disable CA1031 // Fail-open: the hold stays until its lease ends; the call is already counted in this process.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            BudgetLog.SharedSettleFailed(_logger, ex, hold.Nodes[0].Node);
        }
        finally
        {
            Interlocked.Decrement(ref _sharedPending);
        }
    }

    /// <summary>Raises a warning the fleet fired for this process (no other got it), unless it already fired here.</summary>
    private void FireShared(BudgetReservation reservation, SharedBudgetWarning warning)
    {
        foreach (var counter in reservation.Counters)
        {
            if (counter.Node.Path != warning.Node || !IsFleetNode(counter)) continue;
            var template = counter.Node.Template;
            var cap = template.UsdCap!.Value;
            var values = template.ThresholdValues();
            for (var i = 0; i < values.Length; i++)
            {
                var threshold = template.Thresholds[i];
                if (!IsFleetThreshold(threshold, values[i], cap, out var fraction) || fraction != warning.Threshold) continue;
                if ((Interlocked.Or(ref counter.Warned, threshold.Bit) & threshold.Bit) == 0)
                {
                    Fire(counter, threshold, values[i], Math.Max(values[i], Volatile.Read(ref counter.Spent)), fleet: true);
                }
            }
        }
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for the shared settles still on their way; whether none is left.</summary>
    internal bool WaitForSharedSettles(TimeSpan timeout) => SpinWait.SpinUntil(() => Volatile.Read(ref _sharedPending) == 0, timeout);
}
