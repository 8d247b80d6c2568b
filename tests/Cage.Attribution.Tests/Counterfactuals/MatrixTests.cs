using CageNet.Attribution;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Counterfactuals;

/// <summary><c>cage matrix</c> over a real SQLite ledger: every row re-priced by hand from the test's prices.</summary>
public sealed class MatrixTests : LedgerTestBase
{
    [Test]
    public async Task Matrix_MultiModelScenario_EveryRowIsRecordedSpendPlusTheOffToolsSavings()
    {
        await MultiModelScenario.SeedAsync(Db);

        var matrix = (await Service().MatrixAsync(MultiModelScenario.Task))!;

        Assert.That(matrix.Tools, Is.EqualTo(new[] { "graphify", "fux", "compressor", "response-cache" }));
        Assert.That(matrix.Rows, Has.Count.EqualTo(16));
        Assert.That(matrix.BaseTokens, Is.EqualTo(26_000m), "35,000 prompt-side − (6,000 + 1,000 + 2,000 + 0) actual");
        Assert.That(matrix.OutputTokens, Is.EqualTo(1_500));
        Assert.That(matrix.UnpricedCalls, Is.Zero);

        // No tier is crossed, so each off tool adds exactly its saving: graphify 24,000 tok on c1 ($1/M) = $0.024; fux 3,000 on c2
        // ($4/M) = $0.012; compressor 6,000 on c1 = $0.006; response-cache 7,000 call-less at the task model ($4/M) = $0.028.
        decimal[] dollars = [0.024m, 0.012m, 0.006m, 0.028m];
        decimal[] tokens = [24_000m, 3_000m, 6_000m, 7_000m];
        for (var mask = 0; mask < 16; mask++)
        {
            var on = Enumerable.Range(0, 4).Select(t => (mask & (1 << t)) != 0).ToArray();
            var expectedCost = 0.038m + Enumerable.Range(0, 4).Where(t => !on[t]).Sum(t => dollars[t]);
            var expectedInput = 35_000m + Enumerable.Range(0, 4).Where(t => !on[t]).Sum(t => tokens[t]);
            var row = matrix.Rows.Single(r => r.On.SequenceEqual(on));
            Assert.That(row.CostUsd, Is.EqualTo(expectedCost), $"mask {mask}");
            Assert.That(row.InputTokens, Is.EqualTo(expectedInput), $"mask {mask}");
            Assert.That(row.Source, Is.EqualTo(mask == 15 ? SavingsMethod.Measured : SavingsMethod.Modeled), $"mask {mask}");
        }

        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.108m));
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(75_000m));
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.038m));
        Assert.That(matrix.AllOn.InputTokens, Is.EqualTo(35_000m));
        Assert.That(matrix.Cheaper, Is.EqualTo(0.070m / 0.108m));
    }

    [Test]
    public async Task Matrix_Rows_AreSortedMostExpensiveFirst()
    {
        await MultiModelScenario.SeedAsync(Db);

        var matrix = (await Service().MatrixAsync(MultiModelScenario.Task))!;

        var costs = matrix.Rows.Select(r => r.CostUsd!.Value).ToList();
        Assert.That(costs, Is.Ordered.Descending);
        Assert.That(matrix.Rows[0], Is.SameAs(matrix.AllOff));
        Assert.That(matrix.Rows[^1], Is.SameAs(matrix.AllOn));
    }

    [Test]
    public async Task Matrix_EstimatedReceipt_RowsWhereThatToolIsOffAreEstimated()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_f", "fux", 3_000, 1_000, "c", "t", method: SavingsMethod.Estimated),
                Receipt("r_c", "compressor", 5_000, 1_000, "c", "t", method: SavingsMethod.Measured),
            ]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Tools, Is.EqualTo(new[] { "fux", "compressor" }));
        SavingsMethod SourceOf(bool fux, bool compressor) => matrix.Rows.Single(r => r.On[0] == fux && r.On[1] == compressor).Source;
        Assert.That(SourceOf(true, true), Is.EqualTo(SavingsMethod.Measured));
        Assert.That(SourceOf(true, false), Is.EqualTo(SavingsMethod.Modeled), "only the measured tool is off");
        Assert.That(SourceOf(false, true), Is.EqualTo(SavingsMethod.Estimated));
        Assert.That(SourceOf(false, false), Is.EqualTo(SavingsMethod.Estimated));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.016m), "0.01 + (2,000 + 4,000) × $1/M");
    }

    [Test]
    public async Task Matrix_ToolsSubset_OnlyThoseToolsInTheCanonicalOrder()
    {
        await MultiModelScenario.SeedAsync(Db);

        var matrix = (await Service().MatrixAsync(MultiModelScenario.Task, ["compressor", "graphify"]))!;

        Assert.That(matrix.Tools, Is.EqualTo(new[] { "graphify", "compressor" }));
        Assert.That(matrix.Rows, Has.Count.EqualTo(4));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.068m), "0.038 + 0.024 + 0.006: fux and response-cache stay on");
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(65_000m), "35,000 + 24,000 + 6,000");
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.038m));
    }

    [Test]
    public async Task Matrix_ToolsSubsetNamingAnUnknownTool_IsAnErrorNamingIt()
    {
        await MultiModelScenario.SeedAsync(Db);

        var error = Assert.ThrowsAsync<AttributionException>(async () => await Service().MatrixAsync(MultiModelScenario.Task, ["graphify", "nope"]));

        Assert.That(error!.Message, Does.Contain("nope").And.Contain("--tools"));
    }

    [Test]
    public async Task Matrix_ToolWithOnlyMsReceipts_IsNotAMatrixTool()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms),
                Receipt("r_c", "compressor", 5_000, 1_000, "c", "t"),
            ]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Tools, Is.EqualTo(new[] { "compressor" }));
        Assert.ThrowsAsync<AttributionException>(async () => await Service().MatrixAsync("t", ["router"]));
    }

    [Test]
    public async Task Matrix_TaskWithoutTokenReceipts_IsTheSingleAllOnRow()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms)]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Tools, Is.Empty);
        Assert.That(matrix.Rows, Has.Count.EqualTo(1));
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.01m));
        Assert.That(matrix.AllOn.Source, Is.EqualTo(SavingsMethod.Measured));
    }

    [Test]
    public async Task Matrix_OffToolsPushACallOverTheLongContextTier_TheWholeCallIsRepricedAtTheTier()
    {
        await SeedTierScenarioAsync(Db);

        var matrix = (await Service().MatrixAsync("t"))!;

        // c: 150,000 in at $1/M = $0.15. Each tool saved 40,000. One off: 190,000 ≤ 200k → $0.19. Both off: 230,000 > 200k → × $2/M = $0.46.
        decimal? Cost(bool graphify, bool fux) => matrix.Rows.Single(r => r.On[0] == graphify && r.On[1] == fux).CostUsd;
        Assert.That(matrix.Tools, Is.EqualTo(new[] { "graphify", "fux" }));
        Assert.That(Cost(true, true), Is.EqualTo(0.15m));
        Assert.That(Cost(false, true), Is.EqualTo(0.19m));
        Assert.That(Cost(true, false), Is.EqualTo(0.19m));
        Assert.That(Cost(false, false), Is.EqualTo(0.46m));
    }

    [Test]
    public async Task Matrix_NegativeSaving_AllOffIsCheaperAndCheaperIsNegative()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [Receipt("r_v", "verbose", 1_000, 3_000, "c", "t")]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.008m), "8,000 × $1/M: without the tool the prompt is 2,000 tokens smaller");
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(8_000m));
        Assert.That(matrix.Cheaper, Is.EqualTo(-0.25m), "(0.008 − 0.010) / 0.008");
    }

    [Test]
    public async Task Matrix_CallWithoutRecordedCost_IsLeftOutOfEveryCostAndCounted()
    {
        await Db.AddAsync(
            [
                Call("c_ok", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m),
                Call("c_unk", "2026-06-20T10:01:00Z", "t", "mystery", new TokenUsage(20_000), null),
            ],
            [
                Receipt("r_f", "fux", 3_000, 1_000, "c_ok", "t"),
                Receipt("r_c", "compressor", 4_000, 1_000, "c_unk", "t"),
            ]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.UnpricedCalls, Is.EqualTo(1));
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.01m));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.012m), "0.01 + 2,000 × $1/M; c_unk's 3,000 are not priced as $0 either way");
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(35_000m), "30,000 prompt-side + 2,000 + 3,000");
    }

    [Test]
    public async Task Matrix_EveryCallUnpriced_EveryCostIsUnknown()
    {
        await Db.AddAsync(
            [Call("c_unk", "2026-06-20T10:01:00Z", "t", "mystery", new TokenUsage(20_000), null)],
            [Receipt("r_c", "compressor", 4_000, 1_000, "c_unk", "t")]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Rows.Select(r => r.CostUsd), Is.All.Null);
        Assert.That(matrix.Cheaper, Is.Null);
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(23_000m));
    }

    [Test]
    public async Task Matrix_NoTaskArgument_UsesTheTaskOfTheLatestCallOnly()
    {
        await MultiModelScenario.SeedAsync(Db);
        await Db.AddAsync(
            [Call("c_new", "2026-06-20T11:45:00Z", "t-new", "small", new TokenUsage(10_000), 0.01m)],
            [Receipt("r_new", "compressor", 5_000, 1_000, "c_new", "t-new")]);

        var matrix = (await Service().MatrixAsync())!;

        Assert.That(matrix.Task, Is.EqualTo("t-new"));
        Assert.That(matrix.Tools, Is.EqualTo(new[] { "compressor" }));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.014m), "0.01 + 4,000 × $1/M, nothing from t-multi");
    }

    /// <summary>Task "t": one acme/tiered call of 150,000 input ($0.15); graphify and fux each saved 40,000 on it.</summary>
    internal static Task SeedTierScenarioAsync(LedgerFile db) => db.AddAsync(
        [Call("c", "2026-06-20T10:00:00Z", "t", "tiered", new TokenUsage(150_000), 0.15m)],
        [
            Receipt("r_g", "graphify", 50_000, 10_000, "c", "t"),
            Receipt("r_f", "fux", 45_000, 5_000, "c", "t"),
        ]);
}
