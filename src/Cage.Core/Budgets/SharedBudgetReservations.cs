namespace CageNet.Budgets;

/// <summary>One node of a budget tree as the shared reservations see it: its path, the period it is in, and its cap.</summary>
/// <param name="Node">The node's path (for example <c>org/team-a/user:42</c>).</param>
/// <param name="PeriodStart">The start of the node's current period (<see cref="DateTimeOffset.MinValue"/> for a lifetime budget), or of its last reset when later: each value is a counter of its own.</param>
/// <param name="CapUsd">The cap, in dollars.</param>
public sealed record SharedBudgetNode(string Node, DateTimeOffset PeriodStart, decimal CapUsd)
{
    /// <summary>Warning thresholds as fractions of the cap (0.8 = 80%); each fires once per node and period for the whole fleet.</summary>
    public IReadOnlyList<decimal> WarnAt { get; init; } = [];

    /// <summary>
    /// The spend the node's shared counter starts with when this reservation is the first of the period to need it (the
    /// period's spend the caller already knows of, for example from the ledger's calls before the fleet shared the
    /// counter); ignored once the counter exists. Default 0.
    /// </summary>
    public decimal OpeningSpendUsd { get; init; }
}

/// <summary>A reservation held on every node of a tree until it is settled, released, or its lease runs out.</summary>
/// <param name="Id">The reservation's id.</param>
/// <param name="Nodes">The nodes it holds.</param>
/// <param name="HeldUsd">The amount held on each node.</param>
/// <param name="ExpiresAt">When the lease runs out: after it, the next reservation on a node takes the headroom back.</param>
public sealed record SharedReservation(string Id, IReadOnlyList<SharedBudgetNode> Nodes, decimal HeldUsd, DateTimeOffset ExpiresAt)
{
    /// <summary>Whether the server holds it: <see langword="false"/> for a fail-open admission while the server could not be reached (nothing is held, and settling it changes nothing).</summary>
    public bool Held { get; init; } = true;
}

/// <summary>What a shared reservation attempt gave: the reservation, or the node that refused it.</summary>
/// <param name="Reservation">The reservation when admitted.</param>
/// <param name="RefusedBy">The first node (in path order) whose spend, holds and this amount exceed its cap, when refused.</param>
public sealed record SharedReserveResult(SharedReservation? Reservation, string? RefusedBy)
{
    /// <summary>Why the store could not decide (it could not be reached), or <see langword="null"/> when it did: then the result is fail-open (admitted, nothing held) or, failing closed, refused with no <see cref="RefusedBy"/>.</summary>
    public string? Fault { get; init; }

    /// <summary>The refusing node's settled spend for the fleet, when refused and the store could read it.</summary>
    public decimal? RefusedSpentUsd { get; init; }

    /// <summary>What the fleet's open reservations hold on the refusing node, when refused and the store could read it.</summary>
    public decimal? RefusedHeldUsd { get; init; }

    /// <summary>Whether every node admitted the amount.</summary>
    public bool Admitted => Reservation is not null;
}

/// <summary>A warning threshold crossed by a settle, for the caller to raise: no other instance got it for this node and period.</summary>
/// <param name="Node">The node.</param>
/// <param name="Threshold">The threshold, as a fraction of the cap.</param>
public sealed record SharedBudgetWarning(string Node, decimal Threshold);

/// <summary>
/// Budget reservations shared by every process of a fleet (the PostgreSQL provider's <c>PostgresBudgetReservations</c>):
/// a reservation checks and holds an amount on every node of a tree at once, against the spend and holds of all
/// processes, so that N processes together never admit more than a cap. A <see cref="BudgetGuard"/> given one
/// (<see cref="BudgetGuard.Shared"/>) admits through it in <see cref="BudgetGuard.TryReserveAsync(MeterScope, decimal, long, CancellationToken)"/>.
/// </summary>
public interface ISharedBudgetReservations
{
    /// <summary>Holds <paramref name="usd"/> on every node, or on none when one of them has not the headroom.</summary>
    /// <param name="nodes">The nodes; at least one, no repeats.</param>
    /// <param name="usd">The amount to hold, ≥ 0.</param>
    /// <param name="lease">How long the hold lasts unless settled; more than zero.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The reservation, or the node that refused; a store that cannot be reached answers with <see cref="SharedReserveResult.Fault"/> rather than throwing.</returns>
    Task<SharedReserveResult> TryReserveAsync(IReadOnlyList<SharedBudgetNode> nodes, decimal usd, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Settles a reservation: its holds go and <paramref name="actualUsd"/> is added to every node's spend (0 releases it). Settling again changes nothing.</summary>
    /// <param name="reservation">The reservation.</param>
    /// <param name="actualUsd">What the call cost, ≥ 0.</param>
    /// <param name="cancellationToken">Cancels the settle.</param>
    /// <returns>The warning thresholds this settle crossed that no process fired before, for the caller to raise.</returns>
    Task<IReadOnlyList<SharedBudgetWarning>> SettleAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default);
}
