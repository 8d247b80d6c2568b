using CageNet.Ledger;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary><c>cage roi</c> over a real SQLite ledger.</summary>
public sealed class RoiTests : LedgerTestBase
{
    [Test]
    public async Task Roi_MultiModelScenario_SavedOwnCostNetLatencyAndEliminatedCalls()
    {
        await MultiModelScenario.SeedAsync(Db);

        var report = await Service().RoiAsync();

        // Best net first: response-cache 0.028, graphify 0.024 − 0.004 = 0.020, compressor 0.006, fux 0.012 − 0.020 = −0.008.
        Assert.That(report.Tools.Select(t => (t.Tool, t.Receipts, t.SavedUsd, t.OwnCostUsd, t.NetUsd)), Is.EqualTo(new (string, int, decimal?, decimal, decimal?)[]
        {
            ("response-cache", 1, 0.028m, 0m, 0.028m),
            ("graphify", 1, 0.024m, 0.004m, 0.020m),
            ("compressor", 1, 0.006m, 0m, 0.006m),
            ("fux", 1, 0.012m, 0.02m, -0.008m),
        }));
        Assert.That(report.Tools.Select(t => t.AddedLatencyMs), Is.EqualTo(new[] { 0d, 120d, 0d, 30d }));
        Assert.That(report.Tools.Select(t => t.EliminatedCalls), Is.EqualTo(new[] { 1, 0, 0, 0 }));
        Assert.That(report.Tools.Select(t => t.Method), Is.EqualTo(new[] { SavingsMethod.Measured, SavingsMethod.Modeled, SavingsMethod.Measured, SavingsMethod.Measured }));
        Assert.That(report.UnpricedReceipts, Is.Zero);
    }

    [Test]
    public async Task Roi_SeveralReceiptsOfOneTool_AreSummed()
    {
        await Db.AddAsync(
            [
                Call("c1", "2026-06-20T10:00:00Z", "t1", "small", new TokenUsage(10_000), 0.01m),
                Call("c2", "2026-06-20T10:10:00Z", "t2", "big", new TokenUsage(10_000), 0.04m),
            ],
            [
                Receipt("r1", "compressor", 5_000, 1_000, "c1", "t1", toolCost: 0.001m, addedMs: 10),
                Receipt("r2", "compressor", 3_000, 1_000, "c2", "t2", toolCost: 0.002m, addedMs: 15.5),
            ]);

        var row = (await Service().RoiAsync()).Tools.Single();

        Assert.That(row.Receipts, Is.EqualTo(2));
        Assert.That(row.SavedUsd, Is.EqualTo(0.012m), "4,000 × $1/M + 2,000 × $4/M");
        Assert.That(row.OwnCostUsd, Is.EqualTo(0.003m));
        Assert.That(row.NetUsd, Is.EqualTo(0.009m));
        Assert.That(row.AddedLatencyMs, Is.EqualTo(25.5));
    }

    [Test]
    public async Task Roi_MsAndGco2Only_AreOtherSavingsWithNoDollars()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms),
                Receipt("r_g", "router", 50, 20, "c", "t", SavingsUnit.Gco2),
            ]);

        var row = (await Service().RoiAsync()).Tools.Single();

        Assert.That(row.SavedUsd, Is.Null);
        Assert.That(row.NetUsd, Is.Null);
        Assert.That(row.UnpricedReceipts, Is.Zero, "ms and gco2 are not unpriced tokens: they are never priced");
        Assert.That(row.OtherSavings, Is.EquivalentTo(new Dictionary<SavingsUnit, decimal> { [SavingsUnit.Ms] = 800m, [SavingsUnit.Gco2] = 30m }));
    }

    [Test]
    public async Task Roi_UsdReceipt_IsDollarsAsIs()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [Receipt("r_u", "router", 0.5m, 0.3m, "c", "t", SavingsUnit.Usd, toolCost: 0.05m)]);

        var row = (await Service().RoiAsync()).Tools.Single();

        Assert.That(row.SavedUsd, Is.EqualTo(0.2m));
        Assert.That(row.NetUsd, Is.EqualTo(0.15m));
    }

    [Test]
    public async Task Roi_UnpricedTokens_WithAnOwnCost_NetIsMinusTheCost()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "mystery", new TokenUsage(10_000), null)],
            [Receipt("r", "compressor", 5_000, 1_000, "c", "t", toolCost: 0.01m)]);

        var report = await Service().RoiAsync();

        var row = report.Tools.Single();
        Assert.That(row.SavedUsd, Is.Null);
        Assert.That(row.UnpricedReceipts, Is.EqualTo(1));
        Assert.That(row.NetUsd, Is.EqualTo(-0.01m));
        Assert.That(report.UnpricedReceipts, Is.EqualTo(1));
    }

    [Test]
    public async Task Roi_Window_CountsOnlyReceiptsFiledInIt()
    {
        await MultiModelScenario.SeedAsync(Db);

        var report = await Service().RoiAsync(new TimeWindow(At("2026-06-20T11:00:00Z"), null));

        Assert.That(report.Tools.Select(t => (t.Tool, t.SavedUsd)), Is.EqualTo(new (string, decimal?)[] { ("response-cache", 0.028m) }),
            "only the 11:30 receipt; its task model is still found");
    }

    [Test]
    public async Task Roi_CallLessReceiptOfATaskWithoutCalls_IsUnpricedNotZero()
    {
        await Db.AddAsync([], [Receipt("r", "response-cache", 5_000, 0, null, "t-ghost", method: SavingsMethod.Measured)]);

        var row = (await Service().RoiAsync()).Tools.Single();

        Assert.That(row.SavedUsd, Is.Null);
        Assert.That(row.UnpricedReceipts, Is.EqualTo(1));
        Assert.That(row.EliminatedCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task Roi_ReceiptNamingACallTheLedgerLacks_PricedLikeAttribAtTheTaskModel()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "big", new TokenUsage(10_000), 0.04m)],
            [Receipt("r", "compressor", 3_000, 1_000, "c_missing", "t")]);

        var roi = (await Service().RoiAsync()).Tools.Single();
        var attrib = (await Service().AttributeAsync("t"))!;

        Assert.That(roi.SavedUsd, Is.EqualTo(0.008m), "2,000 × $4/M: the task's latest call");
        Assert.That(attrib.Tools.Single().SavedUsd, Is.EqualTo(0.008m));
        Assert.That(attrib.Residuals, Is.Empty, "no call to take a residual of");
    }

    [Test]
    public async Task Roi_EqualNets_FollowTheToolOrder()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r1", "alpha", 2_000, 1_000, "c", "t"),
                Receipt("r2", "compressor", 2_000, 1_000, "c", "t"),
                Receipt("r3", "graphify", 2_000, 1_000, "c", "t"),
            ]);

        var report = await Service().RoiAsync();

        Assert.That(report.Tools.Select(t => t.Tool), Is.EqualTo(new[] { "graphify", "compressor", "alpha" }));
    }

    [Test]
    public async Task Roi_ReceiptStoredBeforeItsCall_PricedAtTheCallsModelAndTier()
    {
        await Db.AddAsync([], [Receipt("r", "fux", 13_000, 3_000, "c_long", "t")]);
        await Db.AddAsync([Call("c_long", "2026-06-20T10:00:00Z", "t", "tiered", new TokenUsage(250_000), 0.5m)]);

        var roi = (await Service().RoiAsync()).Tools.Single();
        var reopened = (await Records.Service(Db.Reopen()).RoiAsync()).Tools.Single();

        Assert.That(roi.SavedUsd, Is.EqualTo(0.02m), "10,000 × $2/M: c_long ran above 200k");
        Assert.That(reopened.SavedUsd, Is.EqualTo(0.02m));
        Assert.That((await Service().AttributeAsync("t"))!.Tools.Single().SavedUsd, Is.EqualTo(0.02m));
    }

    [Test]
    public async Task Roi_CallLessReceipt_TaskGetsALaterCall_PricedAtTheNewLatestCall()
    {
        await Db.AddAsync(
            [Call("c1", "2026-06-20T09:00:00Z", "t", "small", new TokenUsage(1_000), 0.001m)],
            [Receipt("r", "response-cache", 5_000, 0, null, "t", method: SavingsMethod.Measured)]);
        await Db.AddAsync([Call("c2", "2026-06-20T11:00:00Z", "t", "big", new TokenUsage(1_000), 0.004m)]);

        var roi = (await Service().RoiAsync()).Tools.Single();
        var attrib = (await Service().AttributeAsync("t"))!.Tools.Single();

        Assert.That(attrib.SavedUsd, Is.EqualTo(0.02m), "5,000 × $4/M: c2 is now the latest call");
        Assert.That(roi.SavedUsd, Is.EqualTo(attrib.SavedUsd));
    }

    [Test]
    public async Task Roi_EmptyLedger_HasNoRows()
    {
        var report = await Service().RoiAsync();

        Assert.That(report.Tools, Is.Empty);
    }

    [Test]
    public async Task Roi_OverTheInMemoryLedger_MatchesSqlite()
    {
        var memory = new InMemoryLedger();
        await MultiModelScenario.SeedAsync(memory);

        var report = await Records.Service(memory).RoiAsync();

        Assert.That(report.Tools.Select(t => (t.Tool, t.NetUsd)), Is.EqualTo(new (string, decimal?)[]
        {
            ("response-cache", 0.028m), ("graphify", 0.020m), ("compressor", 0.006m), ("fux", -0.008m),
        }));
    }
}
