using CageNet.Configuration;
using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

public class PriceCatalogCompositionTests
{
    private static readonly TokenUsage OneThousandEach = new(1_000, Output: 1_000);

    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "cage-pricing-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void WithOverrides_OneFieldOfOneModel_KeepsItsOtherFieldsAndEverySibling()
    {
        var overrides = new Dictionary<string, ModelPriceOverride>
        {
            ["anthropic/claude-sonnet-4-5"] = new() { Input = 4m },
        };

        var catalog = PriceCatalog.BuiltIn.WithOverrides(overrides);

        Assert.That(catalog.TryResolve("anthropic", "claude-sonnet-4-5", out _, out var sonnet), Is.True);
        Assert.That(sonnet!.Input, Is.EqualTo(0.000004m));
        Assert.That(sonnet.Output, Is.EqualTo(0.000015m));
        Assert.That(sonnet.CacheRead, Is.EqualTo(0.0000003m));
        Assert.That(sonnet.CacheWrite5m, Is.EqualTo(0.00000375m));
        Assert.That(sonnet.CacheWrite1h, Is.EqualTo(0.000006m));
        Assert.That(sonnet.Tiers, Has.Count.EqualTo(1));

        // The reference defect: a per-provider merge dropped the other anthropic models.
        Assert.That(catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500)).CostUsd, Is.EqualTo(0.0483m));
        Assert.That(catalog.Keys, Is.EqualTo(PriceCatalog.BuiltIn.Keys));
        foreach (var key in PriceCatalog.BuiltIn.Keys.Where(k => k != "anthropic/claude-sonnet-4-5"))
        {
            PriceCatalog.BuiltIn.TryResolve("", key, out _, out var before);
            Assert.That(catalog.TryResolve("", key, out _, out var after), Is.True, key);
            Assert.That(after, Is.SameAs(before), key);
        }
    }

    [Test]
    public void WithOverrides_Price_ReflectsOverriddenFieldOnly()
    {
        var catalog = PriceCatalog.BuiltIn.WithOverrides(new Dictionary<string, ModelPriceOverride>
        {
            ["anthropic/claude-opus-4-8"] = new() { Output = 20m },
        });

        var quote = catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, CacheRead: 1_000, Output: 1_500));

        // 8,600 × $3 + 1,000 × $0.30 + 1,500 × $20, per 1M = 0.0258 + 0.0003 + 0.03
        Assert.That(quote.CostUsd, Is.EqualTo(0.0561m));
    }

    [Test]
    public void WithOverrides_KeyInDifferentCase_MergesIntoTheExistingModel()
    {
        var catalog = PriceCatalog.BuiltIn.WithOverrides(new Dictionary<string, ModelPriceOverride>
        {
            ["OpenAI/GPT-4o"] = new() { CacheRead = 1m },
        });

        Assert.That(catalog.Count, Is.EqualTo(PriceCatalog.BuiltIn.Count));
        Assert.That(catalog.TryResolve("openai", "gpt-4o", out var key, out var price), Is.True);
        Assert.That(key, Is.EqualTo("openai/gpt-4o"));
        Assert.That((price!.Input, price.CacheRead), Is.EqualTo((0.0000025m, (decimal?)0.000001m)));
    }

    [Test]
    public void WithOverrides_MapEntry_UpdatesItsProviderTwinToo()
    {
        var map = PricingTestData.Catalog("""
            {
              "claude-x": { "litellm_provider": "anthropic", "input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06 },
              "claude-y": { "litellm_provider": "anthropic", "input_cost_per_token": 2e-06, "output_cost_per_token": 6e-06 }
            }
            """);

        var catalog = map.WithOverrides(new Dictionary<string, ModelPriceOverride> { ["claude-x"] = new() { Output = 7m } });

        // 1,000 × 0.000001 + 1,000 × 0.000007, whether the caller passes the bare or the qualified name
        Assert.That(catalog.Price("anthropic", "claude-x", OneThousandEach).CostUsd, Is.EqualTo(0.008m));
        Assert.That(catalog.Price("", "anthropic/claude-x", OneThousandEach).CostUsd, Is.EqualTo(0.008m));
        // 1,000 × 0.000002 + 1,000 × 0.000006
        Assert.That(catalog.Price("anthropic", "claude-y", OneThousandEach).CostUsd, Is.EqualTo(0.008m));
        Assert.That(catalog.TryResolve("", "claude-y", out _, out var sibling), Is.True);
        Assert.That(sibling!.Output, Is.EqualTo(0.000006m));
    }

    [Test]
    public void WithOverrides_NewKeyWithInputAndOutput_AddsTheModel()
    {
        var catalog = PriceCatalog.BuiltIn.WithOverrides(new Dictionary<string, ModelPriceOverride>
        {
            ["acme/house-model"] = new() { Input = 0.5m, Output = 1.5m, CacheRead = 0.05m },
        });

        var quote = catalog.Price("acme", "house-model", new TokenUsage(1_000, CacheRead: 10_000, Output: 1_000));

        // 1,000 × 0.0000005 + 10,000 × 0.00000005 + 1,000 × 0.0000015
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0025m, CostSource.Catalog, "acme/house-model")));
        Assert.That(catalog.Count, Is.EqualTo(PriceCatalog.BuiltIn.Count + 1));
        Assert.That(catalog.TryResolve("acme", "house-model", out _, out var price), Is.True);
        Assert.That(price!.Provider, Is.EqualTo("acme"));
    }

    [Test]
    public void WithOverrides_NewKeyWithoutOutput_ThrowsNamingTheKeyAndSuggestingTheQualifiedKey()
    {
        var overrides = new Dictionary<string, ModelPriceOverride> { ["claude-sonnet-4-5"] = new() { Input = 4m } };

        var ex = Assert.Throws<ArgumentException>(() => PriceCatalog.BuiltIn.WithOverrides(overrides));

        Assert.That(ex!.Message, Does.Contain("'claude-sonnet-4-5'").And.Contain("Input and Output").And.Contain("'anthropic/claude-sonnet-4-5'"));
    }

    [Test]
    public void WithOverrides_NegativePrice_ThrowsNamingKeyAndField()
    {
        var overrides = new Dictionary<string, ModelPriceOverride> { ["openai/gpt-4o"] = new() { CacheRead = -1m } };

        var ex = Assert.Throws<ArgumentException>(() => PriceCatalog.BuiltIn.WithOverrides(overrides));

        Assert.That(ex!.Message, Does.Contain("'openai/gpt-4o'").And.Contain("CacheRead"));
    }

    [Test]
    public void WithOverrides_LeavesTheOriginalCatalogUnchanged()
    {
        _ = PriceCatalog.BuiltIn.WithOverrides(new Dictionary<string, ModelPriceOverride> { ["openai/gpt-4o"] = new() { Input = 100m } });

        Assert.That(PriceCatalog.BuiltIn.Price("openai", "gpt-4o", OneThousandEach).CostUsd, Is.EqualTo(0.0125m));
    }

    [Test]
    public void WithEntries_OtherReplacesSameKeysAndTheRestStay()
    {
        var top = PricingTestData.Catalog("""
            { "openai/gpt-4o": { "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06 },
              "acme/new-model": { "input_cost_per_token": 2e-06, "output_cost_per_token": 2e-06 } }
            """);

        var catalog = PriceCatalog.BuiltIn.WithEntries(top);

        Assert.That(catalog.Count, Is.EqualTo(PriceCatalog.BuiltIn.Count + 1));
        Assert.That(catalog.Price("openai", "gpt-4o", OneThousandEach).CostUsd, Is.EqualTo(0.002m));
        Assert.That(catalog.Price("acme", "new-model", OneThousandEach).CostUsd, Is.EqualTo(0.004m));
        Assert.That(catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500)).CostUsd, Is.EqualTo(0.0483m));
    }

    [Test]
    public void WithEntries_KeepsLocalModelsAndAliasesOfBothSides()
    {
        var bottom = PriceCatalog.BuiltIn.WithLocalModels(["ollama/*"]);
        var top = PriceCatalog.Empty.WithAliases(new Dictionary<string, string> { ["fast"] = "openai/gpt-4o-mini" });

        var catalog = bottom.WithEntries(top);

        Assert.That(catalog.Price("ollama", "llama3", OneThousandEach).Source, Is.EqualTo(CostSource.Local));
        Assert.That(catalog.Price("", "fast", OneThousandEach).PriceKey, Is.EqualTo("openai/gpt-4o-mini"));
    }

    [Test]
    public void WithLocalModels_BlankPattern_Throws()
    {
        Assert.Throws<ArgumentException>(() => PriceCatalog.BuiltIn.WithLocalModels(["ollama/*", " "]));
    }

    [Test]
    public void WithAliases_BlankTarget_ThrowsNamingTheAlias()
    {
        var ex = Assert.Throws<ArgumentException>(() => PriceCatalog.BuiltIn.WithAliases(new Dictionary<string, string> { ["fast"] = "" }));

        Assert.That(ex!.Message, Does.Contain("'fast'"));
    }

    [Test]
    public void FromOptions_Defaults_IsBuiltInWithOllamaLocal()
    {
        var catalog = PriceCatalog.FromOptions(new PricingOptions());

        Assert.That(catalog.Keys, Is.EqualTo(PriceCatalog.BuiltIn.Keys));
        Assert.That(catalog.Price("ollama", "llama3", OneThousandEach), Is.EqualTo(new PriceQuote(0m, CostSource.Local, "ollama/*")));
        Assert.That(catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500)).CostUsd, Is.EqualTo(0.0483m));
    }

    [Test]
    public void FromOptions_ConfiguredLocalModels_ReplaceTheDefault()
    {
        var catalog = PriceCatalog.FromOptions(new PricingOptions { LocalModels = ["lmstudio/*"] });

        Assert.That(catalog.Price("lmstudio", "qwen", OneThousandEach).Source, Is.EqualTo(CostSource.Local));
        Assert.That(catalog.Price("ollama", "llama3", OneThousandEach).Source, Is.EqualTo(CostSource.Unpriced));
    }

    [Test]
    public void FromOptions_RelativeMapFile_ResolvesAgainstBaseDirectoryAndLayersOverBuiltIn()
    {
        File.WriteAllText(Path.Combine(_dir, "prices.json"), """
            { "claude-opus-4-8": { "litellm_provider": "anthropic", "input_cost_per_token": 5e-06, "output_cost_per_token": 2.5e-05 },
              "acme-1": { "litellm_provider": "acme", "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06 } }
            """);

        var catalog = PriceCatalog.FromOptions(new PricingOptions { MapFile = "prices.json" }, baseDirectory: _dir);

        // The map's bare key matches first: 8,600 × $5 + 1,500 × $25, per 1M = 0.043 + 0.0375
        Assert.That(catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500)),
            Is.EqualTo(new PriceQuote(0.0805m, CostSource.Catalog, "claude-opus-4-8")));
        Assert.That(catalog.Price("acme", "acme-1", OneThousandEach).CostUsd, Is.EqualTo(0.002m));
        Assert.That(catalog.Price("openai", "gpt-4o", OneThousandEach).PriceKey, Is.EqualTo("openai/gpt-4o"));
    }

    [Test]
    public void FromOptions_MapFileOverride_WinsOverOptionsMapFile()
    {
        var overridePath = Path.Combine(_dir, "cli-prices.json");
        File.WriteAllText(overridePath, """{ "acme-2": { "input_cost_per_token": 3e-06, "output_cost_per_token": 3e-06 } }""");

        var catalog = PriceCatalog.FromOptions(
            new PricingOptions { MapFile = Path.Combine(_dir, "does-not-exist.json") },
            mapFileOverride: overridePath);

        Assert.That(catalog.Price("", "acme-2", OneThousandEach).CostUsd, Is.EqualTo(0.006m));
    }

    [Test]
    public void FromOptions_MissingMapFile_ThrowsNamingTheFile()
    {
        var ex = Assert.Throws<PriceMapException>(() =>
            PriceCatalog.FromOptions(new PricingOptions { MapFile = "nowhere.json" }, baseDirectory: _dir));

        Assert.That(ex!.Message, Does.Contain(Path.Combine(_dir, "nowhere.json")));
    }

    [Test]
    public void FromOptions_OverridesApplyAfterTheMapAndAliasesLast()
    {
        File.WriteAllText(Path.Combine(_dir, "prices.json"), """
            { "acme-1": { "litellm_provider": "acme", "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06 } }
            """);
        var options = new PricingOptions
        {
            MapFile = "prices.json",
            Overrides = new(StringComparer.OrdinalIgnoreCase) { ["acme-1"] = new() { Output = 9m } },
            Aliases = new(StringComparer.OrdinalIgnoreCase) { ["house"] = "acme-1" },
        };

        var catalog = PriceCatalog.FromOptions(options, baseDirectory: _dir);

        // 1,000 × 0.000001 + 1,000 × 0.000009
        Assert.That(catalog.Price("", "house", OneThousandEach), Is.EqualTo(new PriceQuote(0.01m, CostSource.Catalog, "acme-1")));
        Assert.That(catalog.Price("acme", "acme-1", OneThousandEach).CostUsd, Is.EqualTo(0.01m));
    }
}
