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

    [TestCase(SqliteLedger.CallsForTaskSql, "ix_calls_task_ts")]
    [TestCase("SELECT * FROM calls WHERE session = $key ORDER BY ts_ms, rowid;", "ix_calls_session_ts")]
    [TestCase("SELECT * FROM calls WHERE ts_ms >= $since AND ts_ms < $until ORDER BY ts_ms, rowid;", "ix_calls_ts")]
    [TestCase("SELECT * FROM calls WHERE model = $key AND ts_ms >= $since ORDER BY ts_ms, rowid;", "ix_calls_model_ts")]
    [TestCase(SqliteLedger.ReceiptsForCallSql, "ix_receipts_call")]
    [TestCase(SqliteLedger.FindCallSql, "sqlite_autoindex_calls_1")]
    public void Lookup_UsesAnIndexInItsOrderNotAFullScan(string sql, string index)
    {
        var plan = Plan(sql);

        Assert.That(plan, Has.Some.Contains(index), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Matches<string>(IsFullScan), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Contains("USE TEMP B-TREE FOR ORDER BY"), string.Join(" | ", plan));
    }

    [Test]
    public void LatestTask_WalksTheTimestampIndexBackwardsWithoutSorting()
    {
        var plan = Plan(SqliteLedger.LatestTaskSql);

        // Newest first through ix_calls_ts, stopping at the first call that has a task (LIMIT 1).
        Assert.That(plan, Is.EqualTo(new[] { "SCAN calls USING INDEX ix_calls_ts" }));
    }

    [Test]
    public void ReceiptsForTask_BothSidesUseIndexes()
    {
        var plan = Plan(SqliteLedger.ReceiptsForTaskSql);

        // The union of the two lookups is sorted (it holds one task's receipts), but nothing is scanned.
        Assert.That(plan, Has.Some.Contains("ix_receipts_task"), string.Join(" | ", plan));
        Assert.That(plan, Has.Some.Contains("ix_calls_task_ts"), string.Join(" | ", plan));
        Assert.That(plan, Has.Some.Contains("ix_receipts_call"), string.Join(" | ", plan));
        Assert.That(plan, Has.None.Matches<string>(IsFullScan), string.Join(" | ", plan));
    }


    [TestCase(ReportDimension.Day)]
    [TestCase(ReportDimension.Model)]
    public void ReportWindow_UsesTheTimestampIndex(ReportDimension dimension)
    {
        using var connection = _test.Ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteLedger.ReportSql(dimension, " WHERE ts_ms >= $since AND ts_ms < $until");
        command.Parameters.AddWithValue("$since", 0);
        command.Parameters.AddWithValue("$until", 1);

        var plan = Read(command);

        Assert.That(plan, Has.Some.Contains("ix_calls_ts"), string.Join(" | ", plan));
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
        foreach (var name in new[] { "$key", "$since", "$until" })
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
