using System.Globalization;
using CageNet.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace CageNet.Budgets;

/// <summary>One node of a budget tree as the shared reservations see it: its path, the period it is in, and its cap.</summary>
/// <param name="Node">The node's path (for example <c>org/team-a/user:42</c>).</param>
/// <param name="PeriodStart">The start of the node's current period (<see cref="DateTimeOffset.MinValue"/> for a lifetime budget).</param>
/// <param name="CapUsd">The cap, in dollars.</param>
public sealed record SharedBudgetNode(string Node, DateTimeOffset PeriodStart, decimal CapUsd)
{
    /// <summary>Warning thresholds as fractions of the cap (0.8 = 80%); each fires once per node and period for the whole fleet.</summary>
    public IReadOnlyList<decimal> WarnAt { get; init; } = [];
}

/// <summary>A reservation held on every node of a tree until it is settled, released, or its lease runs out.</summary>
/// <param name="Id">The reservation's id.</param>
/// <param name="Nodes">The nodes it holds.</param>
/// <param name="HeldUsd">The amount held on each node.</param>
/// <param name="ExpiresAt">When the lease runs out: after it, the next reservation on a node takes the headroom back.</param>
public sealed record SharedReservation(string Id, IReadOnlyList<SharedBudgetNode> Nodes, decimal HeldUsd, DateTimeOffset ExpiresAt);

/// <summary>What a shared reservation attempt gave: the reservation, or the node that refused it.</summary>
/// <param name="Reservation">The reservation when admitted.</param>
/// <param name="RefusedBy">The first node (in path order) whose spend, holds and this amount exceed its cap, when refused.</param>
public sealed record SharedReserveResult(SharedReservation? Reservation, string? RefusedBy)
{
    /// <summary>Whether every node admitted the amount.</summary>
    public bool Admitted => Reservation is not null;
}

/// <summary>A warning threshold crossed by a settle, for the caller to raise: no other instance got it for this node and period.</summary>
/// <param name="Node">The node.</param>
/// <param name="Threshold">The threshold, as a fraction of the cap.</param>
public sealed record SharedBudgetWarning(string Node, decimal Threshold);

/// <summary>
/// Budget reservations shared by every process that uses one PostgreSQL ledger: a reservation checks and holds every node
/// of a tree (a user, its team, the org) in one round trip — a server-side function that locks the nodes' counters in
/// path order, returns expired leases' headroom, checks spend + holds + amount against each cap, and holds the amount on
/// all of them or none — so N instances together never admit more than a cap. Holds are leases: a process killed while
/// holding gives its headroom back to the next reservation after the lease. Settling adds the actual cost to every node
/// and reports the warning thresholds it crossed, each once for the whole fleet. Thread-safe.
/// </summary>
/// <remarks>
/// Amounts are dollars, stored as integers of 1e-10 USD. Lease expiry uses the injected clock of the instance that
/// reserves next: instances' clocks must agree to well within the lease (NTP). The in-process
/// <see cref="BudgetGuard"/> does not use these reservations: call them around the calls a fleet shares a cap for.
/// </remarks>
public sealed class PostgresBudgetReservations
{
    private readonly PostgresLedger _ledger;
    private readonly TimeProvider _time;

    /// <summary>Creates the reservations over an open ledger (its schema has the tables and functions).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="time">The clock for leases and warnings. Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> is <see langword="null"/>.</exception>
    public PostgresBudgetReservations(PostgresLedger ledger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Holds <paramref name="usd"/> on every node, or on none when one of them has not the headroom.</summary>
    /// <param name="nodes">The nodes (a path from a leaf to the root, or any set); at least one, no repeats.</param>
    /// <param name="usd">The amount to hold (the call's estimated cost), ≥ 0.</param>
    /// <param name="lease">How long the hold lasts unless settled or released; more than zero.</param>
    /// <param name="cancellationToken">Cancels the round trip.</param>
    /// <exception cref="ArgumentException">No nodes, a repeated or empty node, a negative amount or cap, or a lease ≤ 0.</exception>
    /// <exception cref="IOException">The server cannot be reached (the message names it, never the password).</exception>
    public async Task<SharedReserveResult> TryReserveAsync(IReadOnlyList<SharedBudgetNode> nodes, decimal usd, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        Validate(nodes, usd);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        var id = "bres_" + Guid.NewGuid().ToString("N");
        var now = _time.GetUtcNow();
        await using var connection = await _ledger.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT cage_budget_reserve($1, $2, $3, $4, $5, $6, $7);", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        AddNodes(command, nodes, withWarnings: false);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LedgerMoney.ToE10(usd) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = now.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)Math.Ceiling(lease.TotalMilliseconds) });
        var refused = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        return refused is null
            ? new SharedReserveResult(new SharedReservation(id, [.. nodes], usd, now + lease), null)
            : new SharedReserveResult(null, refused);
    }

    /// <summary>
    /// Settles a reservation: its holds go and <paramref name="actualUsd"/> is added to every node's spend (also after its
    /// lease ran out: the call happened). Settling the same reservation again changes nothing.
    /// </summary>
    /// <param name="reservation">The reservation.</param>
    /// <param name="actualUsd">What the call cost, ≥ 0.</param>
    /// <param name="cancellationToken">Cancels the round trip.</param>
    /// <returns>The warning thresholds this settle crossed that no instance fired before, for the caller to raise.</returns>
    /// <exception cref="ArgumentException">A negative amount.</exception>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async Task<IReadOnlyList<SharedBudgetWarning>> SettleAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ArgumentOutOfRangeException.ThrowIfNegative(actualUsd);
        await using var connection = await _ledger.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT node, threshold FROM cage_budget_settle($1, $2, $3, $4, $5, $6, $7);", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reservation.Id });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LedgerMoney.ToE10(actualUsd) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _time.GetUtcNow().ToUnixTimeMilliseconds() });
        AddNodes(command, reservation.Nodes, withWarnings: true);
        var warnings = new List<SharedBudgetWarning>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            warnings.Add(new SharedBudgetWarning(reader.GetString(0), decimal.Parse(reader.GetString(1), NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return warnings;
    }

    /// <summary>Gives a reservation's holds back without spending anything (the call did not happen).</summary>
    /// <param name="reservation">The reservation.</param>
    /// <param name="cancellationToken">Cancels the round trip.</param>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async Task ReleaseAsync(SharedReservation reservation, CancellationToken cancellationToken = default) =>
        await SettleAsync(reservation, 0m, cancellationToken).ConfigureAwait(false);

    /// <summary>A node's settled spend and live holds in a period, as the server has them now.</summary>
    /// <param name="node">The node.</param>
    /// <param name="periodStart">The period's start.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async Task<(decimal SpentUsd, decimal HeldUsd)> StateAsync(string node, DateTimeOffset periodStart, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        await using var connection = await _ledger.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT spent_e10, held_e10 FROM budget_counters WHERE node = $1 AND period_start_ms = $2;", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = node });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = periodStart.ToUnixTimeMilliseconds() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (LedgerMoney.FromE10(reader.GetInt64(0)), LedgerMoney.FromE10(reader.GetInt64(1)))
            : (0m, 0m);
    }

    private static void AddNodes(NpgsqlCommand command, IReadOnlyList<SharedBudgetNode> nodes, bool withWarnings)
    {
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. nodes.Select(n => n.Node)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. nodes.Select(n => n.PeriodStart.ToUnixTimeMilliseconds())] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. nodes.Select(n => LedgerMoney.ToE10(n.CapUsd))] });
        if (withWarnings)
        {
            command.Parameters.Add(new NpgsqlParameter<string[]>
            {
                TypedValue = [.. nodes.Select(n => string.Join(',', n.WarnAt.Select(w => w.ToString(CultureInfo.InvariantCulture))))],
            });
        }
    }

    private static void Validate(IReadOnlyList<SharedBudgetNode> nodes, decimal usd)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentOutOfRangeException.ThrowIfNegative(usd);
        if (nodes.Count == 0)
        {
            throw new ArgumentException("a reservation needs at least one budget node", nameof(nodes));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            ArgumentNullException.ThrowIfNull(node);
            if (string.IsNullOrEmpty(node.Node) || !seen.Add(node.Node))
            {
                throw new ArgumentException($"budget node '{node.Node}' is empty or repeated", nameof(nodes));
            }

            if (node.CapUsd < 0 || node.WarnAt.Any(w => w is <= 0 or > 1))
            {
                throw new ArgumentException($"budget node '{node.Node}': the cap must be ≥ 0 and warnings fractions in (0, 1]", nameof(nodes));
            }
        }
    }
}
