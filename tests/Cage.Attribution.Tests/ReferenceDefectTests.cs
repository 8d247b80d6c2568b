using CageNet.Attribution;
using CageNet.Ledger;
using CageNet.Pricing;
using static CageNet.Tests.Records;

namespace CageNet.Tests;

/// <summary>SPEC 11: one test per reference defect that touches the attribution views, named after the defect.</summary>
public sealed class ReferenceDefectTests : LedgerTestBase
{
    [Test]
    public async Task MixedUnits_AreNeverSummed_4000TokensAreNot4000Dollars()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_t", "compressor", 5_000, 1_000, "c", "t"),
                Receipt("r_u", "router", 0.5m, 0.3m, "c", "t", SavingsUnit.Usd),
                Receipt("r_m", "router", 4_100, 100, "c", "t", SavingsUnit.Ms),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        Assert.That(result.Tools.Single(t => t.Unit == SavingsUnit.Tokens).SavedUsd, Is.EqualTo(0.004m), "4,000 tokens × $1/M, not $4,000");
        Assert.That(result.TotalSavedTokens, Is.EqualTo(4_000m), "the usd and ms rows are not tokens");
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.204m), "$0.004 + $0.20; the 4,000 ms are not dollars");
        var roi = await Service().RoiAsync();
        Assert.That(roi.Tools.Single(t => t.Tool == "router").SavedUsd, Is.EqualTo(0.2m));
        Assert.That(roi.Tools.Single(t => t.Tool == "router").OtherSavings[SavingsUnit.Ms], Is.EqualTo(4_000m));
    }

    [Test]
    public async Task MsAndGco2Savings_AreNeverPricedAsTokens()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "big", new TokenUsage(10_000), 0.04m)],
            [
                Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms),
                Receipt("r_g", "green", 5_000, 1_000, "c", "t", SavingsUnit.Gco2),
            ]);

        var attrib = (await Service().AttributeAsync("t"))!;
        var roi = await Service().RoiAsync();
        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(attrib.Tools.Select(t => t.SavedUsd), Is.All.Null);
        Assert.That(attrib.Tools.Select(t => t.SavedTokens), Is.All.Null);
        Assert.That(attrib.TotalSavedUsd, Is.Zero);
        Assert.That(attrib.TotalSavedTokens, Is.Zero);
        Assert.That(attrib.UnpricedReceipts, Is.Zero, "never priced is not the same as unpriced tokens");
        Assert.That(attrib.Residuals, Is.Empty, "no token receipt, no residual");
        Assert.That(roi.Tools.Select(t => t.SavedUsd), Is.All.Null);
        Assert.That(matrix.Tools, Is.Empty);
    }

    [Test]
    public async Task AttributionAndRoi_PriceTheSameReceiptIdentically()
    {
        // One receipt per tool, each exercising a branch of the pricing rule.
        await Db.AddAsync(
            [
                Call("c_small", "2026-06-20T09:00:00Z", "t", "small", new TokenUsage(10_000, CacheRead: 20_000), 0.012m),
                Call("c_long", "2026-06-20T10:00:00Z", "t", "tiered", new TokenUsage(250_000), 0.5m),
                Call("c_local", "2026-06-20T10:30:00Z", "t", "llama3", new TokenUsage(5_000), 0m, provider: "ollama"),
                Call("c_unk", "2026-06-20T10:45:00Z", "t", "mystery", new TokenUsage(5_000), null),
                Call("c_last", "2026-06-20T11:00:00Z", "t", "big", new TokenUsage(1_000), 0.004m),
            ],
            [
                Receipt("r1", "graphify", 25_000, 5_000, "c_small", "t"),          // 20,000 × $1/M = 0.02 (uncached input price)
                Receipt("r2", "fux", 13_000, 3_000, "c_long", "t"),                // 10,000 × $2/M (tier) = 0.02
                Receipt("r3", "compressor", 3_000, 1_000, "c_local", "t"),         // local: 0
                Receipt("r4", "shrinker", 3_000, 1_000, "c_unk", "t"),             // unpriced
                Receipt("r5", "response-cache", 2_500, 0, null, "t"),              // call-less: 2,500 × $4/M (c_last) = 0.01
                Receipt("r6", "router", 0.25m, 0.05m, "c_small", "t", SavingsUnit.Usd), // 0.2 as-is
            ]);

        var attrib = (await Service().AttributeAsync("t"))!;
        var roi = await Service().RoiAsync();

        var expected = new Dictionary<string, decimal?>
        {
            ["graphify"] = 0.02m, ["fux"] = 0.02m, ["compressor"] = 0m, ["shrinker"] = null, ["response-cache"] = 0.01m, ["router"] = 0.2m,
        };
        Assert.That(attrib.Tools.ToDictionary(t => t.Tool, t => t.SavedUsd), Is.EquivalentTo(expected));
        Assert.That(roi.Tools.ToDictionary(t => t.Tool, t => t.SavedUsd), Is.EquivalentTo(expected));
        Assert.That(roi.UnpricedReceipts, Is.EqualTo(attrib.UnpricedReceipts).And.EqualTo(1));
        var recommend = await Service().RecommendAsync();
        var verdicts = recommend.Routes.SelectMany(r => r.Tools).ToDictionary(t => t.Tool, t => t.SavedUsd);
        Assert.That(verdicts, Is.EquivalentTo(expected), "recommend prices with the same rule");
    }

    [Test]
    public async Task CallLessEliminatedCall_IsNotWorthZeroInRoi()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "big", new TokenUsage(1_000), 0.004m)],
            [Receipt("r_rc", "response-cache", 12_000, 0, null, "t", method: SavingsMethod.Measured)]);

        var row = (await Service().RoiAsync()).Tools.Single();

        Assert.That(row.EliminatedCalls, Is.EqualTo(1));
        Assert.That(row.SavedUsd, Is.EqualTo(0.048m), "12,000 × $4/M at the task model, not $0");
        Assert.That(row.NetUsd, Is.EqualTo(0.048m));
    }

    [Test]
    public async Task Matrix_HonoursCachedTokens_MeasuredCellEqualsRecordedSpend()
    {
        // 2,000 in × $4/M + 100,000 cache read × $0.40/M = 0.008 + 0.04 = $0.048 (at full input price it would be $0.408).
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "big", new TokenUsage(2_000, CacheRead: 100_000), 0.048m)],
            [Receipt("r", "compressor", 10_000, 2_000, "c", "t", method: SavingsMethod.Measured)]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.048m));
        Assert.That(matrix.AllOn.Source, Is.EqualTo(SavingsMethod.Measured));
        Assert.That(matrix.AllOn.InputTokens, Is.EqualTo(102_000m));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.08m), "0.048 + 8,000 uncached × $4/M; the cached 100,000 keep their cached price");
        Assert.That(matrix.AllOff.InputTokens, Is.EqualTo(110_000m));
    }

    [Test]
    public async Task MatrixFooter_ComparesAllOffWithAllOn_NotMaxWithMin()
    {
        // compressor saved 4,000, verbose made the prompt 2,000 bigger. Rows: all-on 0.010, compressor off 0.014 (the max),
        // verbose off 0.008 (the min), all-off 0.012. All-off vs all-on: (0.012 − 0.010) / 0.012; max vs min would be 43%.
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_c", "compressor", 5_000, 1_000, "c", "t"),
                Receipt("r_v", "verbose", 1_000, 3_000, "c", "t"),
            ]);

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Rows.Select(r => r.CostUsd), Is.EqualTo(new decimal?[] { 0.014m, 0.012m, 0.01m, 0.008m }));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.012m));
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.01m));
        Assert.That(Math.Round(matrix.Cheaper!.Value, 4), Is.EqualTo(0.1667m));
    }

    [Test]
    public async Task MoreThanSixteenTools_IsAClearError_NotASilentCut()
    {
        var tools = Enumerable.Range(1, 17).Select(i => $"tool{i:00}").ToArray();
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(500_000), 0.5m)],
            tools.Select(t => Receipt("r_" + t, t, 2_000, 1_000, "c", "t")));

        var error = Assert.ThrowsAsync<AttributionException>(async () => await Service().MatrixAsync("t"));

        Assert.That(error!.Message, Does.Contain("17").And.Contain("16").And.Contain("--tools"));
        var subset = (await Service().MatrixAsync("t", tools.Take(16).ToArray()))!;
        Assert.That(subset.Tools, Has.Count.EqualTo(16), "a subset of 16 works");
        Assert.That(subset.Rows, Has.Count.EqualTo(65_536));
    }

    [Test]
    public async Task ThirteenTools_AllRowsAreThere_NoSilentTwelveToolCap()
    {
        // 13 tools each saved 1,000 on one acme/small call of 100,000 in ($0.10): all-off = 113,000 × $1/M.
        var tools = Enumerable.Range(1, 13).Select(i => $"tool{i:00}").ToArray();
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(100_000), 0.1m)],
            tools.Select(t => Receipt("r_" + t, t, 2_000, 1_000, "c", "t")));

        var matrix = (await Service().MatrixAsync("t"))!;

        Assert.That(matrix.Tools, Has.Count.EqualTo(13));
        Assert.That(matrix.Rows, Has.Count.EqualTo(8_192));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.113m));
        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.1m));
    }

    [Test]
    public async Task NoTask_NeverAggregatesEveryTask()
    {
        await Db.AddAsync(
            [
                Call("c_a", "2026-06-20T09:00:00Z", "task-a", "small", new TokenUsage(10_000), 0.01m),
                Call("c_b", "2026-06-20T10:00:00Z", "task-b", "big", new TokenUsage(10_000), 0.04m),
            ],
            [
                Receipt("r_a", "compressor", 5_000, 1_000, "c_a", "task-a"),
                Receipt("r_b", "compressor", 3_000, 1_000, "c_b", "task-b"),
            ]);

        var result = (await Service().AttributeAsync())!;

        Assert.That(result.Task, Is.EqualTo("task-b"), "the task of the latest call");
        Assert.That(result.Tools.Single().Receipts, Is.EqualTo(1));
        Assert.That(result.Tools.Single().SavedUsd, Is.EqualTo(0.008m), "2,000 × $4/M; task-a's 4,000 are not mixed in");
        Assert.That(result.Residuals.Select(r => r.CallId), Is.EqualTo(new[] { "c_b" }));
    }

    [Test]
    public async Task ReceiptWithoutMethod_DefaultsToModeled_AndViewsDoNotCrash()
    {
        var folder = Path.Combine(Db.Folder, "reference");
        Directory.CreateDirectory(folder);
        await System.IO.File.WriteAllTextAsync(Path.Combine(folder, "calls.jsonl"),
            """{"id": "c_old", "ts": "2026-06-20T10:00:00Z", "task": "t-old", "route": "code-edit", "provider": "acme", "model": "small", "tokens_in": 10000, "tokens_out": 0}""" + "\n");
        await System.IO.File.WriteAllTextAsync(Path.Combine(folder, "receipts.jsonl"),
            """{"id": "r_old", "ts": "2026-06-20T10:00:00Z", "call": "c_old", "task": "t-old", "tool": "graphify", "unit": "tokens", "raw_alternative": 5000, "actual": 1000}""" + "\n");
        var import = await ReferenceJsonl.ImportAsync(Ledger, folder, TestPrices.Catalog);
        Assert.That(import.Errors, Is.Empty);
        Assert.That(import.Appended, Is.EqualTo(new AppendResult(1, 0, 1, 0)));

        var attrib = (await Service().AttributeAsync())!;
        var matrix = (await Service().MatrixAsync())!;
        var roi = await Service().RoiAsync();
        var recommend = await Service().RecommendAsync();

        Assert.That(attrib.Tools.Single().Method, Is.EqualTo(SavingsMethod.Modeled));
        Assert.That(attrib.Tools.Single().SavedUsd, Is.EqualTo(0.004m), "4,000 × $1/M");
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.014m), "0.01 recorded + 0.004");
        Assert.That(matrix.AllOff.Source, Is.EqualTo(SavingsMethod.Modeled));
        Assert.That(roi.Tools.Single().Method, Is.EqualTo(SavingsMethod.Modeled));
        Assert.That(recommend.Routes.Single().Tools.Single().Evidence, Does.Contain("modeled"));
    }

    [Test]
    public async Task UnknownModel_IsUnpriced_NeverZero()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "mystery", new TokenUsage(10_000), null)],
            [Receipt("r", "compressor", 5_000, 1_000, "c", "t")]);

        var attrib = (await Service().AttributeAsync("t"))!;
        var roi = await Service().RoiAsync();
        var matrix = (await Service().MatrixAsync("t"))!;
        var recommend = await Service().RecommendAsync();

        Assert.That(attrib.Tools.Single().SavedUsd, Is.Null);
        Assert.That(attrib.UnpricedReceipts, Is.EqualTo(1));
        Assert.That(roi.Tools.Single().SavedUsd, Is.Null);
        Assert.That(roi.Tools.Single().UnpricedReceipts, Is.EqualTo(1));
        Assert.That(matrix.AllOn.CostUsd, Is.Null);
        Assert.That(matrix.AllOff.CostUsd, Is.Null);
        Assert.That(matrix.UnpricedCalls, Is.EqualTo(1));
        Assert.That(recommend.Routes.Single().Tools.Single().Verdict, Is.EqualTo(Verdict.NoEvidence));
    }

    [Test]
    public async Task UnknownModel_InTheBuiltInCatalog_IsUnpricedToo()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "not-a-real-model-xyz", new TokenUsage(10_000), null, provider: "nobody")],
            [Receipt("r", "compressor", 5_000, 1_000, "c", "t")]);

        var attrib = (await Service(catalog: PriceCatalog.BuiltIn).AttributeAsync("t"))!;

        Assert.That(attrib.Tools.Single().SavedUsd, Is.Null);
        Assert.That(attrib.UnpricedReceipts, Is.EqualTo(1));
    }
}
