using CageNet.Ledger;
using static CageNet.Tests.Records;

namespace CageNet.Tests;

/// <summary><c>cage attrib</c> over a real SQLite ledger: the pricing rule, row order, residuals and the no-task messages' cases.</summary>
public sealed class AttributionTests : LedgerTestBase
{
    [Test]
    public async Task Attribute_SeveralCallsOnSeveralModels_PricesEachReceiptAtItsCallsModel()
    {
        await MultiModelScenario.SeedAsync(Db);

        var result = (await Service().AttributeAsync(MultiModelScenario.Task))!;

        Assert.That(result.Provider, Is.EqualTo("acme"));
        Assert.That(result.Model, Is.EqualTo("big"), "the latest call (c2, 11:00) is the task model");
        Assert.That(result.Tools.Select(t => (t.Tool, t.Unit, t.Receipts, t.Saved, t.SavedUsd, t.Method)), Is.EqualTo(new (string, SavingsUnit, int, decimal, decimal?, SavingsMethod)[]
        {
            ("graphify", SavingsUnit.Tokens, 1, 24_000m, 0.024m, SavingsMethod.Modeled),     // 24,000 × $1/M (c1: acme/small)
            ("fux", SavingsUnit.Tokens, 1, 3_000m, 0.012m, SavingsMethod.Measured),          // 3,000 × $4/M (c2: acme/big)
            ("compressor", SavingsUnit.Tokens, 1, 6_000m, 0.006m, SavingsMethod.Measured),   // 6,000 × $1/M
            ("response-cache", SavingsUnit.Tokens, 1, 7_000m, 0.028m, SavingsMethod.Measured), // call-less: 7,000 × $4/M (task model)
        }));
        Assert.That(result.Tools.Select(t => t.SavedTokens), Is.EqualTo(new decimal?[] { 24_000m, 3_000m, 6_000m, 7_000m }));
        Assert.That(result.TotalSavedTokens, Is.EqualTo(40_000m));
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.070m));
        Assert.That(result.UnpricedReceipts, Is.Zero);
        Assert.That(result.Shapley, Is.Null, "the audit only when asked for");
    }

    [Test]
    public async Task Attribute_CachedInput_ResidualCountsCacheReadsAsPromptSide()
    {
        await MultiModelScenario.SeedAsync(Db);

        var result = (await Service().AttributeAsync(MultiModelScenario.Task))!;

        // c1: 10,000 input + 20,000 cache read = 30,000 prompt-side − (6,000 + 2,000) actual = 22,000; c2: 5,000 − 1,000 = 4,000.
        Assert.That(result.Residuals.Select(r => (r.CallId, r.PromptTokens, r.ReceiptsActual, r.Tokens, r.TokenReceipts, r.OverClaim)),
            Is.EqualTo(new (string, long, decimal, decimal, int, bool)[]
            {
                ("c1", 30_000, 8_000m, 22_000m, 2, false),
                ("c2", 5_000, 1_000m, 4_000m, 1, false),
            }));
    }

    [Test]
    public async Task Attribute_ToolsMissingFromOrder_FollowTheOrderedOnesByName()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(50_000), 0.05m)],
            [
                Receipt("r1", "zeta", 2_000, 1_000, "c", "t"),
                Receipt("r2", "alpha", 2_000, 1_000, "c", "t"),
                Receipt("r3", "compressor", 2_000, 1_000, "c", "t"),
                Receipt("r4", "graphify", 2_000, 1_000, "c", "t"),
                Receipt("r5", "Beta", 2_000, 1_000, "c", "t"),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        // tools.order first (graphify, fux, compressor), then the rest by ordinal name: "Beta" < "alpha" < "zeta".
        Assert.That(result.Tools.Select(t => t.Tool), Is.EqualTo(new[] { "graphify", "compressor", "Beta", "alpha", "zeta" }));
    }

    [Test]
    public async Task Attribute_OneToolInSeveralUnits_RowsByUnitAndOnlyTokensAndUsdAreDollars()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_g", "router", 4_000, 0, "c", "t", SavingsUnit.Gco2),
                Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms),
                Receipt("r_u", "router", 0.5m, 0.3m, "c", "t", SavingsUnit.Usd),
                Receipt("r_t", "router", 5_000, 1_000, "c", "t", SavingsUnit.Tokens),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        Assert.That(result.Tools.Select(t => (t.Unit, t.Saved, t.SavedTokens, t.SavedUsd)), Is.EqualTo(new (SavingsUnit, decimal, decimal?, decimal?)[]
        {
            (SavingsUnit.Tokens, 4_000m, 4_000m, 0.004m), // 4,000 × $1/M
            (SavingsUnit.Usd, 0.2m, null, 0.2m),          // dollars as-is
            (SavingsUnit.Ms, 800m, null, null),
            (SavingsUnit.Gco2, 4_000m, null, null),
        }));
        Assert.That(result.TotalSavedTokens, Is.EqualTo(4_000m), "ms and gco2 are never added to the token total");
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.204m));
    }

    [Test]
    public async Task Attribute_NegativeSaving_StaysNegativeInTokensAndDollars()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [
                Receipt("r_v", "verbose", 1_000, 3_000, "c", "t", method: SavingsMethod.Measured),
                Receipt("r_c", "compressor", 5_000, 1_000, "c", "t"),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        var verbose = result.Tools.Single(t => t.Tool == "verbose");
        Assert.That(verbose.Saved, Is.EqualTo(-2_000m));
        Assert.That(verbose.SavedUsd, Is.EqualTo(-0.002m));
        Assert.That(result.TotalSavedTokens, Is.EqualTo(2_000m), "4,000 − 2,000");
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.002m), "0.004 − 0.002");
    }

    [Test]
    public async Task Attribute_CallPricedAtLongContextTier_SavingPricedAtThatTiersInputRate()
    {
        await Db.AddAsync(
            [
                Call("c_long", "2026-06-20T10:00:00Z", "t", "tiered", new TokenUsage(250_000), 0.5m),  // > 200k: 250,000 × $2/M
                Call("c_short", "2026-06-20T10:05:00Z", "t", "tiered", new TokenUsage(100_000), 0.1m), // 100,000 × $1/M
            ],
            [
                Receipt("r_f", "fux", 12_000, 2_000, "c_long", "t"),
                Receipt("r_c", "compressor", 12_000, 2_000, "c_short", "t"),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        Assert.That(result.Tools.Single(t => t.Tool == "fux").SavedUsd, Is.EqualTo(0.02m), "10,000 × $2/M (the tier c_long was priced at)");
        Assert.That(result.Tools.Single(t => t.Tool == "compressor").SavedUsd, Is.EqualTo(0.01m), "10,000 × $1/M");
    }

    [Test]
    public async Task Attribute_CallLessReceipt_PricedAtStandardInputOfLatestCallByTimestamp()
    {
        // Appended out of order: the ledger row order must not decide the task model, the timestamp does.
        await Db.AddAsync([Call("c_late", "2026-06-20T11:00:00Z", "t", "tiered", new TokenUsage(250_000), 0.5m)]);
        await Db.AddAsync(
            [Call("c_early", "2026-06-20T09:00:00Z", "t", "big", new TokenUsage(1_000), 0.004m)],
            [Receipt("r_rc", "response-cache", 10_000, 0, null, "t", method: SavingsMethod.Measured)]);

        var result = (await Service().AttributeAsync("t"))!;

        Assert.That(result.Model, Is.EqualTo("tiered"));
        Assert.That(result.Tools.Single().SavedUsd, Is.EqualTo(0.01m), "10,000 × $1/M: acme/tiered's standard price, not its $2/M tier, not acme/big");
        Assert.That(result.Residuals, Is.Empty, "a call-less receipt has no call to take a residual of");
    }

    [Test]
    public async Task Attribute_LocalModel_PricesAtZero_NotUnpriced()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "llama3", new TokenUsage(10_000), 0m, provider: "ollama")],
            [Receipt("r", "compressor", 5_000, 1_000, "c", "t")]);

        var result = (await Service().AttributeAsync("t"))!;

        Assert.That(result.Tools.Single().SavedUsd, Is.EqualTo(0m));
        Assert.That(result.UnpricedReceipts, Is.Zero);
    }

    [Test]
    public async Task Attribute_TaskWithoutCalls_CallLessReceiptIsUnpriced()
    {
        await Db.AddAsync([], [Receipt("r", "response-cache", 5_000, 0, null, "t-ghost")]);

        var result = (await Service().AttributeAsync("t-ghost"))!;

        Assert.That(result.Model, Is.Null);
        Assert.That(result.Tools.Single().SavedUsd, Is.Null);
        Assert.That(result.Tools.Single().UnpricedReceipts, Is.EqualTo(1));
        Assert.That(result.UnpricedReceipts, Is.EqualTo(1));
        Assert.That(result.TotalSavedTokens, Is.EqualTo(5_000m));
        Assert.That(result.TotalSavedUsd, Is.Zero, "nothing priced, and the unpriced receipt is counted, not added as $0");
    }

    [Test]
    public async Task Attribute_PricedAndUnpricedReceiptsOfOneTool_SumsThePricedAndCountsTheOther()
    {
        await Db.AddAsync(
            [
                Call("c_ok", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m),
                Call("c_unk", "2026-06-20T10:01:00Z", "t", "mystery", new TokenUsage(10_000), null),
            ],
            [
                Receipt("r1", "compressor", 5_000, 1_000, "c_ok", "t"),
                Receipt("r2", "compressor", 5_000, 1_000, "c_unk", "t"),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        var row = result.Tools.Single();
        Assert.That(row.SavedUsd, Is.EqualTo(0.004m));
        Assert.That(row.UnpricedReceipts, Is.EqualTo(1));
        Assert.That(row.SavedTokens, Is.EqualTo(8_000m));
    }

    [Test]
    public async Task Attribute_ReceiptsClaimMoreThanThePrompt_ResidualIsNegativeAndFlagged()
    {
        await Db.AddAsync(
            [Call("c_small", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(1_000, Output: 100), 0.0012m)],
            [
                Receipt("r_a", "compressor", 5_000, 800, "c_small", "t"),
                Receipt("r_b", "graphify", 4_000, 700, "c_small", "t"),
                Receipt("r_c", "router", 900, 100_000, "c_small", "t", SavingsUnit.Ms),
            ]);

        var result = (await Service().AttributeAsync("t"))!;

        var residual = result.Residuals.Single();
        Assert.That(residual.Tokens, Is.EqualTo(-500m), "1,000 − (800 + 700); the ms receipt is not tokens");
        Assert.That(residual.TokenReceipts, Is.EqualTo(2));
        Assert.That(residual.OverClaim, Is.True);
    }

    [Test]
    public async Task Attribute_WorstMethodAndMinConfidence_PerRow()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(50_000), 0.05m)],
            [
                Receipt("r1", "fux", 2_000, 1_000, "c", "t", method: SavingsMethod.Measured, confidence: 0.9),
                Receipt("r2", "fux", 2_000, 1_000, "c", "t", method: SavingsMethod.Estimated, confidence: 0.6),
                Receipt("r3", "fux", 2_000, 1_000, "c", "t", method: SavingsMethod.Modeled, confidence: 0.8),
            ]);

        var row = (await Service().AttributeAsync("t"))!.Tools.Single();

        Assert.That(row.Receipts, Is.EqualTo(3));
        Assert.That(row.Method, Is.EqualTo(SavingsMethod.Estimated));
        Assert.That(row.Confidence, Is.EqualTo(0.6));
        Assert.That((row.RawAlternative, row.Actual, row.Saved), Is.EqualTo((6_000m, 3_000m, 3_000m)));
    }

    [Test]
    public async Task Attribute_EmptyLedger_ReturnsNull()
    {
        Assert.That(await Service().AttributeAsync(), Is.Null);
        Assert.That(await Service().MatrixAsync(), Is.Null);
    }

    [Test]
    public async Task Attribute_CallsWithoutAnyTask_ReturnsNull()
    {
        await Db.AddAsync([Call("c", "2026-06-20T10:00:00Z", null, "small", new TokenUsage(1_000), 0.001m)]);

        Assert.That(await Service().AttributeAsync(), Is.Null);
    }

    [Test]
    public async Task Attribute_TaskWithCallsButNoReceipts_HasNoRows()
    {
        await Db.AddAsync([Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(1_000), 0.001m)]);

        var result = (await Service().AttributeAsync())!;

        Assert.That(result.Task, Is.EqualTo("t"));
        Assert.That(result.HasReceipts, Is.False);
        Assert.That(result.Tools, Is.Empty);
        Assert.That(result.Residuals, Is.Empty);
        Assert.That(result.TotalSavedUsd, Is.Zero);
    }

    [Test]
    public async Task Attribute_OverTheInMemoryLedger_GivesTheSameAttribution()
    {
        var memory = new InMemoryLedger();
        await MultiModelScenario.SeedAsync(memory);

        var result = (await Records.Service(memory).AttributeAsync())!;

        Assert.That(result.Task, Is.EqualTo(MultiModelScenario.Task));
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.070m));
        Assert.That(result.Tools.Select(t => t.Tool), Is.EqualTo(new[] { "graphify", "fux", "compressor", "response-cache" }));
    }
}
