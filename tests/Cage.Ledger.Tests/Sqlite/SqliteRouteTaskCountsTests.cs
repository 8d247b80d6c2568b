using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// <c>route_task_counts</c>: each route × task pair counted once, on its first day, by the writer and by the migration of
/// an older file; the tasks per route of a window that starts before a route's first task read from it, and give what
/// counting the pairs gives.
/// </summary>
public sealed class SqliteRouteTaskCountsTests
{
    // Day 20513 is 2026-03-01. Route code-edit: t1 (days 0 and 2), t2 (day 1, two batches), t3 (day 2); review: t1 (day 1);
    // no route: t4 (day 0). Tasks of no value and a literal (none) are not tasks.
    private static readonly LedgerBatch[] Batches =
    [
        new([
            Call("c1", "2026-03-01T10:00:00Z", route: "code-edit", task: "t1"),
            Call("c2", "2026-03-01T11:00:00Z", route: null, task: "t4"),
            Call("c3", "2026-03-01T12:00:00Z", route: "code-edit", task: null),
            Call("c4", "2026-03-01T13:00:00Z", route: "code-edit", task: "(none)"),
        ], []),
        new([
            Call("c5", "2026-03-02T10:00:00Z", route: "code-edit", task: "t2"),
            Call("c6", "2026-03-02T11:00:00Z", route: "review", task: "t1"),
        ], []),
        new([
            Call("c7", "2026-03-02T12:00:00Z", route: "code-edit", task: "t2"), // an older pair in a later batch
            Call("c8", "2026-03-03T10:00:00Z", route: "code-edit", task: "t1"), // t1's second day on code-edit
            Call("c9", "2026-03-03T11:00:00Z", route: "code-edit", task: "t3"),
        ], []),
    ];

    private static readonly string[] ExpectedRows = ["|20513|1", "code-edit|20513|1", "code-edit|20514|1", "code-edit|20515|1", "review|20514|1"];

    [Test]
    public async Task Append_CountsEachPairOnceOnItsFirstDay_AcrossBatches()
    {
        using var test = TestLedger.Create();
        foreach (var batch in Batches)
        {
            await test.Ledger.WriteAsync(batch);
        }

        await test.Ledger.WriteAsync(Batches[2]); // again: duplicates add nothing

        Assert.That(Rows(test.Path), Is.EqualTo(ExpectedRows));
    }

    [Test]
    public async Task Append_OneBatchWithAPairOnTwoDays_CountsItOnTheEarlierDay()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(new LedgerBatch(
            [Call("d1", "2026-03-05T10:00:00Z", task: "t9"), Call("d0", "2026-03-04T10:00:00Z", task: "t9")], []));

        Assert.That(Rows(test.Path), Is.EqualTo(new[] { "code-edit|20516|1" }));
    }

    [TestCase(null, null, 3, 1, 1)]
    [TestCase(null, "2026-03-02T00:00:00Z", 1, 0, 1)]
    [TestCase(null, "2026-03-03T00:00:00Z", 2, 1, 1)]
    [TestCase("2026-02-01T00:00:00Z", "2026-03-03T00:00:00Z", 2, 1, 1)]
    [TestCase("2026-03-02T00:00:00Z", null, 3, 1, 0)] // starts after code-edit's first task: its pairs are counted
    [TestCase("2026-03-03T00:00:00Z", null, 2, 0, 0)]
    [TestCase(null, "2026-03-02T10:30:00Z", 2, 0, 1)] // a partial end day: counted from the pairs and the day's calls
    public async Task CountRouteTasks_EveryKindOfWindow_GivesTheDistinctTasks(string? since, string? until, int codeEdit, int review, int none)
    {
        using var test = TestLedger.Create();
        foreach (var batch in Batches)
        {
            await test.Ledger.WriteAsync(batch);
        }

        var window = new TimeWindow(since is null ? null : DateTimeOffset.Parse(since), until is null ? null : DateTimeOffset.Parse(until));
        var counts = await ((IRouteTaskCounts)test.Ledger).CountRouteTasksAsync(window, ["code-edit", "review", SpendReport.NoneKey], new Dictionary<string, HashSet<string>>());

        Assert.That((counts["code-edit"].Tasks, counts["review"].Tasks, counts[SpendReport.NoneKey].Tasks), Is.EqualTo((codeEdit, review, none)));
    }

    [Test]
    public async Task CountRouteTasks_WholeLedger_ReadsTheMaintainedCounts()
    {
        using var test = TestLedger.Create();
        foreach (var batch in Batches)
        {
            await test.Ledger.WriteAsync(batch);
        }

        // A count in the table that the pairs do not have shows which one answered.
        Execute(test.Path, "UPDATE route_task_counts SET tasks = 40 WHERE route = 'review';");
        var counts = await ((IRouteTaskCounts)test.Ledger).CountRouteTasksAsync(TimeWindow.All, ["review"], new Dictionary<string, HashSet<string>>());

        Assert.That(counts["review"].Tasks, Is.EqualTo(40));
    }

    [Test]
    public async Task Open_LedgerOfTheStepBefore_MigrationCountsItsPairs()
    {
        using var test = TestLedger.Create();
        foreach (var batch in Batches)
        {
            await test.Ledger.WriteAsync(batch);
        }

        test.Ledger.Dispose();
        Execute(test.Path, "DROP TABLE route_task_counts; PRAGMA user_version = 12;"); // the file as step 12 left it
        var reopened = test.Reopen();

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(Rows(test.Path), Is.EqualTo(ExpectedRows));
    }

    private static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<string> Rows(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT route, day, tasks FROM route_task_counts ORDER BY route, day;";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add($"{reader.GetString(0)}|{reader.GetInt64(1)}|{reader.GetInt64(2)}");
        }

        return rows;
    }
}
