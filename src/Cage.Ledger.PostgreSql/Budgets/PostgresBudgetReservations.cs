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
    /// <summary>Why the server could not decide (it could not be reached), or <see langword="null"/> when it did: then the result is fail-open (admitted, nothing held) or, with <see cref="PostgresBudgetReservations.FailClosed"/>, refused with no <see cref="RefusedBy"/>.</summary>
    public string? Fault { get; init; }

    /// <summary>Whether every node admitted the amount.</summary>
    public bool Admitted => Reservation is not null;
}

/// <summary>A warning threshold crossed by a settle, for the caller to raise: no other instance got it for this node and period.</summary>
/// <param name="Node">The node.</param>
/// <param name="Threshold">The threshold, as a fraction of the cap.</param>
public sealed record SharedBudgetWarning(string Node, decimal Threshold);

/// <summary>
/// Budget reservations shared by every process that uses one PostgreSQL ledger: a reservation checks and holds every node
/// of a tree (a user, its team, the org) in one round trip — one statement that locks the nodes' counters in path order,
/// checks spend + holds + amount against each cap on the counters' latest versions, and holds the amount on all of them
/// or none — so N instances together never admit more than a cap. Holds are leases: a process killed while holding gives
/// its headroom back to the first reservation refused after the lease. Settling is one statement too: it adds the actual
/// cost to every node and reports the warning thresholds it crossed, each once for the whole fleet. Thread-safe.
/// </summary>
/// <remarks>
/// Amounts are dollars, stored as integers of 1e-10 USD. Lease expiry uses the injected clock of the instance that
/// reserves next: instances' clocks must agree to well within the lease (NTP). The in-process
/// <see cref="BudgetGuard"/> does not use these reservations: call them around the calls a fleet shares a cap for.
/// </remarks>
public sealed class PostgresBudgetReservations
{
    // $1 id, $2 nodes, $3 periods, $4 caps, $5 amount, $6 now, $7 lease end. Locks the counters in node order (lk), decides
    // on their latest versions (v: a row locked after waiting is re-read, so a concurrent hold is always seen), then holds
    // the amount on all of them (up, gated on v) and records the lease, or does nothing. Returns whether it was admitted,
    // how many counters exist (fewer than the nodes: create them and retry), the first node that refused, and whether a
    // lease has run out and not been reclaimed (refused: sweep and retry).
    private const string ReserveSql =
        """
        WITH w AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t (n, p, cap)),
        lk AS (
            SELECT c.node, c.spent_e10 + c.held_e10 + $5 <= w.cap AS ok
            FROM budget_counters c JOIN w ON c.node = w.n AND c.period_start_ms = w.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c),
        v AS (
            SELECT count(*) = cardinality($2::text[]) AND coalesce(bool_and(ok), false) AS ok, count(*)::integer AS found,
                   min(node COLLATE "C") FILTER (WHERE NOT ok) AS refused
            FROM lk),
        up AS (
            UPDATE budget_counters c SET held_e10 = c.held_e10 + $5
            FROM w WHERE (SELECT ok FROM v) AND c.node = w.n AND c.period_start_ms = w.p
            RETURNING 1),
        lease AS (
            INSERT INTO budget_leases (id, nodes, periods, usd_e10, expires_ms)
            SELECT $1, $2::text[], $3::bigint[], $5, $7 FROM v WHERE ok
            RETURNING 1)
        SELECT v.ok, v.found, v.refused,
               NOT v.ok AND EXISTS (SELECT 1 FROM budget_leases WHERE NOT reclaimed AND expires_ms <= $6)
        FROM v;
        """;

    // $1 nodes, $2 periods: the counters a first reservation on a node and period needs.
    private const string EnsureSql =
        """
        INSERT INTO budget_counters (node, period_start_ms, spent_e10, held_e10)
        SELECT n, p, 0, 0 FROM unnest($1::text[], $2::bigint[]) AS t (n, p)
        ORDER BY n COLLATE "C", p ON CONFLICT DO NOTHING;
        """;

    // $1 id, $2 actual cost, $3 now, $4 nodes, $5 periods, $6 caps, $7 warnings per node. The lease goes (gone); only when
    // it was there (a second settle finds none) are the counters locked in node order and the cost added, the hold taken
    // off unless a sweep reclaimed it already; then the thresholds the new spend reaches that nobody fired before.
    private const string SettleSql =
        """
        WITH gone AS (DELETE FROM budget_leases WHERE id = $1 RETURNING CASE WHEN reclaimed THEN 0 ELSE usd_e10 END AS held),
        w AS (SELECT * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::text[]) AS t (n, p, cap, warn)),
        lk AS (
            SELECT c.node FROM budget_counters c JOIN w ON c.node = w.n AND c.period_start_ms = w.p
            WHERE EXISTS (SELECT 1 FROM gone)
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c),
        up AS (
            UPDATE budget_counters c SET spent_e10 = c.spent_e10 + $2, held_e10 = c.held_e10 - (SELECT held FROM gone)
            FROM w WHERE (SELECT count(*) FROM lk) > 0 AND c.node = w.n AND c.period_start_ms = w.p
            RETURNING c.node, c.period_start_ms, c.spent_e10, w.cap, w.warn)
        INSERT INTO budget_warnings AS bw (node, period_start_ms, threshold, fired_ms)
        SELECT u.node, u.period_start_ms, x.threshold, $3
        FROM up u CROSS JOIN LATERAL unnest(string_to_array(nullif(u.warn, ''), ',')) AS x (threshold)
        WHERE u.spent_e10 >= u.cap * x.threshold::numeric
        ORDER BY u.node COLLATE "C", u.period_start_ms, x.threshold
        ON CONFLICT DO NOTHING
        RETURNING bw.node, bw.threshold;
        """;

    // $1 now. Reclaims the leases that ran out (a lease being settled right now is skipped: its settle takes the hold off),
    // giving their holds back on every node in one update per counter, locked in node order; and forgets reclaimed leases
    // a day past their end (a settle after that adds nothing).
    private const string SweepSql =
        """
        WITH gone AS (
            UPDATE budget_leases l SET reclaimed = true
            WHERE l.id IN (SELECT id FROM budget_leases WHERE NOT reclaimed AND expires_ms <= $1 FOR UPDATE SKIP LOCKED)
            RETURNING l.nodes, l.periods, l.usd_e10),
        per AS (
            SELECT t.n, t.p, sum(g.usd_e10) AS s FROM gone g CROSS JOIN LATERAL unnest(g.nodes, g.periods) AS t (n, p) GROUP BY 1, 2),
        lk AS (
            SELECT c.node FROM budget_counters c JOIN per ON c.node = per.n AND c.period_start_ms = per.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c),
        up AS (
            UPDATE budget_counters c SET held_e10 = c.held_e10 - per.s
            FROM per WHERE (SELECT count(*) FROM lk) > 0 AND c.node = per.n AND c.period_start_ms = per.p
            RETURNING 1),
        old AS (
            DELETE FROM budget_leases
            WHERE id IN (SELECT id FROM budget_leases WHERE reclaimed AND expires_ms <= $1 - 86400000 FOR UPDATE SKIP LOCKED)
            RETURNING 1)
        SELECT count(*)::integer FROM gone;
        """;

    private readonly PostgresLedger _ledger;
    private readonly TimeProvider _time;

    /// <summary>Creates the reservations over an open ledger (its schema has the tables).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="time">The clock for leases and warnings. Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> is <see langword="null"/>.</exception>
    public PostgresBudgetReservations(PostgresLedger ledger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Whether a reservation is refused when the server cannot be reached (a connection failure or a server shutting
    /// down). Default <see langword="false"/>: fail-open — the call is admitted with a reservation that holds nothing
    /// (<see cref="SharedReservation.Held"/> is <see langword="false"/>, <see cref="SharedReserveResult.Fault"/> says why),
    /// so the fleet may spend past the cap while the server is away. Either way the result is returned, not thrown.
    /// </summary>
    public bool FailClosed { get; init; }

    /// <summary>Holds <paramref name="usd"/> on every node, or on none when one of them has not the headroom.</summary>
    /// <remarks>
    /// One round trip when admitted. A refusal while some lease has run out costs two more (reclaim the expired leases,
    /// try again), and the first reservation on a node in a period two more (create its counter, try again).
    /// </remarks>
    /// <param name="nodes">The nodes (a path from a leaf to the root, or any set); at least one, no repeats.</param>
    /// <param name="usd">The amount to hold (the call's estimated cost), ≥ 0.</param>
    /// <param name="lease">How long the hold lasts unless settled or released; more than zero.</param>
    /// <param name="cancellationToken">Cancels the round trip.</param>
    /// <exception cref="ArgumentException">No nodes, a repeated or empty node, a negative amount or cap, or a lease ≤ 0.</exception>
    /// <exception cref="InvalidOperationException">The counters cannot be found after creating them (a damaged or foreign schema).</exception>
    public async Task<SharedReserveResult> TryReserveAsync(IReadOnlyList<SharedBudgetNode> nodes, decimal usd, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        Validate(nodes, usd);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        var id = "bres_" + Guid.NewGuid().ToString("N");
        var now = _time.GetUtcNow();
        try
        {
            return await ReserveAsync(id, nodes, usd, now, lease, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Unreachable(ex) && !cancellationToken.IsCancellationRequested)
        {
            var fault = ex is IOException ? ex.Message : $"The Cage ledger {_ledger.Where} cannot be reached: {PostgresConnection.Reason(ex)}";
            return FailClosed
                ? new SharedReserveResult(null, null) { Fault = fault }
                : new SharedReserveResult(new SharedReservation(id, [.. nodes], usd, now + lease) { Held = false }, null) { Fault = fault };
        }
    }

    /// <summary>A fault of the server or the way to it (not of the statement): the server is down, restarting or unreachable.</summary>
    private static bool Unreachable(Exception ex) => ex is IOException or TimeoutException or System.Net.Sockets.SocketException
        || ex is NpgsqlException { IsTransient: true } || ex is NpgsqlException and not PostgresException;

    private async Task<SharedReserveResult> ReserveAsync(string id, IReadOnlyList<SharedBudgetNode> nodes, decimal usd, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var names = new string[nodes.Count];
        var periods = new long[nodes.Count];
        var caps = new long[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            (names[i], periods[i], caps[i]) = (nodes[i].Node, nodes[i].PeriodStart.ToUnixTimeMilliseconds(), LedgerMoney.ToE10(nodes[i].CapUsd));
        }

        await using var connection = await _ledger.OpenQuickAsync(asynchronousCommit: true, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ReserveSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = periods });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = caps });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LedgerMoney.ToE10(usd) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = checked(nowMs + (long)Math.Ceiling(lease.TotalMilliseconds)) });
        bool swept = false, ensured = false;
        while (true)
        {
            bool admitted, expired;
            int found;
            string? refused;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                (admitted, found, refused, expired) = (reader.GetBoolean(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetBoolean(3));
            }

            if (admitted)
            {
                return new SharedReserveResult(new SharedReservation(id, [.. nodes], usd, now + lease), null);
            }

            if (found < nodes.Count)
            {
                if (ensured)
                {
                    throw new InvalidOperationException($"The budget counters of {string.Join(", ", names)} were created but are not found: the ledger {_ledger.Where} is not in a state this version knows.");
                }

                ensured = true;
                await using var ensure = new NpgsqlCommand(EnsureSql, connection);
                ensure.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = names });
                ensure.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = periods });
                await ensure.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (expired && !swept)
            {
                swept = true;
                await SweepAsync(connection, nowMs, cancellationToken).ConfigureAwait(false);
                continue;
            }

            return new SharedReserveResult(null, refused);
        }
    }

    /// <summary>
    /// Settles a reservation: its holds go and <paramref name="actualUsd"/> is added to every node's spend (also after its
    /// lease ran out: the call happened). Settling the same reservation again changes nothing. One round trip.
    /// </summary>
    /// <param name="reservation">The reservation.</param>
    /// <param name="actualUsd">What the call cost, ≥ 0.</param>
    /// <param name="cancellationToken">Cancels the round trip.</param>
    /// <returns>The warning thresholds this settle crossed that no instance fired before, for the caller to raise.</returns>
    /// <exception cref="ArgumentException">A negative amount.</exception>
    /// <exception cref="IOException">The server cannot be reached (the hold, if any, stays until its lease ends).</exception>
    public async Task<IReadOnlyList<SharedBudgetWarning>> SettleAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ArgumentOutOfRangeException.ThrowIfNegative(actualUsd);
        if (!reservation.Held)
        {
            return []; // admitted fail-open: the server holds nothing for it
        }

        try
        {
            return await SettleHeldAsync(reservation, actualUsd, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Unreachable(ex) && ex is not IOException && !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"The Cage ledger {_ledger.Where} cannot be reached: {PostgresConnection.Reason(ex)}", ex);
        }
    }

    private async Task<IReadOnlyList<SharedBudgetWarning>> SettleHeldAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
    {
        await using var connection = await _ledger.OpenQuickAsync(asynchronousCommit: true, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(SettleSql, connection);
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

    /// <summary>A node's settled spend and holds in a period, as the server has them now (holds of leases that ran out count until a refused reservation reclaims them).</summary>
    /// <param name="node">The node.</param>
    /// <param name="periodStart">The period's start.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async Task<(decimal SpentUsd, decimal HeldUsd)> StateAsync(string node, DateTimeOffset periodStart, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        await using var connection = await _ledger.OpenQuickAsync(asynchronousCommit: true, cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT spent_e10, held_e10 FROM budget_counters WHERE node = $1 AND period_start_ms = $2;", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = node });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = periodStart.ToUnixTimeMilliseconds() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (LedgerMoney.FromE10(reader.GetInt64(0)), LedgerMoney.FromE10(reader.GetInt64(1)))
            : (0m, 0m);
    }

    private static async Task SweepAsync(NpgsqlConnection connection, long nowMs, CancellationToken cancellationToken)
    {
        await using var sweep = new NpgsqlCommand(SweepSql, connection);
        sweep.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
        await sweep.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
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
