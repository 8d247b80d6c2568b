using System.Globalization;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The ledger's schema as an ordered list of forward migrations. <c>PRAGMA user_version</c> holds the number of
/// migrations applied; each step runs in its own transaction together with the version bump, so a crash leaves
/// the file at the previous version or the next one, never in between. Never edit a shipped step: append one.
/// </summary>
internal static class LedgerSchema
{
    /// <summary><c>PRAGMA application_id</c> of a Cage ledger: "CAGE" in ASCII.</summary>
    public const int ApplicationId = 0x43414745;

    // Money: calls.cost_e10 is the cost in units of 1e-10 USD (an exact integer for every catalog price, which are
    // quoted to at most 10 decimals per token × whole tokens); receipts keep raw_alternative/actual as the
    // decimal's invariant text, so any unit and scale round-trips exactly.
    private static readonly string[] Steps =
    [
        // 1: calls, receipts and the indexes that make per-task, per-session, per-day and per-model reads
        //    independent of the ledger's size.
        """
        CREATE TABLE calls (
            id             TEXT    NOT NULL UNIQUE,
            ts_ms          INTEGER NOT NULL,
            session        TEXT,
            task           TEXT,
            agent          TEXT,
            route          TEXT,
            category       TEXT,
            "user"         TEXT,
            provider       TEXT    NOT NULL,
            model          TEXT    NOT NULL,
            input          INTEGER NOT NULL,
            cache_read     INTEGER NOT NULL,
            cache_write_5m INTEGER NOT NULL,
            cache_write_1h INTEGER NOT NULL,
            output         INTEGER NOT NULL,
            reasoning      INTEGER,
            cost_e10       INTEGER,
            cost_source    TEXT    NOT NULL,
            price_key      TEXT,
            usage_status   TEXT    NOT NULL,
            latency_ms     INTEGER NOT NULL,
            ok             INTEGER NOT NULL,
            retries        INTEGER NOT NULL,
            attempt        INTEGER NOT NULL,
            request_id     TEXT,
            error          TEXT,
            tags           TEXT
        );
        CREATE UNIQUE INDEX ux_calls_request_id ON calls(request_id) WHERE request_id IS NOT NULL;
        CREATE INDEX ix_calls_ts ON calls(ts_ms);
        CREATE INDEX ix_calls_task_ts ON calls(task, ts_ms);
        CREATE INDEX ix_calls_session_ts ON calls(session, ts_ms);
        CREATE INDEX ix_calls_model_ts ON calls(model, ts_ms);

        CREATE TABLE receipts (
            id              TEXT    NOT NULL UNIQUE,
            ts_ms           INTEGER NOT NULL,
            call_id         TEXT,
            task            TEXT,
            tool            TEXT    NOT NULL,
            unit            TEXT    NOT NULL,
            raw_alternative TEXT    NOT NULL,
            actual          TEXT    NOT NULL,
            method          TEXT    NOT NULL,
            confidence      REAL    NOT NULL,
            meta            TEXT
        );
        CREATE INDEX ix_receipts_call ON receipts(call_id, ts_ms);
        CREATE INDEX ix_receipts_task ON receipts(task, ts_ms);
        CREATE INDEX ix_receipts_ts ON receipts(ts_ms);

        -- Per-day totals of every report dimension, kept in the same transaction as the calls they sum: a report
        -- reads one row per group and day instead of every call. dim is the ReportDimension; key '' means none
        -- (and is always '' for the day dimension); day is the UTC day number (ts_ms floor-divided by 86400000).
        CREATE TABLE call_totals (
            dim            INTEGER NOT NULL,
            key            TEXT    NOT NULL,
            day            INTEGER NOT NULL,
            calls          INTEGER NOT NULL,
            input          INTEGER NOT NULL,
            cache_read     INTEGER NOT NULL,
            cache_write_5m INTEGER NOT NULL,
            cache_write_1h INTEGER NOT NULL,
            output         INTEGER NOT NULL,
            reasoning      INTEGER NOT NULL,
            cost_e10       INTEGER NOT NULL,
            unpriced       INTEGER NOT NULL,
            missing        INTEGER NOT NULL,
            local          INTEGER NOT NULL,
            PRIMARY KEY (dim, key, day)
        ) WITHOUT ROWID;
        """,

        // 2: task outcome labels (cage outcome), one row per task: the latest label wins.
        """
        CREATE TABLE outcomes (
            task    TEXT    NOT NULL PRIMARY KEY,
            outcome TEXT    NOT NULL,
            ts_ms   INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,

        // 3: per-day receipt totals for the whole-ledger attribution views (roi, recommend), kept in the receipts'
        //    transaction. A receipt whose call the writer could not find is left out of them and marked pending (the
        //    views read pending receipts one by one, joined to their call); receipts stored before this step are pending.
        //    basis 0: the receipt's call (provider, model, route, prompt_k: enough to find its long-context price tier;
        //    written as ceil(prompt-side tokens / 1000) above 32,000 tokens until the writer learned to keep one bucket
        //    per tier, see ReceiptTotals.PromptK; both kinds of row price right); basis 1: call-less, priced at task's
        //    latest call. Sums are exact decimals as invariant text.
        """
        ALTER TABLE receipts ADD COLUMN pending INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX ix_receipts_pending ON receipts(ts_ms) WHERE pending = 1;

        CREATE TABLE receipt_totals (
            day            INTEGER NOT NULL,
            tool           TEXT    NOT NULL,
            unit           TEXT    NOT NULL,
            method         TEXT    NOT NULL,
            basis          INTEGER NOT NULL,
            provider       TEXT    NOT NULL,
            model          TEXT    NOT NULL,
            prompt_k       INTEGER NOT NULL,
            route          TEXT    NOT NULL,
            task           TEXT    NOT NULL,
            receipts       INTEGER NOT NULL,
            raw_alternative TEXT   NOT NULL,
            actual         TEXT    NOT NULL,
            tool_cost      TEXT    NOT NULL,
            added_ms       REAL    NOT NULL,
            eliminated     INTEGER NOT NULL,
            min_confidence REAL    NOT NULL,
            PRIMARY KEY (day, tool, unit, method, basis, provider, model, prompt_k, route, task)
        ) WITHOUT ROWID;
        """,

        // 4: budget state the guard must keep across restarts besides the spend (which is rebuilt from calls): per
        //    node and period, the warnings that fired (a JSON array of threshold keys), an explicit reset and the
        //    opening of a 5-hour window. period_start_ms is Unix ms (DateTimeOffset.MinValue for lifetime budgets).
        """
        CREATE TABLE budget_state (
            node            TEXT    NOT NULL,
            period_start_ms INTEGER NOT NULL,
            reset_at_ms     INTEGER,
            warnings        TEXT    NOT NULL,
            updated_ms      INTEGER NOT NULL,
            PRIMARY KEY (node, period_start_ms)
        ) WITHOUT ROWID;
        """,

        // 5: calls keyed by time (rk = ts_ms * 2^20 + slot, see CallKeys) instead of by rowid with five secondary
        //    indexes: one B-tree per call instead of six, which is what durable ingest at SPEC 9's rate needs. Time
        //    windows are ranges of rk; a Cage id names its own bucket; other ids ("foreign") keep a partial unique
        //    index; per-task reads go through posting lists written once per task and batch. Receipts remember the
        //    rk of the call they point to (call_rk) so joins are rowid lookups. Narrower rows: cost_source and usage_status
        //    are the enums' numbers (CostSource, UsageStatus), and price_key is '' when it is "{provider}/{model}" (the
        //    usual catalog key; NULL still means none). The copy runs in code (KeyedCallsMigration).
        """
        CREATE TABLE calls_keyed (
            rk             INTEGER PRIMARY KEY,
            id             TEXT    NOT NULL,
            foreign_id     INTEGER NOT NULL,
            seq            INTEGER NOT NULL, -- order of arrival among the calls of the same millisecond
            ts_ms          INTEGER NOT NULL,
            session        TEXT,
            task           TEXT,
            agent          TEXT,
            route          TEXT,
            category       TEXT,
            "user"         TEXT,
            provider       TEXT    NOT NULL,
            model          TEXT    NOT NULL,
            input          INTEGER NOT NULL,
            cache_read     INTEGER NOT NULL,
            cache_write_5m INTEGER NOT NULL,
            cache_write_1h INTEGER NOT NULL,
            output         INTEGER NOT NULL,
            reasoning      INTEGER,
            cost_e10       INTEGER,
            cost_source    INTEGER NOT NULL,
            price_key      TEXT,
            usage_status   INTEGER NOT NULL,
            latency_ms     INTEGER NOT NULL,
            ok             INTEGER NOT NULL,
            retries        INTEGER NOT NULL,
            attempt        INTEGER NOT NULL,
            request_id     TEXT,
            error          TEXT,
            tags           TEXT
        );

        -- Posting lists: kind 1 = the rks of one task's calls, written once per task and batch; rks is the ascending
        -- list as unsigned LEB128 varints, the first absolute and the rest as differences.
        CREATE TABLE postings (
            kind  INTEGER NOT NULL,
            key   TEXT    NOT NULL,
            first INTEGER NOT NULL,
            rks   BLOB    NOT NULL,
            PRIMARY KEY (kind, key, first)
        ) WITHOUT ROWID;

        ALTER TABLE receipts ADD COLUMN call_rk INTEGER;
        """,

        // 6: receipts keyed by time like calls (step 5): one B-tree per receipt instead of five. Receipts of a call and
        //    of a task are found through posting lists (kinds 2 and 3); pending receipts through a partial index on rk.
        //    The copy runs in code (KeyedCallsMigration.RunReceipts).
        """
        CREATE TABLE receipts_keyed (
            rk              INTEGER PRIMARY KEY,
            id              TEXT    NOT NULL,
            foreign_id      INTEGER NOT NULL,
            seq             INTEGER NOT NULL,
            ts_ms           INTEGER NOT NULL,
            call_id         TEXT,
            task            TEXT,
            tool            TEXT    NOT NULL,
            unit            TEXT    NOT NULL,
            raw_alternative TEXT    NOT NULL,
            actual          TEXT    NOT NULL,
            method          TEXT    NOT NULL,
            confidence      REAL    NOT NULL,
            meta            TEXT,
            pending         INTEGER NOT NULL,
            call_rk         INTEGER
        );
        """,

        // 7: spend the budget guard charged without a ledger call (BudgetGuard.Charge of a call that is not metered, a
        //    reservation made with a BudgetScope and settled or released with an amount): one row per charge and node,
        //    with the period (period_start_ms, as in budget_state) and the reset in effect (reset_at_ms) it was charged
        //    to, so a restarted guard counts it exactly where the live one did. usd_e10 is 1e-10 USD, like cost_e10.
        //    Keyed by period first: the start-up rebuild reads the current periods' rows as one range.
        """
        CREATE TABLE budget_charges (
            period_start_ms INTEGER NOT NULL,
            node            TEXT    NOT NULL,
            id              TEXT    NOT NULL,
            reset_at_ms     INTEGER,
            at_ms           INTEGER NOT NULL,
            usd_e10         INTEGER NOT NULL,
            tokens          INTEGER NOT NULL,
            unpriced        INTEGER NOT NULL,
            PRIMARY KEY (period_start_ms, node, id)
        ) WITHOUT ROWID;
        """,

        // 8: call_totals gains the route × task pairs (dim 100, key route U+001F task, '' for none on either side), so
        //    the recommend view (spend and tasks per route) and `report --by route,task` read per-day totals instead
        //    of every call. Existing calls are summed into them here.
        """
        INSERT INTO call_totals (dim, key, day, calls, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
                                 cost_e10, unpriced, missing, local)
        SELECT 100, coalesce(route, '') || char(31) || coalesce(task, ''),
               CASE WHEN ts_ms >= 0 THEN ts_ms / 86400000 ELSE (ts_ms + 1) / 86400000 - 1 END,
               count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
               coalesce(sum(reasoning), 0), coalesce(sum(cost_e10), 0), sum(cost_source = 3), sum(usage_status = 1), sum(cost_source = 2)
        FROM calls GROUP BY 2, 3;
        """,

        // 9: the subscription estimator's learned state (SubscriptionEstimator.ExportState: per window and class the
        //    EMA of tokens per percent and its snapshot count, mismatches, the reference reading), one row, replaced on
        //    every change, so the estimator reads the same after a restart.
        """
        CREATE TABLE budget_estimator (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            state      TEXT    NOT NULL,
            updated_ms INTEGER NOT NULL
        );
        """,

        // 10: budget rollups. budget_rollups holds each budget tree a guard registered (spec: BudgetRollup.Spec, its
        //     routing, periods, zone and fallback price; from_ms: the first call time summed; used_ms: when a guard last
        //     started on it). budget_totals holds, per rollup, node and period start, what the stored calls charge
        //     (usd_e10 in 1e-10 USD, tokens, calls without a cost, calls), kept by the writer in each batch's
        //     transaction, so a guard starts from one row per node instead of replaying the current periods' calls.
        """
        CREATE TABLE budget_rollups (
            id      INTEGER PRIMARY KEY,
            spec    TEXT    NOT NULL UNIQUE,
            from_ms INTEGER NOT NULL,
            used_ms INTEGER NOT NULL
        );
        CREATE TABLE budget_totals (
            rollup    INTEGER NOT NULL,
            period_ms INTEGER NOT NULL,
            node      TEXT    NOT NULL,
            usd_e10   INTEGER NOT NULL,
            tokens    INTEGER NOT NULL,
            unpriced  INTEGER NOT NULL,
            calls     INTEGER NOT NULL,
            PRIMARY KEY (rollup, period_ms, node)
        ) WITHOUT ROWID;
        """,

        // 11: calls and spend per UTC hour for the dimensions the dashboard's spend-over-time chart stacks by (model 1,
        //     route 0, agent 4: CallTotals.HourlyDimensions; key '' for none), kept by the writer with call_totals, so an
        //     hourly series reads whole hours from here and only its partial edge hours from the calls. Keyed by hour
        //     first: a series is one range, and the writer appends at the end. Existing calls are summed into it here.
        //     Self-contained (SQL only, no code step), so it can move to any position in this list.
        """
        CREATE TABLE call_totals_hour (
            dim      INTEGER NOT NULL,
            hour     INTEGER NOT NULL,
            key      TEXT    NOT NULL,
            calls    INTEGER NOT NULL,
            cost_e10 INTEGER NOT NULL,
            PRIMARY KEY (dim, hour, key)
        ) WITHOUT ROWID;
        INSERT INTO call_totals_hour (dim, hour, key, calls, cost_e10)
        SELECT d.dim, CASE WHEN c.ts_ms >= 0 THEN c.ts_ms / 3600000 ELSE (c.ts_ms + 1) / 3600000 - 1 END,
               coalesce(CASE d.dim WHEN 0 THEN c.route WHEN 1 THEN c.model ELSE c.agent END, ''),
               count(*), coalesce(sum(c.cost_e10), 0)
        FROM calls c CROSS JOIN (SELECT 0 AS dim UNION ALL SELECT 1 UNION ALL SELECT 4) d
        GROUP BY 1, 2, 3;
        """,

        ReceiptMonthsStep,

        // 13: how many tasks each route has, counted once per route × task pair on the first day the pair has a row in
        //     call_totals (dim 100), kept by the writer (a pair a batch brings that no day had yet), so the tasks per route
        //     of a window that starts before the ledger's first pair read a few rows per route instead of every pair. A
        //     task of no value ('') or a literal '(none)' is not counted, as in the counts that read it. Existing pairs are
        //     counted into it here. Self-contained (SQL only).
        """
        CREATE TABLE route_task_counts (
            route TEXT    NOT NULL,
            day   INTEGER NOT NULL,
            tasks INTEGER NOT NULL,
            PRIMARY KEY (route, day)
        ) WITHOUT ROWID;
        INSERT INTO route_task_counts (route, day, tasks)
        SELECT substr(key, 1, instr(key, char(31)) - 1), first, count(*)
        FROM (SELECT key, min(day) AS first FROM call_totals WHERE dim = 100 GROUP BY key)
        WHERE substr(key, instr(key, char(31)) + 1) NOT IN ('', '(none)')
        GROUP BY 1, 2;
        """,
    ];

    // 12: receipt_totals summed per UTC month, kept by
    //     the writer with receipt_totals, so a window's whole months read one row per month and group instead of one per
    //     day (roi and recommend over the whole ledger read a few hundred rows at any size). day is the month's first UTC
    //     day. Existing rows are summed into it by ReceiptMonths.Migrate (exact decimals, so in code); the step finds
    //     its code by this text, not by its position, so it can move in the list.
    private const string ReceiptMonthsStep =
        """
        CREATE TABLE receipt_totals_month (
            day            INTEGER NOT NULL,
            tool           TEXT    NOT NULL,
            unit           TEXT    NOT NULL,
            method         TEXT    NOT NULL,
            basis          INTEGER NOT NULL,
            provider       TEXT    NOT NULL,
            model          TEXT    NOT NULL,
            prompt_k       INTEGER NOT NULL,
            route          TEXT    NOT NULL,
            task           TEXT    NOT NULL,
            receipts       INTEGER NOT NULL,
            raw_alternative TEXT   NOT NULL,
            actual         TEXT    NOT NULL,
            tool_cost      TEXT    NOT NULL,
            added_ms       REAL    NOT NULL,
            eliminated     INTEGER NOT NULL,
            min_confidence REAL    NOT NULL,
            PRIMARY KEY (day, tool, unit, method, basis, provider, model, prompt_k, route, task)
        ) WITHOUT ROWID;
        """;

    // Runs after the SQL of the step with the same index (0-based), in the same transaction.
    private static readonly Dictionary<int, Action<SqliteConnection, SqliteTransaction, string>> CodeSteps = new()
    {
        [4] = KeyedCallsMigration.Run,
        [5] = KeyedCallsMigration.RunReceipts,
        [Array.IndexOf(Steps, ReceiptMonthsStep)] = ReceiptMonths.Migrate,
    };

    /// <summary>The schema version this code writes: the number of migration steps.</summary>
    public static int LatestVersion => Steps.Length;

    /// <summary>Brings the file up to <see cref="LatestVersion"/>; returns the version it is at afterwards.</summary>
    /// <exception cref="InvalidOperationException">The file is not a Cage ledger, or its schema is newer than this code knows.</exception>
    public static int Migrate(SqliteConnection connection, string path) => Migrate(connection, path, LatestVersion);

    /// <summary>Brings the file up to <paramref name="target"/> (tests build files of earlier versions with it).</summary>
    internal static int Migrate(SqliteConnection connection, string path, int target)
    {
        var applicationId = ScalarInt(connection, "PRAGMA application_id;");
        if (applicationId != 0 && applicationId != ApplicationId)
        {
            throw new InvalidOperationException(
                $"'{path}' is a SQLite file of another application (application_id 0x{applicationId:X8}), not a Cage ledger.");
        }

        var version = ScalarInt(connection, "PRAGMA user_version;");
        ThrowIfNewer(version, path);
        while (version < target)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            // Another process may have migrated between our read and the write lock: read again under the lock.
            version = ScalarInt(connection, "PRAGMA user_version;", transaction);
            ThrowIfNewer(version, path);
            if (version >= target)
            {
                break;
            }

            if (version == 0 && ScalarInt(connection, "SELECT count(*) FROM sqlite_schema WHERE name IN ('calls', 'receipts');", transaction) > 0)
            {
                throw new InvalidOperationException(
                    $"'{path}' already has calls/receipts tables but no Cage schema version; it is not a Cage ledger.");
            }

            Execute(connection, Steps[version], transaction);
            if (CodeSteps.TryGetValue(version, out var code))
            {
                code(connection, transaction, path);
            }

            var next = version + 1;
            Execute(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA user_version = {next}; PRAGMA application_id = {ApplicationId};"), transaction);
            transaction.Commit();
            version = next;
        }

        return version;
    }

    private static void ThrowIfNewer(int version, string path)
    {
        if (version > LatestVersion)
        {
            throw new InvalidOperationException(
                $"The ledger '{path}' has schema version {version}, but this version of Cage knows schema versions up to {LatestVersion}. " +
                "Open it with a newer Cage (the file was left untouched).");
        }
    }

    private static int ScalarInt(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }
}
