using CageNet.Ledger;
using Microsoft.Data.Sqlite;

namespace CageNet.Tests.Sqlite;

/// <summary>Per-task, per-session, per-day and per-model reads must use an index, never scan the whole ledger (SPEC 5).</summary>
public sealed class SqliteLedgerQueryPlanTests
{
    private TestLedger _test = null!;

    [OneTimeSetUp]
    public void OneTimeSetUp() => _test = TestLedger.Create();

    [OneTimeTearDown]
    public void OneTimeTearDown() => _test.Dispose();

    // Calls live in a table keyed by time (rk); a task's calls are found through its posting lists, an id through its
    // bucket or the foreign-id index; receipts keep their own indexes.
    [TestCase(SqliteLedger.CallAtSql, "SEARCH calls USING INTEGER PRIMARY KEY (rowid=?)")]
    [TestCase(SqliteLedger.PostingsSql, "SEARCH postings USING PRIMARY KEY (kind=? AND key=?)")]
    [TestCase("SELECT rk FROM calls WHERE id = $key AND foreign_id <> 0;", "ux_calls_foreign_id")]
    [TestCase("SELECT * FROM calls WHERE rk >= $since * 1048576 AND rk < $until * 1048576 ORDER BY rk;", "SEARCH calls USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")]
    [TestCase(SqliteLedger.ReceiptAtSql, "SEARCH receipts USING INTEGER PRIMARY KEY (rowid=?)")]
    [TestCase("SELECT rk FROM receipts WHERE id = $key AND foreign_id <> 0;", "ux_receipts_foreign_id")]
    [TestCase("SELECT * FROM receipts WHERE rk >= $since * 1048576 AND rk < $until * 1048576 ORDER BY rk;", "SEARCH receipts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")]
    [TestCase("SELECT r.id FROM receipts r WHERE r.pending = 1 AND r.rk >= $since * 1048576;", "ix_receipts_pending")]
    [TestCase("SELECT r.id, c.model FROM receipts r LEFT JOIN calls c ON c.rk = r.call_rk WHERE r.rk >= $since * 1048576;", "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)")]
    public void Lookup_UsesAnIndexInItsOrderNotAFullScan(string sql, string index)
    {
        var plan = Plan(sql);

        Assert.That(plan, Has.Some.Contains(index), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Matches<string>(IsFullScan), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Contains("USE TEMP B-TREE FOR ORDER BY"), string.Join(" | ", plan));
    }

    [Test]
    public void LatestTask_WalksTheTimeKeyBackwardsWithoutSorting()
    {
        var plan = Plan(SqliteLedger.LatestTaskSql);

        // Newest first along the table's own key to the first call that has a task (LIMIT 1), then that millisecond's
        // calls by key range; nothing sorts more than one millisecond's calls.
        Assert.That(plan, Has.Some.StartsWith("SEARCH calls USING INTEGER PRIMARY KEY (rowid>?)"), string.Join(" | ", plan));
        Assert.That(plan, Has.Some.Contains("SCAN calls"), string.Join(" | ", plan));
    }

    [TestCase(ReportDimension.Day)]
    [TestCase(ReportDimension.Model)]
    public void ReportWindow_IsARangeOfTheTimeKey(ReportDimension dimension)
    {
        using var connection = _test.Ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteLedger.ReportSql(dimension, " WHERE rk >= $since * 1048576 AND rk < $until * 1048576");
        command.Parameters.AddWithValue("$since", 0);
        command.Parameters.AddWithValue("$until", 1);

        var plan = Read(command);

        Assert.That(plan, Has.Some.Contains("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), string.Join(" | ", plan));
    }

    [TestCase(ReportDimension.Route, true, true)]
    [TestCase(ReportDimension.Day, false, false)]
    [TestCase(ReportDimension.Session, true, false)]
    public void ReportWholeDays_ReadsTheDailyTotalsNotTheCalls(ReportDimension dimension, bool since, bool until)
    {
        var plan = Plan(SqliteLedger.TotalsSql(dimension, since ? 20_000 : null, until ? 20_100 : null));

        Assert.That(plan, Has.Some.StartsWith("SEARCH call_totals USING PRIMARY KEY (dim=?"), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Contains("calls "), string.Join(" | ", plan));
    }

    private static bool IsFullScan(string step) =>
        step.StartsWith("SCAN calls", StringComparison.Ordinal) || step.StartsWith("SCAN receipts", StringComparison.Ordinal);

    private List<string> Plan(string sql)
    {
        using var connection = _test.Ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var name in new[] { "$key", "$since", "$until", "$kind" })
        {
            if (sql.Contains(name, StringComparison.Ordinal))
            {
                command.Parameters.AddWithValue(name, name == "$key" ? "x" : 0);
            }
        }

        return Read(command);
    }

    private static List<string> Read(SqliteCommand command)
    {
        var plan = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            plan.Add(reader.GetString(3));
        }

        return plan;
    }
}
