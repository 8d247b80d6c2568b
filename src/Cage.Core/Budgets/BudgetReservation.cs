using System.Text.Json.Serialization;

namespace CageNet.Budgets;

/// <summary>The life of a reservation.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<BudgetReservationState>))]
public enum BudgetReservationState
{
    /// <summary>Holding its estimate.</summary>
    Open = 0,

    /// <summary>Settled to the actual cost.</summary>
    Settled,

    /// <summary>Released (keeping what was billed).</summary>
    Released,

    /// <summary>The lease ran out and the hold was reclaimed; a late settle still charges the actual cost.</summary>
    Expired,
}

/// <summary>
/// Budget held for one call (SPEC 7.4), against its node and every ancestor. Complete it exactly once:
/// <see cref="Settle"/> with the actual cost, or <see cref="Release"/> keeping what was already billed; disposing an open
/// reservation releases it with nothing billed. A reservation bound to a <see cref="MeterScope"/> is settled by that
/// scope's next <c>Usage</c> (with the priced cost), so metered calls are not counted twice. Thread-safe.
/// </summary>
public sealed class BudgetReservation : IDisposable
{
    private const int Open = 0, Settled = 1, Released = 2, Expired = 3;

    private readonly BudgetGuard _guard;
    private readonly PeriodCounter[] _counters;
    private MeterScope? _bound;
    private int _state;

    internal BudgetReservation(BudgetGuard guard, long id, PeriodCounter[] counters, long usd, long tokens, long expiresTicks)
    {
        _guard = guard;
        Id = id;
        _counters = counters;
        UsdUnits = usd;
        EstimatedTokens = tokens;
        ExpiresTicks = expiresTicks;
    }

    /// <summary>A process-unique id.</summary>
    public long Id { get; }

    /// <summary>The dollars held.</summary>
    public decimal EstimatedUsd => BudgetMoney.FromUnits(UsdUnits);

    /// <summary>The tokens held.</summary>
    public long EstimatedTokens { get; }

    /// <summary>When the lease expires and the hold is reclaimed.</summary>
    public DateTimeOffset ExpiresAt => new(ExpiresTicks, TimeSpan.Zero);

    /// <summary>The state.</summary>
    public BudgetReservationState State => (BudgetReservationState)Volatile.Read(ref _state);

    /// <summary>The nodes held, root first.</summary>
    public IReadOnlyList<string> Nodes => [.. _counters.Select(c => c.Node.Path)];

    internal long UsdUnits { get; }

    internal long ExpiresTicks { get; }

    /// <summary>Where the lease registry keeps it (<see cref="BudgetLeases"/>; −1 in its overflow, −2 not registered).</summary>
    internal int Slot { get; set; } = -2;

    internal PeriodCounter[] Counters => _counters;

    /// <summary>The hold on the fleet's shared counters (<see cref="BudgetGuard.Shared"/>), settled when this completes.</summary>
    internal SharedReservation? SharedHold { get; set; }

    internal void Bind(MeterScope scope)
    {
        _bound = scope;
        if (scope.BudgetSkipNext && scope.BudgetDeferred is { } deferred)
        {
            deferred.Guard.Persist(deferred.Rows); // the scope's next Usage is this reservation's: the earlier settle has no ledger call
        }

        scope.BudgetDeferred = null;
        scope.BudgetSkipNext = false;
        scope.BudgetReservation = this;
    }

    /// <summary>
    /// Settles to the actual cost: the hold is replaced by what the call cost, in the period the reservation started in.
    /// Warnings whose threshold this crosses fire now.
    /// </summary>
    /// <param name="actualUsd">
    /// The actual cost; <see langword="null"/> when unknown (an unpriced model, or usage that never arrived): charges
    /// <see cref="BudgetOptions.FallbackUsdPerMillionTokens"/> × <paramref name="actualTokens"/> when that is set and
    /// there are tokens, else keeps the estimate as spent; either way the call is counted in
    /// <see cref="BudgetNodeStatus.UnpricedCalls"/>.
    /// </param>
    /// <param name="actualTokens">The actual tokens, ≥ 0.</param>
    /// <returns><see langword="false"/> when it was already settled or released.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative amount.</exception>
    public bool Settle(decimal? actualUsd, long actualTokens = 0)
    {
        if (actualUsd < 0) throw new ArgumentOutOfRangeException(nameof(actualUsd), actualUsd, "the cost must be ≥ 0");
        ArgumentOutOfRangeException.ThrowIfNegative(actualTokens);
        return Complete(Settled, actualUsd is { } usd ? BudgetMoney.ToUnits(usd) : _guard.UnknownCostUnits(actualTokens, UsdUnits), actualTokens, explicitCall: true, unpriced: actualUsd is null);
    }

    /// <summary>
    /// Releases the hold after a failure, keeping what was already billed (a stream cut mid-way was billed for what it
    /// produced).
    /// </summary>
    /// <param name="billedUsd">What the provider billed anyway, ≥ 0. Default 0.</param>
    /// <param name="billedTokens">The tokens billed anyway, ≥ 0. Default 0.</param>
    /// <returns><see langword="false"/> when it was already settled or released.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative amount.</exception>
    public bool Release(decimal billedUsd = 0m, long billedTokens = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(billedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(billedTokens);
        return Complete(Released, BudgetMoney.ToUnits(billedUsd), billedTokens, explicitCall: true);
    }

    /// <summary>Releases the reservation with nothing billed if it is still open.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _state) == Open)
        {
            Complete(Released, 0, 0, explicitCall: true);
        }
    }

    /// <summary>
    /// The metered call of the bound scope settles it (no skip flag: the record is what settles), in the period the call
    /// started in (<paramref name="startedTicks"/>, its ledger timestamp).
    /// </summary>
    internal bool SettleFromMeter(decimal? actualUsd, long actualTokens, long startedTicks) =>
        Complete(Settled, actualUsd is { } usd ? BudgetMoney.ToUnits(usd) : _guard.UnknownCostUnits(actualTokens, UsdUnits), actualTokens, explicitCall: false, unpriced: actualUsd is null, startedTicks);

    /// <summary>The lease ran out: give the hold back (the reaper).</summary>
    internal bool Expire()
    {
        if (Interlocked.CompareExchange(ref _state, Expired, Open) != Open)
        {
            return false;
        }

        _guard.Unhold(this);
        return true;
    }

    private bool Complete(int final, long usd, long tokens, bool explicitCall, bool unpriced = false, long? meteredAt = null)
    {
        long holdUsd = UsdUnits, holdTokens = EstimatedTokens;
        var expired = false;
        if (Interlocked.CompareExchange(ref _state, final, Open) != Open)
        {
            // A late settle after the lease expired: the hold is gone, but the money was spent.
            if (Interlocked.CompareExchange(ref _state, final, Expired) != Expired)
            {
                return false;
            }

            holdUsd = 0;
            holdTokens = 0;
            expired = true;
        }

        MeterScope? deferTo = null;
        if (_bound is { } scope)
        {
            _bound = null;
            if (ReferenceEquals(scope.BudgetReservation, this))
            {
                scope.BudgetReservation = null;
                // The scope's next Usage reports this same call: it is already accounted (a release with nothing billed is not).
                scope.BudgetSkipNext = explicitCall && (final == Settled || usd > 0 || tokens > 0);
                // Until that Usage arrives no ledger call carries the spend: it is recorded if the scope ends without one.
                deferTo = scope.BudgetSkipNext ? scope : null;
            }
        }

        _guard.Complete(this, holdUsd, holdTokens, usd, tokens, unpriced, meteredAt, deferTo, expired);
        return true;
    }
}
