using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

public class PriceCatalogCostTests
{
    // A long-context model with every cache price at both tiers except the 1-hour write above 200k.
    private const string TieredJson = """
        {
          "tiered": {
            "litellm_provider": "acme",
            "input_cost_per_token": 3e-06,
            "output_cost_per_token": 1.5e-05,
            "cache_read_input_token_cost": 3e-07,
            "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 6e-06,
            "input_cost_per_token_above_200k_tokens": 6e-06,
            "output_cost_per_token_above_200k_tokens": 2.25e-05,
            "cache_read_input_token_cost_above_200k_tokens": 6e-07,
            "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06
          },
          "tier-without-cache-prices": {
            "input_cost_per_token": 1.25e-06,
            "output_cost_per_token": 1e-05,
            "cache_read_input_token_cost": 1.25e-07,
            "input_cost_per_token_above_200k_tokens": 2.5e-06,
            "output_cost_per_token_above_200k_tokens": 1.5e-05
          },
          "tier-without-output": {
            "input_cost_per_token": 1e-06,
            "output_cost_per_token": 4e-06,
            "input_cost_per_token_above_200k_tokens": 2e-06
          },
          "two-tiers": {
            "input_cost_per_token": 1e-06,
            "output_cost_per_token": 1e-05,
            "input_cost_per_token_above_200k_tokens": 3e-06,
            "output_cost_per_token_above_200k_tokens": 3e-05,
            "input_cost_per_token_above_128k_tokens": 2e-06,
            "output_cost_per_token_above_128k_tokens": 2e-05
          },
          "no-cache-prices": { "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06 },
          "five-minute-only": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "cache_creation_input_token_cost": 1.25e-06 },
          "reasoning-priced": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "output_cost_per_reasoning_token": 5e-06 }
        }
        """;

    private static readonly PriceCatalog Tiered = PricingTestData.Catalog(TieredJson);

    [Test]
    public void Price_PromptExactlyAtThreshold_UsesBasePrices()
    {
        // prompt = 150,000 + 40,000 + 6,000 + 4,000 = 200,000: not above 200k
        var usage = new TokenUsage(150_000, CacheRead: 40_000, CacheWrite5m: 6_000, CacheWrite1h: 4_000, Output: 1_000);

        var quote = Tiered.Price("acme", "tiered", usage);

        // 0.45 + 0.012 + 0.0225 + 0.024 + 0.015
        Assert.That(quote.CostUsd, Is.EqualTo(0.5235m));
    }

    [Test]
    public void Price_PromptOneAboveThreshold_PricesEveryBucketIncludingOutputAtTier()
    {
        var usage = new TokenUsage(150_001, CacheRead: 40_000, CacheWrite5m: 6_000, CacheWrite1h: 4_000, Output: 1_000);

        var quote = Tiered.Price("acme", "tiered", usage);

        // input 150,001 × 0.000006 = 0.900006; cache read 40,000 × 0.0000006 = 0.024;
        // 5m write 6,000 × 0.0000075 = 0.045; 1h write (no tier price: 0.000006 × 6/3 = 0.000012) 4,000 → 0.048;
        // output 1,000 × 0.0000225 = 0.0225
        Assert.That(quote.CostUsd, Is.EqualTo(1.039506m));
        Assert.That(quote.Source, Is.EqualTo(CostSource.Catalog));
        Assert.That(quote.PriceKey, Is.EqualTo("tiered"));
    }

    [Test]
    public void Price_OutputOnlyCallAboveThreshold_StillUsesTierForOutput()
    {
        // The threshold compares prompt-side tokens (cache reads count), and the tier prices the output too.
        var usage = new TokenUsage(0, CacheRead: 200_001, Output: 10_000);

        var quote = Tiered.Price("acme", "tiered", usage);

        // 200,001 × 0.0000006 = 0.1200006; 10,000 × 0.0000225 = 0.225
        Assert.That(quote.CostUsd, Is.EqualTo(0.3450006m));
    }

    [Test]
    public void Price_TierWithoutCachePrice_ScalesBaseCachePriceByTierInputRatio()
    {
        // prompt = 150,000 + 60,000 = 210,000 > 200k
        var usage = new TokenUsage(150_000, CacheRead: 60_000, Output: 2_000);

        var quote = Tiered.Price("", "tier-without-cache-prices", usage);

        // input 150,000 × 0.0000025 = 0.375; cache read 0.000000125 × (2.5/1.25) = 0.00000025 × 60,000 = 0.015;
        // output 2,000 × 0.000015 = 0.03
        Assert.That(quote.CostUsd, Is.EqualTo(0.42m));
    }

    [Test]
    public void Price_TierWithoutOutputPrice_UsesBaseOutputPrice()
    {
        var usage = new TokenUsage(300_000, Output: 1_000);

        var quote = Tiered.Price("", "tier-without-output", usage);

        // 300,000 × 0.000002 = 0.6; 1,000 × 0.000004 = 0.004
        Assert.That(quote.CostUsd, Is.EqualTo(0.604m));
    }

    [TestCase(100_000, 0.101)] // base: 0.1 + 0.001
    [TestCase(128_000, 0.129)] // not above 128k: 0.128 + 0.001
    [TestCase(150_000, 0.302)] // 128k tier: 150,000 × 0.000002 + 100 × 0.00002
    [TestCase(200_000, 0.402)] // still the 128k tier: 0.4 + 0.002
    [TestCase(250_000, 0.753)] // 200k tier: 250,000 × 0.000003 + 100 × 0.00003
    public void Price_SeveralTiers_UsesHighestTierExceeded(long input, decimal expected)
    {
        var quote = Tiered.Price("", "two-tiers", new TokenUsage(input, Output: 100));

        Assert.That(quote.CostUsd, Is.EqualTo(expected));
    }

    [Test]
    public void Price_Gpt54Above272k_UsesItsLongContextTier()
    {
        var at = PriceCatalog.BuiltIn.Price("openai", "gpt-5.4", new TokenUsage(272_000, Output: 1_000));
        var above = PriceCatalog.BuiltIn.Price("openai", "gpt-5.4", new TokenUsage(272_001, Output: 1_000));

        // at: 272,000 × $2.50/1M + 1,000 × $15/1M = 0.68 + 0.015; above: 272,001 × $5/1M + 1,000 × $22.50/1M
        Assert.That(at.CostUsd, Is.EqualTo(0.695m));
        Assert.That(above.CostUsd, Is.EqualTo(1.382505m));
    }

    [Test]
    public void Price_CachedAndCacheWriteTokens_UseTheirOwnPricesNotFullInput()
    {
        var usage = new TokenUsage(1_000, CacheRead: 10_000, CacheWrite5m: 2_000, CacheWrite1h: 3_000, Output: 500);

        var quote = PriceCatalog.BuiltIn.Price("anthropic", "claude-sonnet-4-5", usage);

        // 1,000 × $3 + 10,000 × $0.30 + 2,000 × $3.75 + 3,000 × $6 + 500 × $15, per 1M
        // = 0.003 + 0.003 + 0.0075 + 0.018 + 0.0075 (all 16,000 prompt tokens at full input would be 0.048 + 0.0075)
        Assert.That(quote.CostUsd, Is.EqualTo(0.039m));
    }

    [Test]
    public void Price_FiveMinuteAndOneHourWrites_ArePricedDifferently()
    {
        var fiveMinute = PriceCatalog.BuiltIn.Price("anthropic", "claude-opus-4-8", new TokenUsage(0, CacheWrite5m: 10_000));
        var oneHour = PriceCatalog.BuiltIn.Price("anthropic", "claude-opus-4-8", new TokenUsage(0, CacheWrite1h: 10_000));

        // 10,000 × $3.75/1M and 10,000 × $6/1M
        Assert.That(fiveMinute.CostUsd, Is.EqualTo(0.0375m));
        Assert.That(oneHour.CostUsd, Is.EqualTo(0.06m));
    }

    [Test]
    public void Price_ModelWithoutCachePrices_FallsBackToInputPrice()
    {
        var usage = new TokenUsage(1_000, CacheRead: 1_000, CacheWrite5m: 1_000, CacheWrite1h: 1_000, Output: 1_000);

        var quote = Tiered.Price("", "no-cache-prices", usage);

        // 4,000 prompt tokens × 0.000002 + 1,000 × 0.000008
        Assert.That(quote.CostUsd, Is.EqualTo(0.016m));
    }

    [Test]
    public void Price_OneHourWriteWithoutItsPrice_FallsBackToFiveMinutePrice()
    {
        var quote = Tiered.Price("", "five-minute-only", new TokenUsage(0, CacheWrite1h: 4_000));

        // 4,000 × 0.00000125
        Assert.That(quote.CostUsd, Is.EqualTo(0.005m));
    }

    [Test]
    public void Price_ReasoningWithoutReasoningPrice_IsPricedAsOutputOnce()
    {
        // OpenAI Responses fixture: 50 uncached, 50 cached, 50 output of which 10 reasoning (⊂ output).
        var usage = new TokenUsage(50, CacheRead: 50, Output: 50, Reasoning: 10);

        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4.1-2025-04-14", usage);

        // 50 × $2 + 50 × $0.50 + 50 × $8, per 1M = 0.0001 + 0.000025 + 0.0004
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.000525m, CostSource.Catalog, "openai/gpt-4.1")));
    }

    [Test]
    public void Price_ReasoningWithReasoningPrice_SplitsOutput()
    {
        var usage = new TokenUsage(100, Output: 1_000, Reasoning: 400);

        var quote = Tiered.Price("", "reasoning-priced", usage);

        // 100 × 0.000001 + 600 × 0.000002 + 400 × 0.000005 = 0.0001 + 0.0012 + 0.002
        Assert.That(quote.CostUsd, Is.EqualTo(0.0033m));
    }

    [Test]
    public void Price_ZeroUsage_IsZeroFromCatalogNotUnpriced()
    {
        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", new TokenUsage(0));

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_BatchServiceTier_UsesBatchPricesAndBaseCacheRead()
    {
        var usage = new TokenUsage(10_000, CacheRead: 2_000, Output: 1_000);

        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", usage, serviceTier: "batch");

        // 10,000 × $1.25 + 2,000 × $1.25 (no batch cache price: the standard one) + 1,000 × $5, per 1M
        Assert.That(quote, Is.EqualTo(new PriceQuote(0.02m, CostSource.Catalog, "openai/gpt-4o")));
    }

    [Test]
    public void Price_PriorityServiceTier_UsesPriorityPrices()
    {
        var usage = new TokenUsage(10_000, CacheRead: 2_000, Output: 1_000);

        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", usage, serviceTier: "Priority");

        // 10,000 × $4.25 + 2,000 × $2.125 + 1,000 × $17, per 1M = 0.0425 + 0.00425 + 0.017
        Assert.That(quote.CostUsd, Is.EqualTo(0.06375m));
    }

    [TestCase(null)]
    [TestCase("default")]
    [TestCase("flex")]
    public void Price_ServiceTierTheModelLacks_UsesStandardPrices(string? serviceTier)
    {
        var usage = new TokenUsage(10_000, CacheRead: 2_000, Output: 1_000);

        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", usage, serviceTier: serviceTier);

        // 10,000 × $2.50 + 2,000 × $1.25 + 1,000 × $10, per 1M
        Assert.That(quote.CostUsd, Is.EqualTo(0.0375m));
    }

    [Test]
    public void Price_BatchAboveThresholdWithoutBatchTier_ScalesLongContextPriceByBatchDiscount()
    {
        var usage = new TokenUsage(210_000, Output: 1_000);

        var quote = PriceCatalog.BuiltIn.Price("gemini", "gemini-3-pro-preview", usage, serviceTier: "batch");

        // batch is half price: tier input $4 × (1/2) = $2, tier output $18 × (6/12) = $9 per 1M
        // 210,000 × 0.000002 + 1,000 × 0.000009 = 0.42 + 0.009
        Assert.That(quote.CostUsd, Is.EqualTo(0.429m));
    }

    [Test]
    public void Price_PriorityAboveThresholdWithItsOwnTier_UsesPriorityTierPrices()
    {
        var usage = new TokenUsage(210_000, Output: 1_000);

        var quote = PriceCatalog.BuiltIn.Price("gemini", "gemini-3-pro-preview", usage, serviceTier: "priority");

        // 210,000 × $7.20/1M + 1,000 × $32.40/1M
        Assert.That(quote.CostUsd, Is.EqualTo(1.5444m));
    }

    [Test]
    public void Price_GeminiProAbove200kWithThinking_PricesThinkingAtTierOutput()
    {
        var usage = new TokenUsage(190_000, CacheRead: 20_000, Output: 3_000, Reasoning: 2_000);

        var quote = PriceCatalog.BuiltIn.Price("gemini", "gemini-2.5-pro", usage);

        // prompt 210,000 > 200k: 190,000 × $2.50 + 20,000 × $0.25 + 3,000 × $15, per 1M = 0.475 + 0.005 + 0.045
        Assert.That(quote.CostUsd, Is.EqualTo(0.525m));
    }
}
