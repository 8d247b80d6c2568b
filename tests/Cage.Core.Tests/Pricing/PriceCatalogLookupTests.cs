using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

public class PriceCatalogLookupTests
{
    private static readonly TokenUsage OneThousandEach = new(1_000, Output: 1_000);

    // A small map in the community format: bare keys with their provider, as the real map spells them.
    private const string MapJson = """
        {
          "claude-3-7-sonnet-20250219": { "litellm_provider": "anthropic", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05 },
          "claude-opus-4-1": { "litellm_provider": "anthropic", "input_cost_per_token": 1.5e-05, "output_cost_per_token": 7.5e-05 },
          "gpt-4o": { "litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 },
          "gpt-4o-mini": { "litellm_provider": "openai", "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07 }
        }
        """;

    [Test]
    public void Price_WorkedExample_IsExactlyFourCentsEightyThree()
    {
        var quote = PriceCatalog.BuiltIn.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500));

        // 8,600 × $3/1M + 1,500 × $15/1M = 0.0258 + 0.0225
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0483m, CostSource.Catalog, "anthropic/claude-opus-4-8")));
    }

    [Test]
    public void Price_ExactModelKey_RecordsTheModelKey()
    {
        var catalog = PricingTestData.Catalog(MapJson);

        var quote = catalog.Price("anthropic", "claude-3-7-sonnet-20250219", OneThousandEach);

        // 1,000 × 0.000003 + 1,000 × 0.000015
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.018m, CostSource.Catalog, "claude-3-7-sonnet-20250219")));
    }

    [Test]
    public void Price_ProviderQualifiedKey_RecordsProviderSlashModel()
    {
        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", OneThousandEach);

        // 1,000 × $2.50/1M + 1,000 × $10/1M
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0125m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_ExactKeyAndProviderKeyBothPresent_ExactKeyWins()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "gpt-4o": { "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06 },
              "openai/gpt-4o": { "input_cost_per_token": 9e-06, "output_cost_per_token": 9e-06 }
            }
            """);

        var quote = catalog.Price("openai", "gpt-4o", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.002m, CostSource.Catalog, "gpt-4o")));
    }

    [Test]
    public void Price_CompactDateSuffix_StripsItAndUsesProviderKey()
    {
        var quote = PriceCatalog.BuiltIn.Price("anthropic", "claude-sonnet-4-5-20250929", OneThousandEach);

        // $3 + $15 per 1M on 1,000 tokens each
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.018m, CostSource.Catalog, "anthropic/claude-sonnet-4-5")));
    }

    [Test]
    public void Price_DashedDateSuffix_StripsIt()
    {
        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o-2024-08-06", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0125m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_AtDateSuffix_StripsItAndUsesBareKey()
    {
        var catalog = PricingTestData.Catalog(MapJson);

        var quote = catalog.Price("vertex_ai", "claude-opus-4-1@20250805", OneThousandEach);

        // 1,000 × 0.000015 + 1,000 × 0.000075
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.09m, CostSource.Catalog, "claude-opus-4-1")));
    }

    [Test]
    public void Price_DatedModelWhoseOwnKeyExists_UsesTheDatedKey()
    {
        var catalog = PricingTestData.Catalog(MapJson).WithEntries(PriceCatalog.BuiltIn);

        var quote = catalog.Price("anthropic", "claude-3-7-sonnet-20250219", OneThousandEach);

        Assert.That(quote.PriceKey, Is.EqualTo("claude-3-7-sonnet-20250219"));
    }

    [Test]
    public void Price_Alias_ResolvesTargetAndRecordsTargetKey()
    {
        var catalog = PriceCatalog.BuiltIn.WithAliases(new Dictionary<string, string> { ["house-sonnet"] = "anthropic/claude-sonnet-4-5" });

        var quote = catalog.Price("azure", "house-sonnet", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.018m, CostSource.Catalog, "anthropic/claude-sonnet-4-5")));
    }

    [Test]
    public void Price_AliasKeyedByProviderAndModel_Resolves()
    {
        var catalog = PriceCatalog.BuiltIn.WithAliases(new Dictionary<string, string> { ["azure/prod-gpt"] = "openai/gpt-4o" });

        var quote = catalog.Price("azure", "prod-gpt", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0125m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_AliasTargetNotAnExactKey_IsUnpriced()
    {
        // "claude-sonnet-4-5" is only reachable through provider/model; alias targets are resolved exactly.
        var catalog = PriceCatalog.BuiltIn.WithAliases(new Dictionary<string, string> { ["house-sonnet"] = "claude-sonnet-4-5" });

        var quote = catalog.Price("anthropic", "house-sonnet", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(null, CostSource.Unpriced, null)));
    }

    [Test]
    public void Price_AliasDoesNotShadowARealKey()
    {
        var catalog = PriceCatalog.BuiltIn.WithAliases(new Dictionary<string, string> { ["gpt-4o"] = "anthropic/claude-opus-4-8" });

        var quote = catalog.Price("openai", "gpt-4o", OneThousandEach);

        Assert.That(quote.PriceKey, Is.EqualTo("openai/gpt-4o"));
    }

    [Test]
    public void Price_DifferentCase_MatchesAndRecordsCatalogSpelling()
    {
        var quote = PriceCatalog.BuiltIn.Price("Anthropic", "Claude-Opus-4-8", new TokenUsage(8_600, Output: 1_500));

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0483m, CostSource.Catalog, "anthropic/claude-opus-4-8")));
    }

    [TestCase("openai", "gpt-4")]
    [TestCase("openai", "gpt-4o-mini-2")]
    [TestCase("openai", "gpt")]
    [TestCase("openai", "4o")]
    [TestCase("", "gpt-4o-2024-08")]
    public void Price_PrefixOrSubstringOfAKey_IsUnpriced(string provider, string model)
    {
        var catalog = PricingTestData.Catalog(MapJson);

        var quote = catalog.Price(provider, model, OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(null, CostSource.Unpriced, null)));
    }

    [Test]
    public void Price_Gpt4WithBuiltInTable_DoesNotMatchGpt4o()
    {
        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(null, CostSource.Unpriced, null)));
    }

    [Test]
    public void Price_UnknownModel_IsUnpricedWithNullCostNeverZero()
    {
        var quote = PriceCatalog.BuiltIn.Price("acme", "mystery-model-9", OneThousandEach);

        Assert.That(quote.CostUsd, Is.Null);
        Assert.That(quote.Source, Is.EqualTo(CostSource.Unpriced));
        Assert.That(quote.PriceKey, Is.Null);
    }

    [Test]
    public void Price_EmptyCatalog_IsUnpriced()
    {
        var quote = PriceCatalog.Empty.Price("anthropic", "claude-opus-4-8", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(null, CostSource.Unpriced, null)));
        Assert.That(PriceCatalog.Empty.Count, Is.Zero);
    }

    [Test]
    public void Price_LocalPatternOnProviderAndModel_IsFreeAndLocal()
    {
        var catalog = PriceCatalog.BuiltIn.WithLocalModels(["ollama/*"]);

        var quote = catalog.Price("ollama", "llama3.1:8b", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Local, "ollama/*")));
    }

    [Test]
    public void Price_LocalPatternOnModelAlone_IsFreeAndLocal()
    {
        var catalog = PriceCatalog.Empty.WithLocalModels(["OLLAMA/*"]);

        var quote = catalog.Price("", "ollama/qwen2.5-coder", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Local, "OLLAMA/*")));
    }

    [Test]
    public void Price_LocalPatternMatchingACatalogModel_LocalWins()
    {
        var catalog = PriceCatalog.BuiltIn.WithLocalModels(["*/deepseek-*"]);

        var quote = catalog.Price("deepseek", "deepseek-chat", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Local, "*/deepseek-*")));
    }

    [Test]
    public void Price_LocalPatternNotMatching_FallsThroughToCatalog()
    {
        var catalog = PriceCatalog.BuiltIn.WithLocalModels(["ollama/*", "lmstudio/*"]);

        var quote = catalog.Price("openai", "gpt-4o", OneThousandEach);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.0125m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_ProviderCost_WinsOverCatalogAndKeepsTheKey()
    {
        var quote = PriceCatalog.BuiltIn.Price("openrouter", "anthropic/claude-opus-4-8", OneThousandEach, providerCost: 0.95m);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.95m, CostSource.Provider, "anthropic/claude-opus-4-8")));
    }

    [Test]
    public void Price_ProviderCostForUnknownModel_IsProviderWithNullKey()
    {
        var quote = PriceCatalog.BuiltIn.Price("openrouter", "someone/new-model", OneThousandEach, providerCost: 0.000028m);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.000028m, CostSource.Provider, null)));
    }

    [Test]
    public void Price_ProviderReportsZero_IsAProviderZeroNotUnpriced()
    {
        var quote = PriceCatalog.BuiltIn.Price("openrouter", "someone/free-model", OneThousandEach, providerCost: 0m);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Provider, null)));
    }

    [Test]
    public void TryResolve_KnownModel_ReturnsKeyAndPrice()
    {
        var found = PriceCatalog.BuiltIn.TryResolve("anthropic", "claude-opus-4-8-20990101", out var key, out var price);

        Assert.That(found, Is.True);
        Assert.That(key, Is.EqualTo("anthropic/claude-opus-4-8"));
        Assert.That(price!.Input, Is.EqualTo(0.000003m));
        Assert.That(price.Output, Is.EqualTo(0.000015m));
        Assert.That(price.CacheRead, Is.EqualTo(0.0000003m));
        Assert.That(price.CacheWrite5m, Is.EqualTo(0.00000375m));
        Assert.That(price.CacheWrite1h, Is.EqualTo(0.000006m));
        Assert.That(price.Provider, Is.EqualTo("anthropic"));
    }

    [Test]
    public void TryResolve_UnknownModel_ReturnsFalse()
    {
        var found = PriceCatalog.BuiltIn.TryResolve("acme", "nope", out var key, out var price);

        Assert.That(found, Is.False);
        Assert.That(key, Is.Null);
        Assert.That(price, Is.Null);
    }

    [Test]
    public void Price_RepeatedLookup_GivesTheSameAnswer()
    {
        var first = PriceCatalog.BuiltIn.Price("openai", "gpt-4o-2024-11-20", OneThousandEach);
        var second = PriceCatalog.BuiltIn.Price("openai", "gpt-4o-2024-11-20", OneThousandEach);

        Assert.That(second, Is.EqualTo(first));
        Assert.That(second, Is.EqualTo(new PriceQuote(0.0125m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_AfterFirstLookup_DoesNotAllocate()
    {
        var catalog = PriceCatalog.BuiltIn.WithLocalModels(["ollama/*"]);
        var usage = new TokenUsage(8_600, CacheRead: 1_000, CacheWrite5m: 200, CacheWrite1h: 100, Output: 1_500, Reasoning: 300);
        var total = 0m;
        for (var i = 0; i < 2_000; i++)
        {
            total += catalog.Price("anthropic", "claude-opus-4-8", usage).CostUsd ?? 0m;
            total += catalog.Price("openai", "gpt-4o", usage, serviceTier: "batch").CostUsd ?? 0m;
            total += catalog.Price("ollama", "llama3", usage).CostUsd ?? 0m;
            total += catalog.Price("acme", "unknown", usage).CostUsd ?? 0m;
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            total += catalog.Price("anthropic", "claude-opus-4-8", usage).CostUsd ?? 0m;
            total += catalog.Price("openai", "gpt-4o", usage, serviceTier: "batch").CostUsd ?? 0m;
            total += catalog.Price("ollama", "llama3", usage).CostUsd ?? 0m;
            total += catalog.Price("acme", "unknown", usage).CostUsd ?? 0m;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);
        Assert.That(total, Is.GreaterThan(0m));
    }

    [TestCase("claude-3-7-sonnet-20250219", "claude-3-7-sonnet")]
    [TestCase("gpt-4o-2024-08-06", "gpt-4o")]
    [TestCase("claude-3-5-sonnet@20240620", "claude-3-5-sonnet")]
    [TestCase("o1-2024-12-17", "o1")]
    public void StripDateSuffix_DatedName_RemovesTheDate(string model, string expected)
    {
        Assert.That(ModelNames.StripDateSuffix(model), Is.EqualTo(expected));
    }

    [TestCase("gpt-4-0613")]
    [TestCase("gemini-2.0-flash-001")]
    [TestCase("model-12345678")]
    [TestCase("gpt-4o-2024-13-06")]
    [TestCase("-20250219")]
    [TestCase("claude-sonnet-4-5")]
    public void StripDateSuffix_NoDate_ReturnsNull(string model)
    {
        Assert.That(ModelNames.StripDateSuffix(model), Is.Null);
    }

    [TestCase("ollama/*", "ollama/llama3", true)]
    [TestCase("ollama/*", "OLLAMA/Llama3", true)]
    [TestCase("ollama/*", "openai/gpt-4o", false)]
    [TestCase("*-local", "my-model-local", true)]
    [TestCase("lm*studio/*", "lm-studio/qwen", true)]
    [TestCase("exact-name", "exact-name", true)]
    [TestCase("exact-name", "exact-name-2", false)]
    [TestCase("*", "anything", true)]
    public void GlobMatch_Pattern_MatchesCaseInsensitively(string pattern, string text, bool expected)
    {
        Assert.That(ModelNames.GlobMatch(pattern, text), Is.EqualTo(expected));
    }
}
