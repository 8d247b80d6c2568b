using CageNet.Ledger;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary><c>cage quality</c>: cost per successful task, with outcomes persisted in the SQLite ledger.</summary>
public sealed class QualityTests : LedgerTestBase
{
    private async Task SeedAsync()
    {
        await Db.AddAsync(
        [
            Call("a1", "2026-06-20T08:00:00Z", "ta", "small", new TokenUsage(10_000), 0.01m),
            Call("a2", "2026-06-20T08:01:00Z", "ta", "mystery", new TokenUsage(10_000), null),
            Call("b1", "2026-06-20T08:02:00Z", "tb", "small", new TokenUsage(20_000), 0.02m),
            Call("c1", "2026-06-20T08:03:00Z", "tc", "small", new TokenUsage(30_000), 0.03m),
            Call("d1", "2026-06-20T08:04:00Z", "td", "small", new TokenUsage(40_000), 0.04m),
            Call("x1", "2026-06-20T08:05:00Z", null, "small", new TokenUsage(50_000), 0.05m),
        ]);
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("ta", TaskOutcome.Ok, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("tb", TaskOutcome.Redo, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("tc", TaskOutcome.Failed, Now));
    }

    [Test]
    public async Task Quality_MixedOutcomes_EverythingIsChargedToTheSuccesses()
    {
        await SeedAsync();

        var q = await Service().QualityAsync();

        Assert.That(q.TotalUsd, Is.EqualTo(0.10m), "0.01 + 0.02 + 0.03 + 0.04; the untasked call is not charged to a task");
        Assert.That((q.Tasks, q.Ok, q.Redo, q.Failed, q.Unlabeled), Is.EqualTo((4, 1, 1, 1, 1)));
        Assert.That(q.PerTaskUsd, Is.EqualTo(0.025m));
        Assert.That(q.PerSuccessUsd, Is.EqualTo(0.10m));
        Assert.That(q.UnpricedCalls, Is.EqualTo(1));
        Assert.That(q.UntaskedUsd, Is.EqualTo(0.05m));
    }

    [Test]
    public async Task Quality_OutcomesPersistInTheFile_ASecondOpenSeesThem()
    {
        await SeedAsync();

        var reopened = Db.Reopen();
        var q = await Records.Service(reopened).QualityAsync();

        Assert.That((q.Ok, q.Redo, q.Failed), Is.EqualTo((1, 1, 1)));
        Assert.That(q.PerSuccessUsd, Is.EqualTo(0.10m));
    }

    [Test]
    public async Task Quality_LaterLabelReplacesTheEarlierOne()
    {
        await SeedAsync();
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("tb", TaskOutcome.Ok, Now.AddMinutes(1)));

        var q = await Service().QualityAsync();

        Assert.That((q.Ok, q.Redo), Is.EqualTo((2, 0)));
        Assert.That(q.PerSuccessUsd, Is.EqualTo(0.05m));
    }

    [Test]
    public async Task Quality_NoSuccess_PerSuccessIsUnknownNotZero()
    {
        await Db.AddAsync([Call("a1", "2026-06-20T08:00:00Z", "ta", "small", new TokenUsage(10_000), 0.01m)]);

        var q = await Service().QualityAsync();

        Assert.That(q.Tasks, Is.EqualTo(1));
        Assert.That(q.PerSuccessUsd, Is.Null);
        Assert.That(q.PerTaskUsd, Is.EqualTo(0.01m));
    }

    [Test]
    public async Task Quality_Window_OnlyCallsInIt()
    {
        await SeedAsync();

        var q = await Service().QualityAsync(new TimeWindow(At("2026-06-20T08:02:00Z"), null));

        Assert.That(q.Tasks, Is.EqualTo(3), "tb, tc, td");
        Assert.That(q.TotalUsd, Is.EqualTo(0.09m));
        Assert.That(q.PerSuccessUsd, Is.Null, "ta, the only success, has no call in the window");
    }

    [Test]
    public async Task Quality_EmptyLedger_NoTasks()
    {
        var q = await Service().QualityAsync();

        Assert.That(q.Tasks, Is.Zero);
        Assert.That(q.PerTaskUsd, Is.Null);
    }
}
