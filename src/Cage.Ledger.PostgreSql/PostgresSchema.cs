using System.Globalization;
using Npgsql;

namespace CageNet.Ledger;

/// <summary>
/// The PostgreSQL ledger's schema as an ordered list of forward migrations, recorded in <c>cage_schema</c> (one row per
/// applied step). Migrations run under a session advisory lock, so many instances starting together migrate once: the
/// first takes the lock and applies the steps, the others wait for it and then find nothing left to do. Each step runs in
/// its own transaction together with its row in <c>cage_schema</c>. Never edit a shipped step: append one.
/// </summary>
/// <remarks>
/// The column types mirror the SQLite ledger's (costs as integers of 1e-10 USD, receipt amounts as the decimal's
/// invariant text, the enums as their numbers), so one reader maps rows of both. <c>seq</c> is the order of arrival,
/// which orders calls of the same millisecond; <c>day</c> is the UTC day number (floor of <c>ts_ms</c> / 86,400,000).
/// </remarks>
internal static class PostgresSchema
{
    /// <summary>The advisory lock key the migrations hold ("CAGE" in ASCII, then 1).</summary>
    public const long MigrationLock = 0x4341_4745_0000_0001;

    private static readonly string[] Steps =
    [
        // 1: calls, receipts, outcomes, the maintained per-day totals (call_totals for report, receipt_totals for roi and
        //    recommend), and the budget guard's durable state (budget_state, budget_charges), as in the SQLite schema.
        """
        CREATE TABLE calls (
            id             text     NOT NULL PRIMARY KEY,
            seq            bigint   GENERATED ALWAYS AS IDENTITY,
            ts_ms          bigint   NOT NULL,
            day            integer  NOT NULL,
            session        text,
            task           text,
            agent          text,
            route          text,
            category       text,
            "user"         text,
            provider       text     NOT NULL,
            model          text     NOT NULL,
            input          bigint   NOT NULL,
            cache_read     bigint   NOT NULL,
            cache_write_5m bigint   NOT NULL,
            cache_write_1h bigint   NOT NULL,
            output         bigint   NOT NULL,
            reasoning      bigint,
            cost_e10       bigint,
            cost_source    smallint NOT NULL,
            price_key      text,
            usage_status   smallint NOT NULL,
            latency_ms     bigint   NOT NULL,
            ok             smallint NOT NULL,
            retries        integer  NOT NULL,
            attempt        integer  NOT NULL,
            request_id     text,
            error          text,
            tags           text
        );
        CREATE UNIQUE INDEX ux_calls_request_id ON calls (request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX ix_calls_ts ON calls (ts_ms, seq);
        CREATE INDEX ix_calls_task ON calls (task, ts_ms, seq) WHERE task IS NOT NULL;

        CREATE TABLE receipts (
            id              text             NOT NULL PRIMARY KEY,
            seq             bigint           GENERATED ALWAYS AS IDENTITY,
            ts_ms           bigint           NOT NULL,
            call_id         text,
            task            text,
            tool            text             NOT NULL,
            unit            text             NOT NULL,
            raw_alternative text             NOT NULL,
            actual          text             NOT NULL,
            method          text             NOT NULL,
            confidence      double precision NOT NULL,
            meta            text,
            -- true when the receipt's call was unknown when it was stored: left out of receipt_totals, read one by one.
            pending         boolean          NOT NULL
        );
        CREATE INDEX ix_receipts_ts ON receipts (ts_ms, seq);
        CREATE INDEX ix_receipts_call ON receipts (call_id) WHERE call_id IS NOT NULL;
        CREATE INDEX ix_receipts_task ON receipts (task) WHERE task IS NOT NULL;
        CREATE INDEX ix_receipts_pending ON receipts (ts_ms) WHERE pending;

        CREATE TABLE call_totals (
            dim            smallint NOT NULL,
            key            text     NOT NULL,
            day            integer  NOT NULL,
            calls          bigint   NOT NULL,
            input          bigint   NOT NULL,
            cache_read     bigint   NOT NULL,
            cache_write_5m bigint   NOT NULL,
            cache_write_1h bigint   NOT NULL,
            output         bigint   NOT NULL,
            reasoning      bigint   NOT NULL,
            cost_e10       bigint   NOT NULL,
            unpriced       bigint   NOT NULL,
            missing        bigint   NOT NULL,
            local          bigint   NOT NULL,
            PRIMARY KEY (dim, key, day)
        );

        CREATE TABLE receipt_totals (
            day             integer          NOT NULL,
            tool            text             NOT NULL,
            unit            text             NOT NULL,
            method          text             NOT NULL,
            basis           smallint         NOT NULL,
            provider        text             NOT NULL,
            model           text             NOT NULL,
            prompt_k        bigint           NOT NULL,
            route           text             NOT NULL,
            task            text             NOT NULL,
            receipts        bigint           NOT NULL,
            raw_alternative numeric          NOT NULL,
            actual          numeric          NOT NULL,
            tool_cost       numeric          NOT NULL,
            added_ms        double precision NOT NULL,
            eliminated      bigint           NOT NULL,
            min_confidence  double precision NOT NULL,
            PRIMARY KEY (day, tool, unit, method, basis, provider, model, prompt_k, route, task)
        );

        CREATE TABLE outcomes (
            task    text   NOT NULL PRIMARY KEY,
            outcome text   NOT NULL,
            ts_ms   bigint NOT NULL
        );

        CREATE TABLE budget_state (
            node            text   NOT NULL,
            period_start_ms bigint NOT NULL,
            reset_at_ms     bigint,
            warnings        text   NOT NULL,
            updated_ms      bigint NOT NULL,
            PRIMARY KEY (node, period_start_ms)
        );

        CREATE TABLE budget_charges (
            period_start_ms bigint  NOT NULL,
            node            text    NOT NULL,
            id              text    NOT NULL,
            reset_at_ms     bigint,
            at_ms           bigint  NOT NULL,
            usd_e10         bigint  NOT NULL,
            tokens          bigint  NOT NULL,
            unpriced        boolean NOT NULL,
            PRIMARY KEY (period_start_ms, node, id)
        );
        """,

        // 2: budgets shared by every instance (PostgresBudgetReservations). budget_counters: per node and period, the
        //    settled spend and the sum of live holds (1e-10 USD). budget_holds: one row per reservation and node, with its
        //    lease; a hold whose lease ran out (its process died) is reclaimed by the next reservation on that node.
        //    budget_warnings: a threshold fired once per node and period for the whole fleet. The functions lock the
        //    counters they touch in node order, so reservations on overlapping trees never deadlock, and check and hold
        //    every node in one round trip.
        """
        CREATE TABLE budget_counters (
            node            text   NOT NULL,
            period_start_ms bigint NOT NULL,
            spent_e10       bigint NOT NULL,
            held_e10        bigint NOT NULL,
            PRIMARY KEY (node, period_start_ms)
        );

        CREATE TABLE budget_holds (
            id              text    NOT NULL,
            node            text    NOT NULL,
            period_start_ms bigint  NOT NULL,
            usd_e10         bigint  NOT NULL,
            expires_ms      bigint  NOT NULL,
            reclaimed       boolean NOT NULL DEFAULT false,
            PRIMARY KEY (id, node)
        );
        CREATE INDEX ix_budget_holds_node ON budget_holds (node, period_start_ms, expires_ms) WHERE NOT reclaimed;

        CREATE TABLE budget_warnings (
            node            text   NOT NULL,
            period_start_ms bigint NOT NULL,
            threshold       text   NOT NULL,
            fired_ms        bigint NOT NULL,
            PRIMARY KEY (node, period_start_ms, threshold)
        );

        -- Admits a reservation of p_usd on every node (p_nodes[i] in period p_periods[i], capped at p_caps[i]) or none:
        -- returns NULL when admitted, else the first node (in node order) whose spend + holds + p_usd exceeds its cap.
        CREATE FUNCTION cage_budget_reserve(p_id text, p_nodes text[], p_periods bigint[], p_caps bigint[], p_usd bigint,
                                            p_now bigint, p_lease_ms bigint) RETURNS text
        LANGUAGE plpgsql AS $fn$
        DECLARE
            refused text;
        BEGIN
            -- Holds are leases: this transaction need not wait for its WAL flush (a server crash may lose the last
            -- fraction of a second of holds; a lost hold only frees headroom early, as an expired lease would).
            PERFORM set_config('synchronous_commit', 'off', true);
            INSERT INTO budget_counters (node, period_start_ms, spent_e10, held_e10)
            SELECT n, p, 0, 0 FROM unnest(p_nodes, p_periods) AS t (n, p)
            ORDER BY 1 ON CONFLICT DO NOTHING;
            PERFORM 1 FROM budget_counters c JOIN unnest(p_nodes, p_periods) AS t (n, p) ON c.node = t.n AND c.period_start_ms = t.p
            ORDER BY c.node FOR UPDATE OF c;
            -- Leases that ran out give their headroom back (their process died or hung).
            WITH gone AS (
                UPDATE budget_holds h SET reclaimed = true FROM unnest(p_nodes, p_periods) AS t (n, p)
                WHERE h.node = t.n AND h.period_start_ms = t.p AND NOT h.reclaimed AND h.expires_ms <= p_now
                RETURNING h.node, h.period_start_ms, h.usd_e10)
            UPDATE budget_counters c SET held_e10 = c.held_e10 - g.s
            FROM (SELECT node, period_start_ms, sum(usd_e10) AS s FROM gone GROUP BY 1, 2) g
            WHERE c.node = g.node AND c.period_start_ms = g.period_start_ms;
            SELECT c.node INTO refused
            FROM budget_counters c JOIN unnest(p_nodes, p_periods, p_caps) AS t (n, p, cap) ON c.node = t.n AND c.period_start_ms = t.p
            WHERE c.spent_e10 + c.held_e10 + p_usd > t.cap
            ORDER BY c.node LIMIT 1;
            IF refused IS NOT NULL THEN
                RETURN refused;
            END IF;
            INSERT INTO budget_holds (id, node, period_start_ms, usd_e10, expires_ms)
            SELECT p_id, n, p, p_usd, p_now + p_lease_ms FROM unnest(p_nodes, p_periods) AS t (n, p);
            UPDATE budget_counters c SET held_e10 = c.held_e10 + p_usd
            FROM unnest(p_nodes, p_periods) AS t (n, p) WHERE c.node = t.n AND c.period_start_ms = t.p;
            RETURN NULL;
        END
        $fn$;

        -- Settles a reservation: its holds go (unless already reclaimed) and p_usd is added to every node's spend, even
        -- after the lease ran out (the call happened). Returns the warning thresholds this settle crossed that no instance
        -- fired before: p_warn[i] lists node i's thresholds as fractions of its cap. A reservation settles once.
        CREATE FUNCTION cage_budget_settle(p_id text, p_usd bigint, p_now bigint, p_nodes text[], p_periods bigint[], p_caps bigint[],
                                           p_warn text[]) RETURNS TABLE (node text, threshold text)
        LANGUAGE plpgsql AS $fn$
        #variable_conflict use_column
        BEGIN
            -- Like reserve: no wait for the WAL flush (see docs/postgres.md on what a server crash can lose).
            PERFORM set_config('synchronous_commit', 'off', true);
            PERFORM 1 FROM budget_counters c JOIN budget_holds h ON h.node = c.node AND h.period_start_ms = c.period_start_ms
            WHERE h.id = p_id ORDER BY c.node FOR UPDATE OF c;
            WITH settled AS (
                DELETE FROM budget_holds h WHERE h.id = p_id RETURNING h.node, h.period_start_ms, h.usd_e10, h.reclaimed)
            UPDATE budget_counters c SET held_e10 = c.held_e10 - CASE WHEN s.reclaimed THEN 0 ELSE s.usd_e10 END,
                                         spent_e10 = c.spent_e10 + p_usd
            FROM settled s WHERE c.node = s.node AND c.period_start_ms = s.period_start_ms;
            RETURN QUERY
            WITH crossed AS (
                SELECT c.node, c.period_start_ms, w.threshold
                FROM budget_counters c
                JOIN unnest(p_nodes, p_periods, p_caps, p_warn) AS t (n, p, cap, warn) ON c.node = t.n AND c.period_start_ms = t.p
                CROSS JOIN LATERAL unnest(string_to_array(nullif(t.warn, ''), ',')) AS w (threshold)
                WHERE c.spent_e10 >= t.cap * w.threshold::numeric)
            INSERT INTO budget_warnings AS bw (node, period_start_ms, threshold, fired_ms)
            SELECT cr.node, cr.period_start_ms, cr.threshold, p_now FROM crossed cr ORDER BY 1, 3
            ON CONFLICT DO NOTHING
            RETURNING bw.node, bw.threshold;
        END
        $fn$;
        """,

        // 3: reservations as single statements (PostgresBudgetReservations). A reservation is one row of budget_leases
        //    (its nodes, periods, amount and lease) instead of one budget_holds row per node, and the reserve, settle and
        //    sweep are plain statements sent by the client, so the step-2 functions go. A lease already reclaimed on some
        //    of its nodes under step 2 gives back its holds on the others now, so every lease is either live or reclaimed.
        """
        UPDATE budget_counters c SET held_e10 = c.held_e10 - h.s
        FROM (SELECT node, period_start_ms, sum(usd_e10) AS s FROM budget_holds
              WHERE NOT reclaimed AND id IN (SELECT id FROM budget_holds WHERE reclaimed) GROUP BY 1, 2) h
        WHERE c.node = h.node AND c.period_start_ms = h.period_start_ms;

        CREATE TABLE budget_leases (
            id         text     NOT NULL PRIMARY KEY,
            nodes      text[]   NOT NULL,
            periods    bigint[] NOT NULL,
            usd_e10    bigint   NOT NULL,
            expires_ms bigint   NOT NULL,
            reclaimed  boolean  NOT NULL DEFAULT false
        );
        CREATE INDEX ix_budget_leases_live ON budget_leases (expires_ms) WHERE NOT reclaimed;
        INSERT INTO budget_leases (id, nodes, periods, usd_e10, expires_ms, reclaimed)
        SELECT id, array_agg(node ORDER BY node), array_agg(period_start_ms ORDER BY node), max(usd_e10), max(expires_ms), bool_or(reclaimed)
        FROM budget_holds GROUP BY id;

        DROP TABLE budget_holds;
        DROP FUNCTION cage_budget_reserve(text, text[], bigint[], bigint[], bigint, bigint, bigint);
        DROP FUNCTION cage_budget_settle(text, bigint, bigint, text[], bigint[], bigint[], text[]);
        """,

        // 4: the subscription estimator's learned state (PostgresBudgetStore), one row, as in the SQLite schema's step 9.
        """
        CREATE TABLE budget_estimator (
            id         integer NOT NULL PRIMARY KEY CHECK (id = 1),
            state      text    NOT NULL,
            updated_ms bigint  NOT NULL
        );
        """,

        // 5: the calls of a task are found through a hash index on task instead of a B-tree on (task, ts_ms, seq): the
        //    per-task reads look a task up by equality and sort its few calls, and a hash entry costs ingest much less.
        """
        DROP INDEX ix_calls_task;
        CREATE INDEX ix_calls_task ON calls USING hash (task) WHERE task IS NOT NULL;
        """,

        // 6: combined reservations (PostgresBudgetReservations): the reservations one process queued while its previous
        //    round trip was in flight go to the server together, and this function decides them one after the other in
        //    that order, each all-or-none across its nodes, in one transaction. p_first[i] .. p_first[i + 1] - 1 are the
        //    positions of reservation i's nodes in p_nodes, p_periods and p_caps. It locks every counter of the batch in
        //    node order, then reads their latest committed spend and holds (a new snapshot, after the locks), so what it
        //    decides on cannot change until it commits; a reservation is admitted when spend + holds + what this batch
        //    admitted before it + its amount is within the cap on each of its nodes. Returns one row per reservation in
        //    order (admitted, the first node in node order that refused, whether some lease has run out unreclaimed), or
        //    no rows when a counter is missing (nothing is held: the caller creates the counters and sends it again).
        """
        CREATE FUNCTION cage_budget_reserve_batch(p_ids text[], p_usd bigint[], p_ends bigint[], p_first integer[],
                                                  p_nodes text[], p_periods bigint[], p_caps bigint[], p_now bigint)
            RETURNS TABLE (admitted boolean, refused text, expired boolean)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            c_nodes   text[];
            c_periods bigint[];
            used      bigint[];
            added     bigint[];
            k         integer[];
            ok        boolean[];
            why       text[];
            bad       text;
            reserves  integer := cardinality(p_ids);
            any_out   boolean;
        BEGIN
            PERFORM 1 FROM budget_counters c
            JOIN (SELECT DISTINCT n, p FROM unnest(p_nodes, p_periods) AS t (n, p)) d ON c.node = d.n AND c.period_start_ms = d.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c;
            SELECT array_agg(c.node ORDER BY c.node COLLATE "C", c.period_start_ms),
                   array_agg(c.period_start_ms ORDER BY c.node COLLATE "C", c.period_start_ms),
                   array_agg(c.spent_e10 + c.held_e10 ORDER BY c.node COLLATE "C", c.period_start_ms)
            INTO c_nodes, c_periods, used
            FROM budget_counters c
            JOIN (SELECT DISTINCT n, p FROM unnest(p_nodes, p_periods) AS t (n, p)) d ON c.node = d.n AND c.period_start_ms = d.p;
            SELECT array_agg(x.pos ORDER BY t.r) INTO k
            FROM unnest(p_nodes, p_periods) WITH ORDINALITY AS t (n, p, r)
            LEFT JOIN unnest(c_nodes, c_periods) WITH ORDINALITY AS x (n, p, pos) ON x.n = t.n AND x.p = t.p;
            IF c_nodes IS NULL OR array_position(k, NULL) IS NOT NULL THEN
                RETURN;
            END IF;
            added := array_fill(0::bigint, ARRAY[cardinality(c_nodes)]);
            ok := array_fill(false, ARRAY[reserves]);
            why := array_fill(NULL::text, ARRAY[reserves]);
            FOR i IN 1 .. reserves LOOP
                bad := NULL;
                FOR j IN p_first[i] .. p_first[i + 1] - 1 LOOP
                    IF used[k[j]] + added[k[j]] + p_usd[i] > p_caps[j] AND (bad IS NULL OR p_nodes[j] COLLATE "C" < bad COLLATE "C") THEN
                        bad := p_nodes[j];
                    END IF;
                END LOOP;
                IF bad IS NULL THEN
                    FOR j IN p_first[i] .. p_first[i + 1] - 1 LOOP
                        added[k[j]] := added[k[j]] + p_usd[i];
                    END LOOP;
                    ok[i] := true;
                ELSE
                    why[i] := bad;
                END IF;
            END LOOP;
            UPDATE budget_counters c SET held_e10 = c.held_e10 + a.s
            FROM unnest(c_nodes, c_periods, added) AS a (n, p, s)
            WHERE a.s <> 0 AND c.node = a.n AND c.period_start_ms = a.p;
            INSERT INTO budget_leases (id, nodes, periods, usd_e10, expires_ms)
            SELECT p_ids[i], p_nodes[p_first[i] : p_first[i + 1] - 1], p_periods[p_first[i] : p_first[i + 1] - 1], p_usd[i], p_ends[i]
            FROM generate_series(1, reserves) AS i WHERE ok[i];
            any_out := NOT (true = ALL (ok)) AND EXISTS (SELECT 1 FROM budget_leases WHERE NOT reclaimed AND expires_ms <= p_now);
            RETURN QUERY SELECT ok[i], why[i], NOT ok[i] AND any_out FROM generate_series(1, reserves) AS i ORDER BY i;
        END
        $fn$;
        """,

        // 7: the step-6 function also answers, for each refused reservation, the refusing node's settled spend and its holds
        //    (those committed before plus what this batch admitted before it), so a refusal tells the caller what the fleet
        //    has on that node without another round trip. The new columns come last: an instance of the previous version,
        //    which reads the first three, keeps working during a rolling upgrade.
        """
        DROP FUNCTION cage_budget_reserve_batch(text[], bigint[], bigint[], integer[], text[], bigint[], bigint[], bigint);
        CREATE FUNCTION cage_budget_reserve_batch(p_ids text[], p_usd bigint[], p_ends bigint[], p_first integer[],
                                                  p_nodes text[], p_periods bigint[], p_caps bigint[], p_now bigint)
            RETURNS TABLE (admitted boolean, refused text, expired boolean, refused_spent bigint, refused_held bigint)
        LANGUAGE plpgsql AS $fn$
        DECLARE
            c_nodes   text[];
            c_periods bigint[];
            spent     bigint[];
            held      bigint[];
            added     bigint[];
            k         integer[];
            ok        boolean[];
            why       text[];
            why_spent bigint[];
            why_held  bigint[];
            bad       text;
            bad_at    integer;
            reserves  integer := cardinality(p_ids);
            any_out   boolean;
        BEGIN
            PERFORM 1 FROM budget_counters c
            JOIN (SELECT DISTINCT n, p FROM unnest(p_nodes, p_periods) AS t (n, p)) d ON c.node = d.n AND c.period_start_ms = d.p
            ORDER BY c.node COLLATE "C", c.period_start_ms FOR NO KEY UPDATE OF c;
            SELECT array_agg(c.node ORDER BY c.node COLLATE "C", c.period_start_ms),
                   array_agg(c.period_start_ms ORDER BY c.node COLLATE "C", c.period_start_ms),
                   array_agg(c.spent_e10 ORDER BY c.node COLLATE "C", c.period_start_ms),
                   array_agg(c.held_e10 ORDER BY c.node COLLATE "C", c.period_start_ms)
            INTO c_nodes, c_periods, spent, held
            FROM budget_counters c
            JOIN (SELECT DISTINCT n, p FROM unnest(p_nodes, p_periods) AS t (n, p)) d ON c.node = d.n AND c.period_start_ms = d.p;
            SELECT array_agg(x.pos ORDER BY t.r) INTO k
            FROM unnest(p_nodes, p_periods) WITH ORDINALITY AS t (n, p, r)
            LEFT JOIN unnest(c_nodes, c_periods) WITH ORDINALITY AS x (n, p, pos) ON x.n = t.n AND x.p = t.p;
            IF c_nodes IS NULL OR array_position(k, NULL) IS NOT NULL THEN
                RETURN;
            END IF;
            added := array_fill(0::bigint, ARRAY[cardinality(c_nodes)]);
            ok := array_fill(false, ARRAY[reserves]);
            why := array_fill(NULL::text, ARRAY[reserves]);
            why_spent := array_fill(NULL::bigint, ARRAY[reserves]);
            why_held := array_fill(NULL::bigint, ARRAY[reserves]);
            FOR i IN 1 .. reserves LOOP
                bad := NULL;
                FOR j IN p_first[i] .. p_first[i + 1] - 1 LOOP
                    IF spent[k[j]] + held[k[j]] + added[k[j]] + p_usd[i] > p_caps[j] AND (bad IS NULL OR p_nodes[j] COLLATE "C" < bad COLLATE "C") THEN
                        bad := p_nodes[j];
                        bad_at := k[j];
                    END IF;
                END LOOP;
                IF bad IS NULL THEN
                    FOR j IN p_first[i] .. p_first[i + 1] - 1 LOOP
                        added[k[j]] := added[k[j]] + p_usd[i];
                    END LOOP;
                    ok[i] := true;
                ELSE
                    why[i] := bad;
                    why_spent[i] := spent[bad_at];
                    why_held[i] := held[bad_at] + added[bad_at];
                END IF;
            END LOOP;
            UPDATE budget_counters c SET held_e10 = c.held_e10 + a.s
            FROM unnest(c_nodes, c_periods, added) AS a (n, p, s)
            WHERE a.s <> 0 AND c.node = a.n AND c.period_start_ms = a.p;
            INSERT INTO budget_leases (id, nodes, periods, usd_e10, expires_ms)
            SELECT p_ids[i], p_nodes[p_first[i] : p_first[i + 1] - 1], p_periods[p_first[i] : p_first[i + 1] - 1], p_usd[i], p_ends[i]
            FROM generate_series(1, reserves) AS i WHERE ok[i];
            any_out := NOT (true = ALL (ok)) AND EXISTS (SELECT 1 FROM budget_leases WHERE NOT reclaimed AND expires_ms <= p_now);
            RETURN QUERY SELECT ok[i], why[i], NOT ok[i] AND any_out, why_spent[i], why_held[i] FROM generate_series(1, reserves) AS i ORDER BY i;
        END
        $fn$;
        """,
    ];

    /// <summary>The schema version this code writes: the number of migration steps.</summary>
    public static int LatestVersion => Steps.Length;

    /// <summary>Brings the database up to <see cref="LatestVersion"/> under the advisory lock; returns the version it is at afterwards.</summary>
    /// <exception cref="InvalidOperationException">The database has a newer Cage schema than this code knows, or Cage-named tables that Cage did not create.</exception>
    public static Task<int> MigrateAsync(NpgsqlConnection connection, string where, CancellationToken cancellationToken) =>
        MigrateAsync(connection, where, LatestVersion, cancellationToken);

    /// <summary>Brings the database up to <paramref name="target"/> (tests build an older schema with it).</summary>
    internal static async Task<int> MigrateAsync(NpgsqlConnection connection, string where, int target, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"SELECT pg_advisory_lock({MigrationLock});"), null, cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection,
                "CREATE TABLE IF NOT EXISTS cage_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
                null, cancellationToken).ConfigureAwait(false);
            var version = await VersionAsync(connection, cancellationToken).ConfigureAwait(false);
            if (version > LatestVersion)
            {
                throw new InvalidOperationException(
                    $"The Cage ledger {where} has schema version {version}, but this version of Cage knows schema versions up to {LatestVersion}. " +
                    "Use a newer Cage (the database was left untouched).");
            }

            if (version == 0 && await ScalarAsync(connection,
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('calls', 'receipts');",
                    cancellationToken).ConfigureAwait(false) > 0)
            {
                throw new InvalidOperationException(
                    $"The database {where} already has calls/receipts tables but no Cage schema version; it is not a Cage ledger (use another database or schema).");
            }

            while (version < target)
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, Steps[version], transaction, cancellationToken).ConfigureAwait(false);
                version++;
                await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"INSERT INTO cage_schema (version) VALUES ({version});"),
                    transaction, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return version;
        }
        finally
        {
            await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"SELECT pg_advisory_unlock({MigrationLock});"), null, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The number of migration steps applied (0 for a database without Cage's tables).</summary>
    public static async Task<int> VersionAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        (int)await ScalarAsync(connection, "SELECT coalesce(max(version), 0) FROM cage_schema;", cancellationToken).ConfigureAwait(false);

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
