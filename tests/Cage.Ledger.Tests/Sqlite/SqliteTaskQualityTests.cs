using CageNet.Attribution;
using CageNet.Ledger;
using CageNet.Pricing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// <c>quality</c> over the SQLite ledger is summed inside SQLite (<see cref="ITaskQualityCounts"/>); over the in-memory
/// ledger it is read group by group from a report by task. Both must give the same report for every window.
/// </summary>
public sealed class SqliteTaskQualityTests
{
    // Tasks over four days: t1 on two days, t2 only on the last partial day, no task and a literal "(none)" (both the
    // untasked group), an unpriced call and a call whose usage never arrived.
    private static readonly CallRecord[] Calls =
    [
        Call("q1", "2026-03-01T06:00:00Z", task: "t1", cost: 0.0105m),
        Call("q2", "2026-03-02T12:00:00Z", task: "t1", cost: 0.02m),
        Call("q3", "2026-03-02T13:00:00Z", task: "t3", cost: null, source: CostSource.Unpriced),
        Call("q4", "2026-03-03T01:00:00Z", task: null, cost: 0.04m),
        Call("q5", "2026-03-03T02:00:00Z", task: "(none)", cost: 0.003m),
        Call("q6", "2026-03-03T20:00:00Z", task: "t4", cost: 0.005m, status: UsageStatus.Missing),
        Call("q7", "2026-03-04T09:00:00Z", task: "t2", cost: 0.25m),
        Call("q8", "2026-03-04T10:00:00Z", task: "t5", cost: 0.001m),
    ];

    [TestCase(null, null)]
    [TestCase("2026-03-01T12:00:00Z", null)]
    [TestCase("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z")]
    [TestCase("2026-03-02T12:30:00Z", "2026-03-04T09:30:00Z")]
    [TestCase("2026-03-04T08:00:00Z", "2026-03-04T12:00:00Z")]
    [TestCase("2026-03-05T00:00:00Z", null)]
    public async Task Quality_EveryWindow_SameReportAsTheGroupByGroupAnswer(string? since, string? until)
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = new LedgerBatch(Calls, []);
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);
        foreach (var (task, outcome) in new[] { ("t1", TaskOutcome.Ok), ("t2", TaskOutcome.Ok), ("t3", TaskOutcome.Redo), ("t4", TaskOutcome.Failed), ("t9", TaskOutcome.Ok), ("(none)", TaskOutcome.Ok) })
        {
            var record = new TaskOutcomeRecord(task, outcome, At("2026-03-05T00:00:00Z"));
            await test.Ledger.RecordOutcomeAsync(record);
            await memory.RecordOutcomeAsync(record);
        }

        // A label this version does not know counts as no label in both (the in-memory ledger cannot hold one: t5 has none there).
        using (var connection = test.Ledger.OpenReader())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO outcomes (task, outcome, ts_ms) VALUES ('t5', 'meh', 0);";
            command.ExecuteNonQuery();
        }

        var window = new TimeWindow(since is null ? null : At(since), until is null ? null : At(until));
        var sqlite = await Service(test.Ledger).QualityAsync(window);
        var expected = await Service(memory).QualityAsync(window);

        Assert.That(test.Ledger, Is.InstanceOf<ITaskQualityCounts>());
        Assert.That(memory, Is.Not.InstanceOf<ITaskQualityCounts>(), "the reference answer is read group by group");
        Assert.That(sqlite, Is.EqualTo(expected));
    }

    [Test]
    public async Task Quality_WholeLedger_HandPickedFigures()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(new LedgerBatch(Calls, []));
        await test.Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t1", TaskOutcome.Ok, At("2026-03-05T00:00:00Z")));
        await test.Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t3", TaskOutcome.Redo, At("2026-03-05T00:00:00Z")));

        var q = await Service(test.Ledger).QualityAsync();

        Assert.That((q.Tasks, q.Ok, q.Redo, q.Failed), Is.EqualTo((5, 1, 1, 0)), "t1 to t5; no task and (none) are no task");
        Assert.That(q.TotalUsd, Is.EqualTo(0.2865m), "0.0105 + 0.02 + 0.005 + 0.25 + 0.001");
        Assert.That(q.UntaskedUsd, Is.EqualTo(0.043m));
        Assert.That((q.UnpricedCalls, q.IsLowerBound), Is.EqualTo((1L, true)));
    }

    private static AttributionService Service(ILedgerReader ledger) => new(ledger, PriceCatalog.BuiltIn, ["fux"], TimeProvider.System);
}
