using System.Globalization;
using System.Text.Json;
using CageNet.Configuration;
using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

/// <summary>The real community map (218 models) and the wire fixtures' expected costs.</summary>
public class CommunityPriceMapTests
{
    private static decimal Raw(JsonElement entry, string field) =>
        decimal.Parse(entry.GetProperty(field).GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);

    [Test]
    public void LoadPriceMap_RealMap_PricesEveryChatModelByHand()
    {
        var catalog = PriceCatalog.LoadPriceMap(PricingTestData.MapPath);
        using var document = JsonDocument.Parse(File.ReadAllText(PricingTestData.MapPath));
        var usage = new TokenUsage(1_000, Output: 1_000);

        var checkedModels = 0;
        var failures = new List<string>();
        foreach (var model in document.RootElement.EnumerateObject())
        {
            var entry = model.Value;
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("mode", out var mode) || mode.GetString() != "chat"
                || !entry.TryGetProperty("input_cost_per_token", out _))
            {
                continue;
            }

            var provider = entry.TryGetProperty("litellm_provider", out var p) ? p.GetString() ?? "" : "";
            var expected = (1_000 * Raw(entry, "input_cost_per_token")) + (1_000 * Raw(entry, "output_cost_per_token"));
            var quote = catalog.Price(provider, model.Name, usage);
            checkedModels++;

            if (quote != new PriceQuote(expected, CostSource.Catalog, model.Name))
            {
                failures.Add($"{model.Name}: expected {expected} (catalog, key {model.Name}), got {quote}");
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(checkedModels, Is.EqualTo(166));
    }

    [Test]
    public void FromOptions_RealMapOverBuiltIn_MapPricesWinForBareKeys()
    {
        var catalog = PriceCatalog.FromOptions(new PricingOptions(), mapFileOverride: PricingTestData.MapPath);

        // claude-sonnet-4-5-20250929 is a map key: 1,000 × 0.000003 + 1,000 × 0.000015
        Assert.That(catalog.Price("anthropic", "claude-sonnet-4-5-20250929", new TokenUsage(1_000, Output: 1_000)),
            Is.EqualTo(new PriceQuote(0.018m, CostSource.Catalog, "claude-sonnet-4-5-20250929")));
        // Built-in keys the map lacks stay: the map has no "gemini/gemini-2.5-pro" (its entry is vertex_ai's).
        Assert.That(catalog.Price("", "gemini/gemini-2.5-pro", new TokenUsage(1_000, Output: 1_000)).PriceKey, Is.EqualTo("gemini/gemini-2.5-pro"));
        Assert.That(catalog.Count, Is.GreaterThan(PriceCatalog.BuiltIn.Count));
    }

    [Test]
    public void LoadPriceMap_RealMap_SkipsEntriesWithoutTokenPricesAndRegistersProviderKeys()
    {
        var catalog = PriceCatalog.LoadPriceMap(PricingTestData.MapPath);

        // gpt-realtime-whisper has only a per-second price; gpt-image-1 has no output token price.
        Assert.That(catalog.TryResolve("openai", "gpt-realtime-whisper", out _, out _), Is.False);
        Assert.That(catalog.TryResolve("openai", "gpt-image-1", out _, out _), Is.False);
        Assert.That(catalog.Keys, Does.Contain("anthropic/claude-3-7-sonnet-20250219"));
        Assert.That(catalog.Keys, Does.Contain("vertex_ai-language-models/gemini-2.5-pro"));
    }

    [Test]
    public void LoadPriceMap_RealMapClaudeSonnet45_HasLongContextTierWithOneHourWrite()
    {
        var catalog = PriceCatalog.LoadPriceMap(PricingTestData.MapPath);
        var usage = new TokenUsage(180_000, CacheRead: 10_000, CacheWrite5m: 6_000, CacheWrite1h: 4_000, Output: 2_000, Reasoning: 500);

        var quote = catalog.Price("anthropic", "claude-sonnet-4-5", usage);

        // prompt 200,000 is not above 200k: 0.54 + 0.003 + 0.0225 + 0.024 + 0.03
        Assert.That(quote.CostUsd, Is.EqualTo(0.6195m));

        var above = catalog.Price("anthropic", "claude-sonnet-4-5", usage with { Input = 180_001 });

        // tier: 180,001 × 0.000006 + 10,000 × 0.0000006 + 6,000 × 0.0000075 + 4,000 × 0.000012 + 2,000 × 0.0000225
        // = 1.080006 + 0.006 + 0.045 + 0.048 + 0.045
        Assert.That(above.CostUsd, Is.EqualTo(1.224006m));
    }

    [Test]
    public void BuiltIn_EveryModelInTheSharedMap_UsesTheSameNumbers()
    {
        var map = PriceCatalog.LoadPriceMap(PricingTestData.MapPath);
        var failures = new List<string>();
        var compared = 0;

        foreach (var key in PriceCatalog.BuiltIn.Keys)
        {
            // The reference table's worked-example price is deliberately not the map's.
            if (key == "anthropic/claude-opus-4-8") continue;

            PriceCatalog.BuiltIn.TryResolve("", key, out _, out var builtIn);
            var model = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];
            var mapKey = map.Keys.FirstOrDefault(k => string.Equals(k, model, StringComparison.OrdinalIgnoreCase))
                ?? map.Keys.FirstOrDefault(k => string.Equals(ModelNames.StripDateSuffix(k), model, StringComparison.OrdinalIgnoreCase));
            if (mapKey is null)
            {
                failures.Add($"{key}: not in the shared map");
                continue;
            }

            map.TryResolve("", mapKey, out _, out var fromMap);
            compared++;
            Compare(key, "base", builtIn!, fromMap!, failures, compareCacheWrites: true);
            foreach (var tier in builtIn!.Tiers)
            {
                var mapTier = fromMap!.Tiers.FirstOrDefault(t => t.AboveTokens == tier.AboveTokens);
                if (mapTier is null) failures.Add($"{key}: map has no tier above {tier.AboveTokens}");
                else if ((tier.Input, tier.Output, tier.CacheRead) != (mapTier.Input, mapTier.Output, mapTier.CacheRead)
                         || (tier.CacheWrite5m is not null && tier.CacheWrite5m != mapTier.CacheWrite5m)
                         || (tier.CacheWrite1h is not null && tier.CacheWrite1h != mapTier.CacheWrite1h))
                {
                    failures.Add($"{key}: tier above {tier.AboveTokens} differs from the map");
                }
            }

            foreach (var (name, variant) in builtIn.ServiceTiers)
            {
                if (!fromMap!.ServiceTiers.TryGetValue(name, out var mapVariant)) failures.Add($"{key}: map has no {name} tier");
                else Compare(key, name, variant, mapVariant, failures, compareCacheWrites: false);
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(compared, Is.EqualTo(PriceCatalog.BuiltIn.Count - 1));
    }

    [Test]
    public void BuiltIn_GeminiProMatchesTheWireSample()
    {
        var sample = PriceCatalog.LoadPriceMap(PricingTestData.WireFixture("litellm_prices_sample.json"));
        sample.TryResolve("gemini", "gemini-2.5-pro", out var sampleKey, out var fromSample);
        PriceCatalog.BuiltIn.TryResolve("gemini", "gemini-2.5-pro", out var builtInKey, out var builtIn);

        Assert.That(sampleKey, Is.EqualTo("gemini/gemini-2.5-pro"));
        Assert.That(builtInKey, Is.EqualTo("gemini/gemini-2.5-pro"));
        Assert.That((builtIn!.Input, builtIn.Output, builtIn.CacheRead), Is.EqualTo((fromSample!.Input, fromSample.Output, fromSample.CacheRead)));
        Assert.That((builtIn.Tiers[0].Input, builtIn.Tiers[0].Output, builtIn.Tiers[0].CacheRead),
            Is.EqualTo((fromSample.Tiers[0].Input, fromSample.Tiers[0].Output, fromSample.Tiers[0].CacheRead)));
    }

    [Test]
    public void BuiltIn_HasTheCommonFamilies()
    {
        Assert.That(PriceCatalog.BuiltIn.Count, Is.InRange(20, 40));
        Assert.That(PriceCatalog.BuiltIn.Keys, Is.SupersetOf(new[]
        {
            "anthropic/claude-opus-4-8", "anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5",
            "openai/gpt-4.1", "openai/gpt-4o", "openai/gpt-5", "openai/o3", "openai/o4-mini",
            "gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash",
        }));
        Assert.That(PriceCatalog.BuiltIn.Keys, Has.All.Contains("/"));
    }

    [Test]
    public void Price_WireFixtures_MatchExpectedNormalizedCosts()
    {
        var catalog = PriceCatalog.LoadPriceMap(PricingTestData.WireFixture("litellm_prices_sample.json"));
        using var expected = JsonDocument.Parse(File.ReadAllText(PricingTestData.WireFixture("expected_normalized.json")));
        var failures = new List<string>();
        var compared = 0;

        foreach (var fixture in expected.RootElement.EnumerateObject())
        {
            var model = fixture.Value.GetProperty("model_for_pricing");
            var buckets = fixture.Value.GetProperty("buckets");
            if (model.ValueKind != JsonValueKind.String
                || !decimal.TryParse(fixture.Value.GetProperty("expected_cost_usd").GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var cost))
            {
                continue;
            }

            var calls = buckets.TryGetProperty("calls", out var list) ? list.EnumerateArray().ToList() : [buckets];
            var total = 0m;
            foreach (var call in calls)
            {
                var usage = new TokenUsage(
                    call.GetProperty("input_uncached").GetInt64(),
                    CacheRead: call.GetProperty("cache_read").GetInt64(),
                    CacheWrite5m: call.GetProperty("cache_write_5m").GetInt64(),
                    CacheWrite1h: call.GetProperty("cache_write_1h").GetInt64(),
                    Output: call.GetProperty("output").GetInt64(),
                    Reasoning: call.TryGetProperty("reasoning", out var r) && r.ValueKind == JsonValueKind.Number ? r.GetInt64() : null);
                var quote = catalog.Price("", model.GetString()!, usage);
                total += quote.CostUsd ?? decimal.MinValue;
            }

            compared++;
            if (total != cost) failures.Add($"{fixture.Name}: expected {cost}, got {total}");
        }

        Assert.That(failures, Is.Empty);
        Assert.That(compared, Is.EqualTo(7));
    }

    [Test]
    public void Price_OpenRouterFixture_ProviderCostIsTakenVerbatim()
    {
        var quote = PriceCatalog.BuiltIn.Price(
            "openrouter", "anthropic/claude-sonnet-4.5", new TokenUsage(94, CacheWrite5m: 100, Output: 2), providerCost: 0.95m);

        Assert.That(quote, Is.EqualTo(new PriceQuote(0.95m, CostSource.Provider, null)));
    }

    private static void Compare(string key, string what, ModelPrice builtIn, ModelPrice map, List<string> failures, bool compareCacheWrites)
    {
        if (builtIn.Input != map.Input || builtIn.Output != map.Output || builtIn.CacheRead != map.CacheRead || builtIn.Reasoning != map.Reasoning
            || (compareCacheWrites && (builtIn.CacheWrite5m != map.CacheWrite5m || builtIn.CacheWrite1h != map.CacheWrite1h)))
        {
            failures.Add(
                $"{key} ({what}): built-in {builtIn.Input}/{builtIn.Output}/{builtIn.CacheRead}/{builtIn.CacheWrite5m}/{builtIn.CacheWrite1h}/{builtIn.Reasoning} " +
                $"vs map {map.Input}/{map.Output}/{map.CacheRead}/{map.CacheWrite5m}/{map.CacheWrite1h}/{map.Reasoning}");
        }
    }
}
