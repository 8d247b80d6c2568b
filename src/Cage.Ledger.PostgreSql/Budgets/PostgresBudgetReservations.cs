using System.Globalization;
using CageNet.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace CageNet.Budgets;

/// <summary>
/// Budget reservations shared by every process that uses one PostgreSQL ledger: a reservation checks and holds every node
/// of a tree (a user, its team, the org) in one round trip — one statement that locks the nodes' counters in path order,
/// checks spend + holds + amount against each cap on the counters' latest versions, and holds the amount on all of them
/// or none — so N instances together never admit more than a cap. Holds are leases: a process killed while holding gives
/// its headroom back to the first reservation refused after the lease. Settling is one statement too: it adds the actual
/// cost to every node and reports the warning thresholds it crossed, each once for the whole fleet. Thread-safe: share one
/// instance per process, so that what concurrent callers queue while a round trip is in flight goes together in the next
/// (one function call deciding the reservations in order, each all-or-none; one statement for the settles; both in one
/// transaction when both are queued).
/// </summary>
/// <remarks>
/// Amounts are dollars, stored as integers of 1e-10 USD. Lease expiry uses the injected clock of the instance that
/// reserves next: instances' clocks must agree to well within the lease (NTP). The in-process
/// <see cref="BudgetGuard"/> admits through them when given them as its <see cref="BudgetGuard.Shared"/> (what
/// <c>AddPostgresLedger()</c> + <c>AddBudgets()</c> do); they can also be called directly around any call.
/// </remarks>
public sealed class PostgresBudgetReservations : ISharedBudgetReservations
{
    // $1 id, $2 nodes, $3 periods, $4 caps, $5 amount, $6 now, $7 lease end. Locks the counters in node order (lk), decides
    // on their latest versions (v: a row locked after waiting is re-read, so a concurrent hold is always seen), then holds
    // the amount on all of them (up, gated on v) and records the lease, or does nothing. Returns whether it was admitted,
    // how many counters exist (fewer than the nodes: create them and retry), the first node that refused, whether a lease
    // has run out and not been reclaimed (refused: sweep and retry), and the refusing node's spend and holds.
    private const string ReserveSql =
        """
        WITH w AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t (n, p, cap)),
        lk AS (
            SELECT c.node, c.spent_e10, c.held_e10, c.spent_e10 + c.held_e10 + $5 <= w.cap AS ok
            FROM budget_counters c JOIN w ON c.node = w.n AND c.period_start_ms = w.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c),
        v AS (
            SELECT count(*) = cardinality($2::text[]) AND coalesce(bool_and(ok), false) AS ok, count(*)::integer AS found,
                   min(node COLLATE "C") FILTER (WHERE NOT ok) AS refused,
                   (array_agg(spent_e10 ORDER BY node COLLATE "C") FILTER (WHERE NOT ok))[1] AS refused_spent,
                   (array_agg(held_e10 ORDER BY node COLLATE "C") FILTER (WHERE NOT ok))[1] AS refused_held
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
               NOT v.ok AND EXISTS (SELECT 1 FROM budget_leases WHERE NOT reclaimed AND expires_ms <= $6),
               v.refused_spent, v.refused_held
        FROM v;
        """;

    // $1 nodes, $2 periods, $3 opening spends: the counters a first reservation on a node and period needs, starting at the
    // spend its caller already knew of.
    private const string EnsureSql =
        """
        INSERT INTO budget_counters (node, period_start_ms, spent_e10, held_e10)
        SELECT n, p, max(s), 0 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t (n, p, s)
        GROUP BY n, p ORDER BY n COLLATE "C", p ON CONFLICT DO NOTHING;
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

    // $1 ids, $2 amounts, $3 ends, $4 first positions, $5 nodes, $6 periods, $7 caps, $8 now: reservations queued together,
    // decided in order by the step-7 function (see PostgresSchema).
    private const string ReserveBatchSql =
        "SELECT admitted, refused, expired, refused_spent, refused_held FROM cage_budget_reserve_batch($1, $2, $3, $4, $5, $6, $7, $8);";

    // $1 ids, $2 actual costs, $3 now, and per node of each settle: $4 which settle (1-based), $5 node, $6 period, $7 cap,
    // $8 warnings. Settles queued together: the leases that are there go (a repeated or second settle finds none), the
    // counters of their nodes are locked in node order and get each node's summed cost and holds in one update; then each
    // threshold that the spend reached and nobody fired before is given to the first settle, in queue order, whose running
    // spend on that node (the spend before the batch plus the costs of the settles up to it) reaches it.
    private const string SettleBatchSql =
        """
        WITH s AS (SELECT * FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS s (id, usd, o)),
        gone AS (
            DELETE FROM budget_leases l USING s WHERE l.id = s.id
            RETURNING s.o, s.usd, CASE WHEN l.reclaimed THEN 0 ELSE l.usd_e10 END AS held),
        w AS (
            SELECT t.o, t.n, t.p, t.cap, t.warn, g.usd, g.held
            FROM unnest($4::integer[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]) AS t (o, n, p, cap, warn) JOIN gone g ON g.o = t.o),
        per AS (SELECT n, p, sum(usd) AS spend, sum(held) AS held FROM w GROUP BY n, p),
        lk AS (
            SELECT c.node FROM budget_counters c JOIN per ON c.node = per.n AND c.period_start_ms = per.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c),
        up AS (
            UPDATE budget_counters c SET spent_e10 = c.spent_e10 + per.spend, held_e10 = c.held_e10 - per.held
            FROM per WHERE (SELECT count(*) FROM lk) > 0 AND c.node = per.n AND c.period_start_ms = per.p
            RETURNING c.node, c.period_start_ms, c.spent_e10 - per.spend AS before),
        run AS (
            SELECT w.o, w.n, w.p, w.cap, w.warn, u.before + sum(w.usd) OVER (PARTITION BY w.n, w.p ORDER BY w.o) AS spent
            FROM w JOIN up u ON u.node = w.n AND u.period_start_ms = w.p),
        crossed AS (
            SELECT DISTINCT ON (r.n, r.p, x.threshold) r.o, r.n, r.p, x.threshold
            FROM run r CROSS JOIN LATERAL unnest(string_to_array(nullif(r.warn, ''), ',')) AS x (threshold)
            WHERE r.spent >= r.cap * x.threshold::numeric
            ORDER BY r.n, r.p, x.threshold, r.o),
        fired AS (
            INSERT INTO budget_warnings AS bw (node, period_start_ms, threshold, fired_ms)
            SELECT n, p, threshold, $3 FROM crossed ORDER BY n COLLATE "C", p, threshold
            ON CONFLICT DO NOTHING
            RETURNING bw.node, bw.period_start_ms, bw.threshold)
        SELECT c.o::integer, f.node, f.threshold
        FROM fired f JOIN crossed c ON c.n = f.node AND c.p = f.period_start_ms AND c.threshold = f.threshold
        ORDER BY c.o, f.node COLLATE "C", f.threshold;
        """;

    // $1 ids of the leases a mixed round trip settles: locked first (in id order), as a settle or a sweep locks a lease
    // before its counters; a sweep skips them (SKIP LOCKED), so it cannot wait on this round trip while holding them.
    private const string LockLeasesSql = "SELECT 1 FROM budget_leases WHERE id = ANY($1::text[]) ORDER BY id COLLATE \"C\" FOR UPDATE;";

    // $1 nodes, $2 periods: every counter a mixed round trip's settles and reserves touch, locked in node order before
    // either statement runs, so that the two together keep the one lock order (the settle alone would lock its nodes, then
    // the reserve its own, out of order across two trees).
    private const string LockCountersSql =
        """
        SELECT 1 FROM budget_counters c
        JOIN (SELECT DISTINCT n, p FROM unnest($1::text[], $2::bigint[]) AS t (n, p)) d ON c.node = d.n AND c.period_start_ms = d.p
        ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c;
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

    // The most reservations (or settles) one round trip carries.
    private const int MostPerRoundTrip = 256;

    private readonly PostgresLedger _ledger;
    private readonly TimeProvider _time;
    private readonly RoundTripCombiner<Operation, OperationResult> _trips;
    private long _reserveTrips, _combinedReserves, _settleTrips, _combinedSettles, _mixedTrips;

    /// <summary>Creates the reservations over an open ledger (its schema has the tables).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="time">The clock for leases and warnings. Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> is <see langword="null"/>.</exception>
    public PostgresBudgetReservations(PostgresLedger ledger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
        _time = time ?? TimeProvider.System;
        _trips = new(SendAsync, MostPerRoundTrip);
    }

    /// <summary>
    /// The round trips that carried reserves, how many of them carried more than one; the same for settles; and how many
    /// carried both (tests and benchmarks read it).
    /// </summary>
    internal (long Reserves, long CombinedReserves, long Settles, long CombinedSettles, long Mixed) RoundTrips =>
        (Interlocked.Read(ref _reserveTrips), Interlocked.Read(ref _combinedReserves), Interlocked.Read(ref _settleTrips),
         Interlocked.Read(ref _combinedSettles), Interlocked.Read(ref _mixedTrips));

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
        var nowMs = now.ToUnixTimeMilliseconds();
        var request = new ReserveRequest(id, nodes, LedgerMoney.ToE10(usd), checked(nowMs + (long)Math.Ceiling(lease.TotalMilliseconds)));
        try
        {
            var sent = _trips.SubmitAsync(new Operation(request, default, IsSettle: false));
            ReserveOutcome outcome;
            try
            {
                outcome = (await sent.WaitAsync(cancellationToken).ConfigureAwait(false)).Reserve;
            }
            catch (OperationCanceledException) when (!sent.IsCompleted)
            {
                // Already queued or on its way: when it was admitted after all, give the hold back (nobody will settle it).
                _ = sent.ContinueWith(t => t.Result.Reserve.Admitted ? ReleaseAsync(new SharedReservation(id, [.. nodes], usd, now + lease)) : Task.CompletedTask,
                    CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                throw;
            }

            return outcome.Admitted
                ? new SharedReserveResult(new SharedReservation(id, [.. nodes], usd, now + lease), null)
                : new SharedReserveResult(null, outcome.RefusedBy)
                {
                    RefusedSpentUsd = outcome.RefusedSpentE10 is { } spent ? LedgerMoney.FromE10(spent) : null,
                    RefusedHeldUsd = outcome.RefusedHeldE10 is { } held ? LedgerMoney.FromE10(held) : null,
                };
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

    // One round trip for what this instance queued meanwhile, reserves and settles alike. Both kinds: one transaction
    // (an NpgsqlBatch, one commit) that locks the settled leases, then every counter of the round trip in node order,
    // settles, then decides the reserves; so each process has one transaction at a time on a tree's root row, carrying
    // twice as much. Reserves that need their counters created or expired leases reclaimed go on in their own round trips.
    private async Task<OperationResult[]> SendAsync(IReadOnlyList<Operation> batch)
    {
        List<ReserveRequest> reserves = [];
        List<SettleRequest> settles = [];
        foreach (var operation in batch)
        {
            if (operation.IsSettle)
            {
                settles.Add(operation.Settle);
            }
            else
            {
                reserves.Add(operation.Reserve);
            }
        }

        Count(reserves.Count, ref _reserveTrips, ref _combinedReserves);
        Count(settles.Count, ref _settleTrips, ref _combinedSettles);
        if (reserves.Count > 0 && settles.Count > 0)
        {
            Interlocked.Increment(ref _mixedTrips);
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await _ledger.OpenQuickAsync(asynchronousCommit: true, CancellationToken.None).ConfigureAwait(false);
        IReadOnlyList<SharedBudgetWarning>[] warnings = [];
        List<(ReserveOutcome Outcome, bool Expired)>? decided = null;
        var reservesDecided = false;
        await using (var round = new NpgsqlBatch(connection))
        {
            if (settles.Count > 0)
            {
                if (reserves.Count > 0)
                {
                    var locks = new NpgsqlBatchCommand(LockLeasesSql);
                    locks.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. settles.Select(s => s.Reservation.Id)] });
                    round.BatchCommands.Add(locks);
                    var counters = new NpgsqlBatchCommand(LockCountersSql);
                    var all = settles.SelectMany(s => s.Reservation.Nodes).Concat(reserves.SelectMany(r => r.Nodes)).ToList();
                    counters.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. all.Select(n => n.Node)] });
                    counters.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. all.Select(n => n.PeriodStart.ToUnixTimeMilliseconds())] });
                    round.BatchCommands.Add(counters);
                }

                round.BatchCommands.Add(SettleCommand(settles, nowMs));
            }

            if (reserves.Count > 0 && settles.Count > 0)
            {
                round.BatchCommands.Add(ReserveCommand(reserves, nowMs));
            }

            if (settles.Count > 0)
            {
                await using var reader = await round.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
                if (reserves.Count > 0)
                {
                    await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false); // past the leases' locks
                    await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false); // past the counters' locks
                }

                warnings = await ReadWarningsAsync(reader, settles.Count).ConfigureAwait(false);
                if (reserves.Count > 0)
                {
                    await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false);
                    decided = await ReadReservesAsync(reader, reserves).ConfigureAwait(false);
                    reservesDecided = true;
                }
            }
        }

        var reserved = reserves.Count == 0 ? [] : await ReserveAsync(connection, reserves, nowMs, reservesDecided, decided).ConfigureAwait(false);
        var results = new OperationResult[batch.Count];
        int nextReserve = 0, nextSettle = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            results[i] = batch[i].IsSettle ? new OperationResult(default, warnings[nextSettle++]) : new OperationResult(reserved[nextReserve++], []);
        }

        return results;
    }

    private static void Count(int carried, ref long trips, ref long combined)
    {
        if (carried > 0)
        {
            Interlocked.Increment(ref trips);
        }

        if (carried > 1)
        {
            Interlocked.Increment(ref combined);
        }
    }

    // Decides the reserves (in order): from the round trip that already carried them (decided, when reservesDecided; null
    // rows when a counter was missing), else in a round trip of their own; then creates missing counters and reclaims
    // expired leases for the refused ones, each at most once, and tries those again.
    private async Task<ReserveOutcome[]> ReserveAsync(NpgsqlConnection connection, IReadOnlyList<ReserveRequest> batch, long nowMs,
        bool reservesDecided, List<(ReserveOutcome Outcome, bool Expired)>? decided)
    {
        var outcomes = new ReserveOutcome[batch.Count];
        var left = batch;
        var at = Enumerable.Range(0, batch.Count).ToList();
        bool swept = false, ensured = false, first = reservesDecided;
        while (true)
        {
            List<(ReserveOutcome Outcome, bool Expired)>? rows;
            if (first)
            {
                (rows, first) = (decided, false);
            }
            else
            {
                try
                {
                    if (swept)
                    {
                        await SweepAsync(connection, nowMs, CancellationToken.None).ConfigureAwait(false);
                    }

                    await using var alone = new NpgsqlBatch(connection) { BatchCommands = { ReserveCommand(left, nowMs) } };
                    await using var reader = await alone.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
                    rows = await ReadReservesAsync(reader, left).ConfigureAwait(false);
                }
                catch (Exception ex) when (swept && Unreachable(ex))
                {
                    // The server went away while reclaiming expired leases for the refused ones: they stay refused (as they
                    // were decided), and the admitted ones of the first pass keep their results (they are held).
                    return outcomes;
                }
            }

            if (rows is null)
            {
                if (ensured)
                {
                    throw new InvalidOperationException(
                        $"The budget counters of {string.Join(", ", left.SelectMany(r => r.Nodes).Select(n => n.Node).Distinct())} were created but are not found: the ledger {_ledger.Where} is not in a state this version knows.");
                }

                ensured = true;
                await using var ensure = new NpgsqlCommand(EnsureSql, connection);
                ensure.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. left.SelectMany(r => r.Nodes).Select(n => n.Node)] });
                ensure.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. left.SelectMany(r => r.Nodes).Select(n => n.PeriodStart.ToUnixTimeMilliseconds())] });
                ensure.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. left.SelectMany(r => r.Nodes).Select(n => LedgerMoney.ToE10(n.OpeningSpendUsd))] });
                await ensure.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            var refused = new List<int>();
            var expired = false;
            for (var i = 0; i < rows.Count; i++)
            {
                outcomes[at[i]] = rows[i].Outcome;
                if (!rows[i].Outcome.Admitted)
                {
                    refused.Add(i);
                    expired |= rows[i].Expired;
                }
            }

            if (refused.Count == 0 || !expired || swept)
            {
                return outcomes;
            }

            // Some lease ran out unreclaimed: reclaim them (at the top of the loop) and try the refused ones again.
            swept = true;
            (left, at) = ([.. refused.Select(i => left[i])], [.. refused.Select(i => at[i])]);
        }
    }

    // The reserve statement: one reservation alone is the single statement; several are one call of the step-7 function,
    // which decides them in order.
    private static NpgsqlBatchCommand ReserveCommand(IReadOnlyList<ReserveRequest> batch, long nowMs)
    {
        if (batch.Count == 1)
        {
            var one = new NpgsqlBatchCommand(ReserveSql);
            one.Parameters.Add(new NpgsqlParameter<string> { TypedValue = batch[0].Id });
            AddNodes(one.Parameters, batch[0].Nodes, withWarnings: false);
            one.Parameters.Add(new NpgsqlParameter<long> { TypedValue = batch[0].UsdE10 });
            one.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
            one.Parameters.Add(new NpgsqlParameter<long> { TypedValue = batch[0].EndMs });
            return one;
        }

        var first = new int[batch.Count + 1];
        var nodes = new List<SharedBudgetNode>();
        for (var i = 0; i < batch.Count; i++)
        {
            first[i] = nodes.Count + 1;
            nodes.AddRange(batch[i].Nodes);
        }

        first[batch.Count] = nodes.Count + 1;
        var command = new NpgsqlBatchCommand(ReserveBatchSql);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. batch.Select(r => r.Id)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. batch.Select(r => r.UsdE10)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. batch.Select(r => r.EndMs)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = first });
        AddNodes(command.Parameters, nodes, withWarnings: false);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
        return command;
    }

    // The reserve statement's rows, one per reservation in order; null when a counter is missing.
    private static async Task<List<(ReserveOutcome Outcome, bool Expired)>?> ReadReservesAsync(NpgsqlDataReader reader, IReadOnlyList<ReserveRequest> batch)
    {
        if (batch.Count == 1)
        {
            await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
            var (admitted, found, expired) = (reader.GetBoolean(0), reader.GetInt32(1), reader.GetBoolean(3));
            return !admitted && found < batch[0].Nodes.Count ? null : [(Outcome(reader, admitted, refusedAt: 2, stateAt: 4), expired)];
        }

        var rows = new List<(ReserveOutcome Outcome, bool Expired)>(batch.Count);
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            rows.Add((Outcome(reader, reader.GetBoolean(0), refusedAt: 1, stateAt: 3), reader.GetBoolean(2)));
        }

        return rows.Count == 0 ? null : rows.Count == batch.Count ? rows
            : throw new InvalidOperationException($"The budget reservations function answered {rows.Count} of {batch.Count} reservations: the ledger is not in a state this version knows.");
    }

    // One reservation's outcome from its row: the refusing node at column refusedAt, its spend and holds from stateAt.
    private static ReserveOutcome Outcome(NpgsqlDataReader reader, bool admitted, int refusedAt, int stateAt) =>
        admitted || reader.IsDBNull(refusedAt) ? new ReserveOutcome(admitted, null, null, null)
            : new ReserveOutcome(false, reader.GetString(refusedAt), reader.GetInt64(stateAt), reader.GetInt64(stateAt + 1));

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

    private async Task<IReadOnlyList<SharedBudgetWarning>> SettleHeldAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken) =>
        (await _trips.SubmitAsync(new Operation(default, new SettleRequest(reservation, LedgerMoney.ToE10(actualUsd)), IsSettle: true))
            .WaitAsync(cancellationToken).ConfigureAwait(false)).Warnings;

    // The settle statement: one settle alone is the single statement, several the batch statement.
    private static NpgsqlBatchCommand SettleCommand(IReadOnlyList<SettleRequest> batch, long nowMs)
    {
        NpgsqlBatchCommand command;
        if (batch.Count == 1)
        {
            command = new NpgsqlBatchCommand(SettleSql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = batch[0].Reservation.Id });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = batch[0].ActualE10 });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
            AddNodes(command.Parameters, batch[0].Reservation.Nodes, withWarnings: true);
        }
        else
        {
            command = new NpgsqlBatchCommand(SettleBatchSql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. batch.Select(r => r.Reservation.Id)] });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. batch.Select(r => r.ActualE10)] });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = nowMs });
            command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. batch.SelectMany((r, i) => r.Reservation.Nodes.Select(_ => i + 1))] });
            AddNodes(command.Parameters, [.. batch.SelectMany(r => r.Reservation.Nodes)], withWarnings: true);
        }

        return command;
    }

    // The settle statement's rows: the warnings each settle fired.
    private static async Task<IReadOnlyList<SharedBudgetWarning>[]> ReadWarningsAsync(NpgsqlDataReader reader, int settles)
    {
        var warnings = new List<SharedBudgetWarning>[settles];
        for (var i = 0; i < settles; i++)
        {
            warnings[i] = [];
        }

        var single = reader.FieldCount == 2;
        while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var (settle, column) = single ? (0, 0) : (reader.GetInt32(0) - 1, 1);
            warnings[settle].Add(new SharedBudgetWarning(reader.GetString(column),
                decimal.Parse(reader.GetString(column + 1), NumberStyles.Float, CultureInfo.InvariantCulture)));
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

    private static void AddNodes(NpgsqlParameterCollection parameters, IReadOnlyList<SharedBudgetNode> nodes, bool withWarnings)
    {
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. nodes.Select(n => n.Node)] });
        parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. nodes.Select(n => n.PeriodStart.ToUnixTimeMilliseconds())] });
        parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. nodes.Select(n => LedgerMoney.ToE10(n.CapUsd))] });
        if (withWarnings)
        {
            parameters.Add(new NpgsqlParameter<string[]>
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

    private readonly record struct ReserveRequest(string Id, IReadOnlyList<SharedBudgetNode> Nodes, long UsdE10, long EndMs);

    // A refusal carries the refusing node's spend and holds as the deciding statement saw them.
    private readonly record struct ReserveOutcome(bool Admitted, string? RefusedBy, long? RefusedSpentE10, long? RefusedHeldE10);

    private readonly record struct SettleRequest(SharedReservation Reservation, long ActualE10);

    // What a caller queues: a reserve or a settle.
    private readonly record struct Operation(ReserveRequest Reserve, SettleRequest Settle, bool IsSettle);

    // What it gets back: the reserve's outcome, or the settle's warnings.
    private readonly record struct OperationResult(ReserveOutcome Reserve, IReadOnlyList<SharedBudgetWarning> Warnings);
}
