using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// Spend by route × task (the recommend view's input and <c>cage report --by route,task</c>), which the SQLite ledger
/// reads from per-day totals kept with the calls: the same groups, to the token and the 1e-10 dollar, as summing the
/// calls themselves, for any window, and for a file written before the totals existed.
/// </summary>
public sealed class SqliteRouteTaskTotalsTests
{
    private static readonly string Sep = SpendReport.PairSeparator.ToString();

    private static LedgerBatch Calls() => new(
    [
        Call("c1", "2026-03-01T09:00:00Z", route: "code-edit", task: "t1", usage: new TokenUsage(1000, Output: 100), cost: 0.0105m),
        Call("c2", "2026-03-01T23:30:00Z", route: "code-edit", task: "t1", usage: new TokenUsage(2000, Output: 200), cost: 0.021m),
        Call("c3", "2026-03-02T00:10:00Z", route: "code-edit", task: "t2", usage: new TokenUsage(500), cost: 0.0015m),
        Call("c4", "2026-03-02T12:00:00Z", route: "review", task: "t2", usage: new TokenUsage(300), cost: null, source: CostSource.Unpriced),
        Call("c5", "2026-03-03T08:00:00Z", route: null, task: "t3", usage: new TokenUsage(100), cost: 0.0001m),
        Call("c6", "2026-03-03T09:00:00Z", route: "review", task: null, usage: default, cost: null, status: UsageStatus.Missing, source: CostSource.Unpriced),
        Call("c7", "2026-03-04T10:00:00Z", route: "code-edit", task: "t1", usage: new TokenUsage(700, CacheRead: 3000), cost: 0.0042m),
    ], []);

    private static IEnumerable<TestCaseData> Windows()
    {
        yield return new TestCaseData(TimeWindow.All).SetName("All");
        // Partial days at both edges: 2026-03-01 from 12:00, whole 03-02 and 03-03, 03-04 until 09:00.
        yield return new TestCaseData(new TimeWindow(At("2026-03-01T12:00:00Z"), At("2026-03-04T09:00:00Z"))).SetName("PartialEdges");
        yield return new TestCaseData(new TimeWindow(At("2026-03-02T00:00:00Z"), At("2026-03-03T00:00:00Z"))).SetName("OneWholeDay");
        yield return new TestCaseData(new TimeWindow(At("2026-03-02T06:00:00Z"), At("2026-03-02T18:00:00Z"))).SetName("InsideOneDay");
        yield return new TestCaseData(new TimeWindow(At("2026-03-03T00:00:00Z"), null)).SetName("SinceOnly");
    }

    [TestCaseSource(nameof(Windows))]
    public async Task ReportPairsAsync_RouteByTask_EqualsSummingTheCalls(TimeWindow window)
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());

        var query = new ReportQuery(ReportDimension.Route, window);
        var fromTotals = await test.Ledger.ReportPairsAsync(query, ReportDimension.Task);
        var fromCalls = await PairReports.FromCallsAsync(test.Ledger, query, ReportDimension.Task, default);

        Assert.That(Flatten(fromTotals), Is.EqualTo(Flatten(fromCalls)));
        Assert.That(fromTotals.Total, Is.EqualTo(fromCalls.Total));
    }

    [Test]
    public async Task ReportPairsAsync_RouteByTask_GroupsByHand()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());

        var report = await test.Ledger.ReportPairsAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All), ReportDimension.Task);

        // Most expensive first: code-edit/t1 is c1 + c2 + c7 = 0.0105 + 0.021 + 0.0042.
        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[]
        {
            "code-edit" + Sep + "t1", "code-edit" + Sep + "t2", "(none)" + Sep + "t3", "review" + Sep + "(none)", "review" + Sep + "t2",
        }));
        var t1 = report.Groups[0].Totals;
        Assert.That((t1.Calls, t1.Input, t1.CacheRead, t1.Output, t1.CostUsd), Is.EqualTo((3L, 3700L, 3000L, 300L, 0.0357m)));
        var reviewNone = report.Groups.Single(g => g.Key == "review" + Sep + "(none)").Totals;
        Assert.That((reviewNone.UnpricedCalls, reviewNone.MissingUsageCalls, reviewNone.IsLowerBound), Is.EqualTo((1L, 1L, true)));
        Assert.That(report.Total.Calls, Is.EqualTo(7));
        Assert.That(report.Dimension, Is.EqualTo(ReportDimension.Route));
    }

    [Test]
    public async Task ReportPairsAsync_OtherPairs_ReadTheCallsWithTheSameAnswer()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());

        var query = new ReportQuery(ReportDimension.Model, TimeWindow.All);
        var report = await test.Ledger.ReportPairsAsync(query, ReportDimension.Route);

        Assert.That(report.Groups.Select(g => g.Key), Is.EquivalentTo(new[] { "claude-opus-4-8" + Sep + "code-edit", "claude-opus-4-8" + Sep + "review", "claude-opus-4-8" + Sep + "(none)" }));
        Assert.That(() => test.Ledger.ReportPairsAsync(query, ReportDimension.Model).AsTask(), Throws.ArgumentException.With.Message.Contains("two different"));
    }

    [Test]
    public async Task Open_Version7LedgerWithCalls_MigrationSumsItsCallsIntoThePairTotals()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());
        test.Ledger.Dispose();
        // A version-7 file is this one without the pair rows and the later steps' tables: take them out and step the version back.
        using (var connection = new SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM call_totals WHERE dim = 100; DROP TABLE budget_estimator; DROP TABLE budget_rollups; DROP TABLE budget_totals; DROP TABLE call_totals_hour; DROP TABLE receipt_totals_month; DROP TABLE route_task_counts; PRAGMA user_version = 7;";
            command.ExecuteNonQuery();
        }

        var reopened = test.Reopen();
        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        var query = new ReportQuery(ReportDimension.Route, new TimeWindow(At("2026-03-01T12:00:00Z"), At("2026-03-04T09:00:00Z")));
        var fromTotals = await reopened.ReportPairsAsync(query, ReportDimension.Task);
        var fromCalls = await PairReports.FromCallsAsync(reopened, query, ReportDimension.Task, default);
        Assert.That(Flatten(fromTotals), Is.EqualTo(Flatten(fromCalls)));
        Assert.That(fromTotals.Groups, Is.Not.Empty);

        // Calls written after the migration add to the migrated rows.
        await reopened.WriteAsync(Batch(Call("c8", "2026-03-02T13:00:00Z", route: "review", task: "t2", usage: new TokenUsage(50), cost: 0.002m)));
        var after = await reopened.ReportPairsAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All), ReportDimension.Task);
        var reviewT2 = after.Groups.Single(g => g.Key == "review" + Sep + "t2").Totals;
        Assert.That((reviewT2.Calls, reviewT2.Input, reviewT2.CostUsd, reviewT2.UnpricedCalls), Is.EqualTo((2L, 350L, 0.002m, 1L)));
    }

    private static List<string> Flatten(SpendReport report) => report.Groups
        .Select(g => $"{g.Key}: {g.Totals.Calls} {g.Totals.Input} {g.Totals.CacheRead} {g.Totals.CacheWrite5m} {g.Totals.CacheWrite1h} {g.Totals.Output} {g.Totals.Reasoning} {g.Totals.CostUsd} {g.Totals.UnpricedCalls} {g.Totals.MissingUsageCalls} {g.Totals.LocalCalls}")
        .ToList();
}
