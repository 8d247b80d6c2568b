using System.Globalization;
using CageNet.Configuration;
using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

public class PriceCatalogExactnessTests
{
    [Test]
    public void Price_WorkedExample_HasCanonicalFormWithoutTrailingZeros()
    {
        var quote = PriceCatalog.BuiltIn.Price("anthropic", "claude-opus-4-8", new TokenUsage(8_600, Output: 1_500));

        Assert.That(quote.CostUsd!.Value.ToString(CultureInfo.InvariantCulture), Is.EqualTo("0.0483"));
    }

    [Test]
    public void Price_SameValueFromDifferentlyWrittenPrices_PrintsTheSame()
    {
        // 3e-06 and 0.0000030000 are the same price written differently.
        var a = PricingTestData.Catalog("""{ "m": { "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05 } }""");
        var b = PricingTestData.Catalog("""{ "m": { "input_cost_per_token": 0.0000030000, "output_cost_per_token": 0.000015000 } }""");
        var usage = new TokenUsage(1_000, Output: 200);

        var textA = a.Price("", "m", usage).CostUsd!.Value.ToString(CultureInfo.InvariantCulture);
        var textB = b.Price("", "m", usage).CostUsd!.Value.ToString(CultureInfo.InvariantCulture);

        // 1,000 × 0.000003 + 200 × 0.000015 = 0.003 + 0.003
        Assert.That(textA, Is.EqualTo("0.006"));
        Assert.That(textB, Is.EqualTo("0.006"));
    }

    [Test]
    public void Price_ZeroCost_IsPlainZero()
    {
        var quote = PriceCatalog.BuiltIn.Price("openai", "gpt-4o", new TokenUsage(0));

        Assert.That(quote.CostUsd!.Value.ToString(CultureInfo.InvariantCulture), Is.EqualTo("0"));
    }

    [Test]
    public void Price_HugeTokenCount_StaysExact()
    {
        // 2^62 input tokens is beyond the integer fast path; 4,611,686,018,427,387,904 × 0.000003
        var quote = PriceCatalog.BuiltIn.Price("anthropic", "claude-opus-4-8", new TokenUsage(4_611_686_018_427_387_904));

        Assert.That(quote.CostUsd, Is.EqualTo(13_835_058_055_282.163712m));
    }

    [Test]
    public void Price_PriceWithManySignificantDigits_StaysExact()
    {
        var catalog = PriceCatalog.Empty.WithOverrides(new Dictionary<string, ModelPriceOverride>
        {
            ["acme/precise"] = new() { Input = 1.2345678901234567890123m, Output = 0m },
        });

        var quote = catalog.Price("acme", "precise", new TokenUsage(1_000));

        // 1,000 × 0.0000012345678901234567890123
        Assert.That(quote.CostUsd, Is.EqualTo(0.0012345678901234567890123m));
    }

    [Test]
    public void Price_ManyThreadsManyModels_AllAgree()
    {
        var catalog = PriceCatalog.BuiltIn.WithLocalModels(["ollama/*"]);
        var usage = new TokenUsage(1_000, Output: 1_000);
        (string Provider, string Model, decimal? Expected)[] cases =
        [
            ("anthropic", "claude-opus-4-8", 0.018m),          // $3 + $15 per 1M
            ("anthropic", "claude-haiku-4-5-20251001", 0.006m), // $1 + $5
            ("openai", "gpt-4o", 0.0125m),                     // $2.50 + $10
            ("openai", "gpt-4.1-mini", 0.002m),                // $0.40 + $1.60
            ("gemini", "gemini-2.5-flash", 0.0028m),           // $0.30 + $2.50
            ("ollama", "llama3", 0m),
            ("acme", "unknown", null),
        ];
        var mismatches = 0;

        Parallel.For(0, 40_000, i =>
        {
            var (provider, model, expected) = cases[i % cases.Length];
            if (catalog.Price(provider, model, usage).CostUsd != expected) Interlocked.Increment(ref mismatches);
        });

        Assert.That(mismatches, Is.Zero);
    }

    [Test]
    public void Price_MoreDistinctNamesThanTheCacheHolds_StillResolvesCorrectly()
    {
        var catalog = PriceCatalog.BuiltIn.WithEntries(PriceCatalog.Empty);
        var usage = new TokenUsage(1_000, Output: 1_000);

        var unpriced = 0;
        for (var i = 0; i < 20_000; i++)
        {
            if (catalog.Price("acme", "made-up-" + i.ToString(CultureInfo.InvariantCulture), usage).Source == CostSource.Unpriced) unpriced++;
        }

        Assert.That(unpriced, Is.EqualTo(20_000));
        Assert.That(catalog.Price("openai", "gpt-4o-2024-08-06", usage).CostUsd, Is.EqualTo(0.0125m));
    }

    [TestCase("0.048300", "0.0483")]
    [TestCase("100", "100")]
    [TestCase("0.000", "0")]
    [TestCase("-1.50", "-1.5")]
    [TestCase("79228162514264337593543950335", "79228162514264337593543950335")]
    public void Normalize_Value_DropsTrailingFractionalZeros(string input, string expected)
    {
        var value = decimal.Parse(input, CultureInfo.InvariantCulture);

        Assert.That(Exact.Normalize(value).ToString(CultureInfo.InvariantCulture), Is.EqualTo(expected));
    }
}
