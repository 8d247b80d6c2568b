using CageNet.Attribution;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Counterfactuals;

/// <summary>The Shapley audit (<c>cage attrib --shapley</c>): equal to the fixed-order marginals when costs are linear, different across a tier.</summary>
public sealed class ShapleyTests : LedgerTestBase
{
    [Test]
    public async Task Shapley_LinearCosts_EqualsFixedOrderAndTheAttribDollars()
    {
        await MultiModelScenario.SeedAsync(Db);

        var result = (await Service().AttributeAsync(MultiModelScenario.Task, shapley: true))!;

        Assert.That(result.Shapley!.Tools.Select(s => (s.Tool, s.FixedOrderUsd, s.ShapleyUsd, s.DifferenceUsd)), Is.EqualTo(new (string, decimal, decimal, decimal)[]
        {
            ("graphify", 0.024m, 0.024m, 0m),
            ("fux", 0.012m, 0.012m, 0m),
            ("compressor", 0.006m, 0.006m, 0m),
            ("response-cache", 0.028m, 0.028m, 0m),
        }));
        Assert.That(result.Shapley.TotalUsd, Is.EqualTo(0.070m), "0.108 all-off − 0.038 all-on");
        Assert.That(result.Tools.Select(t => t.SavedUsd), Is.EqualTo(result.Shapley.Tools.Select(s => (decimal?)s.ShapleyUsd)));
    }

    [Test]
    public async Task Shapley_TierInteraction_DiffersFromTheFixedOrder()
    {
        await MatrixTests.SeedTierScenarioAsync(Db);

        var result = (await Service().AttributeAsync("t", shapley: true))!;

        // Costs: C(both on) 0.15, C(one off) 0.19, C(both off) 0.46 (230,000 > 200k → every input token at $2/M).
        // Fixed order graphify → fux from all-off: graphify 0.46 − 0.19 = 0.27, fux 0.19 − 0.15 = 0.04.
        // Shapley: each ½ × (0.27 + 0.04) = 0.155.
        Assert.That(result.Shapley!.Tools.Select(s => (s.Tool, s.FixedOrderUsd, s.ShapleyUsd)), Is.EqualTo(new (string, decimal, decimal)[]
        {
            ("graphify", 0.27m, 0.155m),
            ("fux", 0.04m, 0.155m),
        }));
        Assert.That(result.Shapley.TotalUsd, Is.EqualTo(0.31m));
        Assert.That(result.Shapley.Tools.Sum(s => s.ShapleyUsd), Is.EqualTo(0.31m));
        Assert.That(result.Shapley.Tools.Sum(s => s.FixedOrderUsd), Is.EqualTo(0.31m));

        // attrib prices at the tier the call actually ran at (150,000 → $1/M): 40,000 → $0.04 each.
        Assert.That(result.Tools.Select(t => t.SavedUsd), Is.EqualTo(new decimal?[] { 0.04m, 0.04m }));
    }

    [Test]
    public async Task Shapley_TwelveTools_CompletesAndSharesAreEfficient()
    {
        // acme/tiered, 150,000 in ($0.15). Twelve tools each saved 10,000: all off = 270,000 > 200k → 270,000 × $2/M = $0.54.
        // The tools are symmetric, so each Shapley value is (0.54 − 0.15) / 12 = 0.0325 exactly.
        var tools = Enumerable.Range(1, 12).Select(i => $"tool{i:00}").ToArray();
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "tiered", new TokenUsage(150_000), 0.15m)],
            tools.Select(t => Receipt("r_" + t, t, 12_000, 2_000, "c", "t")));

        var result = (await Service().AttributeAsync("t", shapley: true))!;

        Assert.That(result.Shapley!.Tools, Has.Count.EqualTo(12));
        Assert.That(result.Shapley.TotalUsd, Is.EqualTo(0.39m));
        Assert.That(result.Shapley.Tools.Select(s => s.ShapleyUsd), Is.All.EqualTo(0.0325m));
        Assert.That(result.Shapley.Tools.Sum(s => s.ShapleyUsd), Is.EqualTo(0.39m));
        Assert.That(result.Shapley.Tools.Sum(s => s.FixedOrderUsd), Is.EqualTo(0.39m));
    }

    [Test]
    public async Task Shapley_MoreThanSixteenTools_IsAClearError()
    {
        var tools = Enumerable.Range(1, 17).Select(i => $"tool{i:00}").ToArray();
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(500_000), 0.5m)],
            tools.Select(t => Receipt("r_" + t, t, 2_000, 1_000, "c", "t")));

        var error = Assert.ThrowsAsync<AttributionException>(async () => await Service().AttributeAsync("t", shapley: true));

        Assert.That(error!.Message, Does.Contain("17").And.Contain("--tools"));
        Assert.That(await Service().AttributeAsync("t"), Is.Not.Null, "plain attribution has no tool limit");
    }
}
