using System.Text.Json;
using CageNet.Attribution;
using CageNet.Ledger;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary>
/// <c>recommend</c> over a SQLite ledger counts each route's tasks inside SQLite; read through a plain
/// <see cref="ILedgerReader"/> it gathers them from every route × task pair instead. Both must give the same report, for
/// every window, including the (none) route (no route and a literal <c>(none)</c>), a literal <c>(none)</c> task,
/// tasks that only receipts name, and outcome labels.
/// </summary>
public sealed class RecommendTaskCountsTests : LedgerTestBase
{
    private static IEnumerable<TestCaseData> Windows()
    {
        yield return new TestCaseData(null, null).SetName("All");
        yield return new TestCaseData("2026-06-19T12:00:00Z", null).SetName("SincePartialDay");
        yield return new TestCaseData("2026-06-19T00:00:00Z", "2026-06-20T00:00:00Z").SetName("OneWholeDay");
        yield return new TestCaseData("2026-06-19T10:00:00Z", "2026-06-19T20:00:00Z").SetName("InsideOneDay");
        yield return new TestCaseData("2026-06-18T20:00:00Z", "2026-06-20T08:30:00Z").SetName("PartialEdgesBothSides");
        yield return new TestCaseData("2026-06-20T00:00:00Z", null).SetName("LastDay");
        // The partial first day holds c2, the call of t2, which r2 (call-less, in the window) also names: counted once.
        yield return new TestCaseData("2026-06-18T20:00:00Z", null).SetName("SincePartialDayWithAReceiptsTask");
    }

    [Test]
    public async Task Recommend_WholeLedger_TasksPerRouteByHand()
    {
        await SeedAsync();

        var routes = (await Service().RecommendAsync()).Routes.ToDictionary(r => r.Route);

        // code-edit: calls of t1, t2, t5; t2's call-less receipt adds nothing new. t1 is labelled ok.
        Assert.That((routes["code-edit"].Tasks, routes["code-edit"].SuccessfulTasks, routes["code-edit"].QualityAdjusted), Is.EqualTo((3, 1, true)));
        // review: t1 (c3); the literal "(none)" task and the call with no task do not count as tasks of its calls, but a
        // receipt naming "(none)" does. t1 ok, "(none)" redo.
        Assert.That((routes["review"].Tasks, routes["review"].SuccessfulTasks), Is.EqualTo((2, 1)));
        // (none): t3 on no route and on "(none)" (once), t4, and t6 that only a call-less receipt names. t3 failed, t6 ok.
        Assert.That((routes["(none)"].Tasks, routes["(none)"].SuccessfulTasks), Is.EqualTo((3, 1)));
        Assert.That(routes["(none)"].CurrentCostUsd, Is.EqualTo(0.003m + 0.004m + 0.005m));
    }

    [TestCaseSource(nameof(Windows))]
    public async Task Recommend_CountedByTheLedger_EqualsGatheredFromThePairs(string? since, string? until)
    {
        await SeedAsync();
        var window = new TimeWindow(since is null ? null : At(since), until is null ? null : At(until));

        var counted = await Service().RecommendAsync(window: window);
        var gathered = await Records.Service(new PlainReader(Ledger)).RecommendAsync(window: window);

        Assert.That(counted.Routes, Is.Not.Empty);
        Assert.That(JsonSerializer.Serialize(counted), Is.EqualTo(JsonSerializer.Serialize(gathered)));
    }

    [Test]
    public async Task Recommend_OneRoute_CountsOnlyThatRoute()
    {
        await SeedAsync();

        var review = (await Service().RecommendAsync("review")).Routes.Single();

        Assert.That((review.Route, review.Tasks), Is.EqualTo(("review", 2)));
    }

    private async Task SeedAsync()
    {
        var usage = new TokenUsage(1_000);
        await Db.AddAsync(
            [
                Call("c1", "2026-06-18T09:00:00Z", "t1", "small", usage, 0.010m),
                Call("c2", "2026-06-18T23:00:00Z", "t2", "small", usage, 0.020m),
                Call("c3", "2026-06-19T01:00:00Z", "t1", "small", usage, 0.001m, route: "review"),
                Call("c4", "2026-06-19T12:00:00Z", "(none)", "small", usage, 0.002m, route: "review"),
                Call("c5", "2026-06-19T13:00:00Z", null, "small", usage, null, route: "review"),
                Call("c6", "2026-06-19T14:00:00Z", "t3", "small", usage, 0.003m, route: null),
                Call("c7", "2026-06-19T15:00:00Z", "t4", "small", usage, 0.004m, route: "(none)"),
                Call("c8", "2026-06-19T16:00:00Z", "t3", "small", usage, 0.005m, route: "(none)"),
                Call("c9", "2026-06-20T08:00:00Z", "t5", "mystery", usage, null),
                Call("c10", "2026-06-20T09:00:00Z", "t1", "small", usage, 0.030m),
            ],
            [
                Receipt("r1", "response-cache", 7_000, 0, null, "t6"),
                Receipt("r2", "response-cache", 7_000, 0, null, "t2"),
                Receipt("r3", "graphify", 4_000, 1_000, "c3", "t1"),
                Receipt("r4", "compressor", 2_000, 1_000, null, "(none)"),
            ]);
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t1", TaskOutcome.Ok, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t3", TaskOutcome.Failed, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("(none)", TaskOutcome.Redo, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t6", TaskOutcome.Ok, Now));
    }

    /// <summary>The SQLite ledger seen only as an <see cref="ILedgerReader"/>, so the view cannot ask it to count tasks.</summary>
    private sealed class PlainReader(ILedgerReader inner) : ILedgerReader
    {
        public ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default) => inner.ReportAsync(query, cancellationToken);

        public ValueTask<SpendReport> ReportPairsAsync(ReportQuery query, ReportDimension then, CancellationToken cancellationToken = default) =>
            inner.ReportPairsAsync(query, then, cancellationToken);

        public ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default) => inner.FindCallAsync(callId, cancellationToken);

        public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default) =>
            inner.ReceiptsForCallAsync(callId, cancellationToken);

        public ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default) => inner.CallsForTaskAsync(task, cancellationToken);

        public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default) =>
            inner.ReceiptsForTaskAsync(task, cancellationToken);

        public ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default) => inner.LatestTaskAsync(cancellationToken);

        public IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, CancellationToken cancellationToken = default) => inner.ReadCallsAsync(window, cancellationToken);

        public IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, CancellationToken cancellationToken = default) => inner.ReadReceiptsAsync(window, cancellationToken);

        public IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, CancellationToken cancellationToken = default) =>
            inner.ReadReceiptsWithCallsAsync(window, cancellationToken);

        public IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, CancellationToken cancellationToken = default) =>
            inner.ReadReceiptTotalsAsync(window, cancellationToken);

        public ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default) => inner.ReadOutcomesAsync(cancellationToken);
    }
}
