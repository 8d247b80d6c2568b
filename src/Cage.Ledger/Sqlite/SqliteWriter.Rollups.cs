using System.Globalization;
using CageNet.Budgets;
using SQLitePCL;

namespace CageNet.Ledger;

/// <summary>
/// The budget rollups the writer keeps (schema step 10): for every budget tree registered in <c>budget_rollups</c>,
/// each stored call's charge per node and period is added to <c>budget_totals</c> in the batch's own transaction, so
/// the rows always equal the stored calls. Every process that writes the file keeps every registered tree, whoever
/// registered it: the specs are read from the file at the start of each batch.
/// </summary>
internal sealed partial class SqliteWriter
{
    private const string RollupListSql = "SELECT id, spec, from_ms FROM budget_rollups ORDER BY id;";

    private const string RollupStampSql = "SELECT count(*), coalesce(max(id), 0), coalesce(sum(from_ms % 1000003), 0) FROM budget_rollups;";

    private const string UpsertRollupSql =
        """
        INSERT INTO budget_totals (rollup, period_ms, node, usd_e10, tokens, unpriced, calls) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
        ON CONFLICT (rollup, period_ms, node) DO UPDATE SET
            usd_e10 = usd_e10 + excluded.usd_e10, tokens = tokens + excluded.tokens,
            unpriced = unpriced + excluded.unpriced, calls = calls + excluded.calls;
        """;

    /// <summary>Rollups not used by a guard for this long are dropped when another is registered.</summary>
    private const long UnusedRollupMs = 30L * 86_400_000;

    /// <summary>At most this many rollups are kept; registering one more drops the least recently used.</summary>
    private const int MaxRollups = 8;

    private readonly List<ActiveRollup> _rollups = [];
    private (long Count, long MaxId, long FromSum) _rollupStamp = (-1, -1, -1);
    private sqlite3_stmt? _rollupStampStatement;
    private sqlite3_stmt? _upsertRollup;

    /// <summary>A registered rollup this writer keeps: its id in the file, its tree, the first call time it sums, and this batch's sums.</summary>
    private sealed record ActiveRollup(long Id, BudgetRollup Rollup, long FromMs)
    {
        public Dictionary<RollupKey, RollupSums> Sums { get; } = [];

        /// <summary>Whether summing a call failed: the rollup is dropped with the batch instead of failing it.</summary>
        public bool Broken { get; set; }
    }

    /// <summary>
    /// Reads the registered rollups again when the table changed since the last batch (inside the batch's transaction,
    /// so no registration can slip between this and the commit). A spec this code cannot rebuild is dropped with its
    /// rows: a later guard start-up registers its tree again rather than trust sums that stopped being kept.
    /// </summary>
    private void RefreshRollups()
    {
        var stamp = _rollupStampStatement ??= Prepare(RollupStampSql);
        if (NativeSqlite.Step(stamp) != raw.SQLITE_ROW)
        {
            NativeSqlite.Reset(stamp);
            throw Error(raw.sqlite3_errcode(_db));
        }

        var current = (raw.sqlite3_column_int64(stamp, 0), raw.sqlite3_column_int64(stamp, 1), raw.sqlite3_column_int64(stamp, 2));
        NativeSqlite.Reset(stamp);
        if (current == _rollupStamp)
        {
            return;
        }

        _rollups.Clear();
        var unreadable = new List<long>();
        using (var list = PrepareOnce(RollupListSql))
        {
            while (NativeSqlite.Step(list) == raw.SQLITE_ROW)
            {
                var id = raw.sqlite3_column_int64(list, 0);
                try
                {
                    _rollups.Add(new ActiveRollup(id, BudgetRollup.FromSpec(raw.sqlite3_column_text(list, 1).utf8_to_string()), raw.sqlite3_column_int64(list, 2)));
                }
                catch (BudgetConfigurationException)
                {
                    unreadable.Add(id);
                }
            }
        }

        foreach (var id in unreadable)
        {
            DropRollup(id);
        }

        _rollupStamp = unreadable.Count == 0 ? current : (-1, -1, -1);
    }

    /// <summary>Adds a stored call (or takes one back, <paramref name="sign"/> −1) to every rollup that sums its time.</summary>
    private void RollUp(CallRecord call, int sign)
    {
        if (_rollups.Count == 0)
        {
            return;
        }

        var ms = call.Timestamp.ToUnixTimeMilliseconds();
        foreach (var rollup in _rollups)
        {
            if (ms >= rollup.FromMs && !rollup.Broken)
            {
                try
                {
                    rollup.Rollup.Add(call, sign, rollup.Sums);
                }
#pragma warning disable CA1031 // A budget rollup never fails the batch: it is dropped, and the next guard start registers its tree again.
                catch (Exception)
#pragma warning restore CA1031
                {
                    rollup.Broken = true;
                }
            }
        }
    }

    /// <summary>Merges the batch's rollup sums into <c>budget_totals</c> (inside the batch's transaction).</summary>
    private void WriteRollups()
    {
        foreach (var rollup in _rollups)
        {
            if (rollup.Broken)
            {
                DropRollup(rollup.Id);
                _rollupStamp = (-1, -1, -1); // read the list again next batch (after this one commits or rolls back)
                continue;
            }

            WriteRollupSums(rollup.Id, rollup.Sums);
        }
    }

    private void WriteRollupSums(long id, Dictionary<RollupKey, RollupSums> sums)
    {
        if (sums.Count == 0)
        {
            return;
        }

        var s = _upsertRollup ??= Prepare(UpsertRollupSql);
        foreach (var (key, row) in sums)
        {
            if (row.Calls == 0 && row.Usd == 0 && row.Tokens == 0 && row.Unpriced == 0)
            {
                continue;
            }

            NativeSqlite.BindInt64(s, 1, id);
            NativeSqlite.BindInt64(s, 2, key.PeriodStartMs);
            BindText(s, 3, key.Node);
            NativeSqlite.BindInt64(s, 4, row.Usd);
            NativeSqlite.BindInt64(s, 5, row.Tokens);
            NativeSqlite.BindInt64(s, 6, row.Unpriced);
            NativeSqlite.BindInt64(s, 7, row.Calls);
            StepInsert(s);
        }
    }

    private void ClearRollupSums()
    {
        foreach (var rollup in _rollups)
        {
            rollup.Sums.Clear();
        }
    }

    /// <summary>
    /// Registers a budget tree's rollup, or extends one that covers too little, in one transaction: the stored calls
    /// from <paramref name="coverFromMs"/> on are summed (read through <paramref name="readCalls"/> while this
    /// connection holds the write lock, so no batch commits in between), then every later batch keeps the rows.
    /// Returns at once when another process registered it meanwhile.
    /// </summary>
    public void RegisterRollup(BudgetRollup rollup, long coverFromMs, long nowMs, Func<long, IEnumerable<CallRecord>> readCalls)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Step(_begin);
            try
            {
                long? id = null;
                using (var find = PrepareOnce("SELECT id, from_ms FROM budget_rollups WHERE spec = ?1;"))
                {
                    BindText(find, 1, rollup.Spec);
                    if (NativeSqlite.Step(find) == raw.SQLITE_ROW)
                    {
                        if (raw.sqlite3_column_int64(find, 1) <= coverFromMs)
                        {
                            NativeSqlite.Reset(find);
                            Step(_commit);
                            return; // registered by another writer since the caller looked
                        }

                        id = raw.sqlite3_column_int64(find, 0);
                    }
                }

                if (id is { } stale)
                {
                    ExecOnce(string.Create(CultureInfo.InvariantCulture, $"DELETE FROM budget_totals WHERE rollup = {stale};"));
                    ExecOnce(string.Create(CultureInfo.InvariantCulture, $"UPDATE budget_rollups SET from_ms = {coverFromMs}, used_ms = {nowMs} WHERE id = {stale};"));
                }
                else
                {
                    PruneRollups(nowMs);
                    using var insert = PrepareOnce("INSERT INTO budget_rollups (spec, from_ms, used_ms) VALUES (?1, ?2, ?3);");
                    BindText(insert, 1, rollup.Spec);
                    NativeSqlite.BindInt64(insert, 2, coverFromMs);
                    NativeSqlite.BindInt64(insert, 3, nowMs);
                    StepInsert(insert);
                    id = raw.sqlite3_last_insert_rowid(_db);
                }

                var sums = new Dictionary<RollupKey, RollupSums>();
                foreach (var call in readCalls(coverFromMs))
                {
                    rollup.Add(call, 1, sums);
                }

                WriteRollupSums(id.Value, sums);
                Step(_commit);
            }
            catch
            {
                RollBack();
                throw;
            }
            finally
            {
                _rollupStamp = (-1, -1, -1); // the next batch reads the list again
            }
        }
    }

    /// <summary>Marks a rollup as used by a guard at <paramref name="nowMs"/> (so it is not pruned as unused).</summary>
    public void TouchRollup(long id, long nowMs)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ExecOnce(string.Create(CultureInfo.InvariantCulture, $"UPDATE budget_rollups SET used_ms = max(used_ms, {nowMs}) WHERE id = {id};"));
        }
    }

    /// <summary>Drops rollups unused for 30 days, and the least recently used beyond the newest <see cref="MaxRollups"/> − 1.</summary>
    private void PruneRollups(long nowMs)
    {
        var drop = new List<long>();
        using (var list = PrepareOnce("SELECT id, used_ms FROM budget_rollups ORDER BY used_ms DESC, id DESC;"))
        {
            var kept = 0;
            while (NativeSqlite.Step(list) == raw.SQLITE_ROW)
            {
                var id = raw.sqlite3_column_int64(list, 0);
                if (raw.sqlite3_column_int64(list, 1) < nowMs - UnusedRollupMs || ++kept >= MaxRollups)
                {
                    drop.Add(id);
                }
            }
        }

        foreach (var id in drop)
        {
            DropRollup(id);
        }
    }

    private void DropRollup(long id)
    {
        ExecOnce(string.Create(CultureInfo.InvariantCulture, $"DELETE FROM budget_totals WHERE rollup = {id};"));
        ExecOnce(string.Create(CultureInfo.InvariantCulture, $"DELETE FROM budget_rollups WHERE id = {id};"));
    }

    /// <summary>A statement used once (not kept prepared); dispose it.</summary>
    private StatementScope PrepareOnce(string sql)
    {
        var rc = raw.sqlite3_prepare_v2(_db, sql, out var statement);
        return rc == raw.SQLITE_OK ? new StatementScope(statement) : throw Error(rc);
    }

    private void ExecOnce(string sql)
    {
        var rc = raw.sqlite3_exec(_db, sql);
        if (rc != raw.SQLITE_OK)
        {
            throw Error(rc);
        }
    }

    /// <summary>A prepared statement finalized on dispose; converts to the statement.</summary>
    private readonly struct StatementScope(sqlite3_stmt statement) : IDisposable
    {
        public static implicit operator sqlite3_stmt(StatementScope scope) => scope.Statement;

        public sqlite3_stmt Statement => statement;

        public void Dispose() => statement.Dispose();
    }
}
