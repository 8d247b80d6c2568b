using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

public class PriceMapParserTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "cage-pricing-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string WriteMap(string name, string json)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    [Test]
    public void ParsePriceMap_ExponentNotation_ParsesExactDecimals()
    {
        var catalog = PricingTestData.Catalog("""
            { "m": { "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3.625e-09,
                     "cache_creation_input_token_cost": 0.00000375, "cache_creation_input_token_cost_above_1hr": 6E-6,
                     "output_cost_per_reasoning_token": 2.5e-06 } }
            """);

        Assert.That(catalog.TryResolve("", "m", out _, out var price), Is.True);
        Assert.That(price!.Input, Is.EqualTo(0.000003m));
        Assert.That(price.Output, Is.EqualTo(0.000015m));
        Assert.That(price.CacheRead, Is.EqualTo(0.000000003625m));
        Assert.That(price.CacheWrite5m, Is.EqualTo(0.00000375m));
        Assert.That(price.CacheWrite1h, Is.EqualTo(0.000006m));
        Assert.That(price.Reasoning, Is.EqualTo(0.0000025m));
    }

    [Test]
    public void ParsePriceMap_ManyTokens_CostHasNoBinaryRoundingError()
    {
        var catalog = PricingTestData.Catalog("""{ "m": { "input_cost_per_token": 1e-07, "output_cost_per_token": 3e-07 } }""");

        var quote = catalog.Price("", "m", new TokenUsage(3, Output: 7));

        // 3 × 0.0000001 + 7 × 0.0000003 = 0.0000003 + 0.0000021 (0.1 and 0.3 have no exact binary form)
        Assert.That(quote.CostUsd, Is.EqualTo(0.0000024m));
    }

    [Test]
    public void ParsePriceMap_SkipsSampleSpecMetadataAndEntriesWithoutTokenPrices()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "_source": "a note, not a model",
              "sample_spec": { "input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers" },
              "dall-e-3": { "litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04 },
              "gpt-image-1": { "litellm_provider": "openai", "mode": "image_generation", "input_cost_per_token": 5e-06 },
              "whisper-1": { "litellm_provider": "openai", "mode": "audio_transcription", "input_cost_per_second": 0.0001 },
              "gpt-4o": { "litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 }
            }
            """);

        Assert.That(catalog.Keys, Is.EqualTo(new[] { "gpt-4o", "openai/gpt-4o" }));
        Assert.That(catalog.Price("openai", "gpt-image-1", new TokenUsage(1_000)).Source, Is.EqualTo(CostSource.Unpriced));
    }

    [Test]
    public void ParsePriceMap_BareKey_AlsoRegisteredUnderProvider()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "claude-haiku-4-5": { "litellm_provider": "anthropic", "input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06 },
              "gemini/gemini-2.5-pro": { "litellm_provider": "gemini", "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05 }
            }
            """);

        Assert.That(catalog.Keys, Is.EqualTo(new[] { "anthropic/claude-haiku-4-5", "claude-haiku-4-5", "gemini/gemini-2.5-pro" }));
        Assert.That(catalog.Count, Is.EqualTo(3));
        Assert.That(catalog.Price("", "anthropic/claude-haiku-4-5", new TokenUsage(1_000)).PriceKey, Is.EqualTo("anthropic/claude-haiku-4-5"));
    }

    [Test]
    public void ParsePriceMap_ProviderKeyAlreadyInMap_IsNotReplacedByTheBareEntry()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "gpt-4o": { "litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 },
              "openai/gpt-4o": { "litellm_provider": "openai", "input_cost_per_token": 9e-06, "output_cost_per_token": 9e-06 }
            }
            """);

        Assert.That(catalog.TryResolve("", "openai/gpt-4o", out _, out var price), Is.True);
        Assert.That(price!.Input, Is.EqualTo(0.000009m));
    }

    [Test]
    public void ParsePriceMap_LongContextKeys_BecomeAscendingTiers()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "m": {
                "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                "input_cost_per_token_above_272k_tokens": 4e-06,
                "input_cost_per_token_above_128k_tokens": 2e-06, "output_cost_per_token_above_128k_tokens": 3e-06,
                "cache_read_input_token_cost_above_128k_tokens": 2e-07,
                "cache_creation_input_token_cost_above_128k_tokens": 2.5e-06,
                "cache_creation_input_token_cost_above_1hr_above_128k_tokens": 4e-06
              }
            }
            """);

        Assert.That(catalog.TryResolve("", "m", out _, out var price), Is.True);
        Assert.That(price!.Tiers.Select(t => t.AboveTokens), Is.EqualTo(new[] { 128_000L, 272_000L }));
        var tier = price.Tiers[0];
        Assert.That(tier.Input, Is.EqualTo(0.000002m));
        Assert.That(tier.Output, Is.EqualTo(0.000003m));
        Assert.That(tier.CacheRead, Is.EqualTo(0.0000002m));
        Assert.That(tier.CacheWrite5m, Is.EqualTo(0.0000025m));
        Assert.That(tier.CacheWrite1h, Is.EqualTo(0.000004m));
        Assert.That(price.Tiers[1].Input, Is.EqualTo(0.000004m));
        Assert.That(price.Tiers[1].Output, Is.Null);
    }

    [Test]
    public void ParsePriceMap_ServiceTierKeys_BecomeCompleteVariants()
    {
        var catalog = PricingTestData.Catalog("""
            {
              "m": {
                "input_cost_per_token": 2e-06, "output_cost_per_token": 1.2e-05, "cache_read_input_token_cost": 2e-07,
                "input_cost_per_token_above_200k_tokens": 4e-06, "output_cost_per_token_above_200k_tokens": 1.8e-05,
                "input_cost_per_token_batches": 1e-06, "output_cost_per_token_batches": 6e-06,
                "input_cost_per_token_priority": 3.6e-06, "output_cost_per_token_priority": 2.16e-05,
                "input_cost_per_token_above_200k_tokens_priority": 7.2e-06,
                "cache_read_input_token_cost_flex": 1e-07
              }
            }
            """);

        Assert.That(catalog.TryResolve("", "m", out _, out var price), Is.True);
        Assert.That(price!.ServiceTiers.Keys.Order(), Is.EqualTo(new[] { "batch", "flex", "priority" }));

        var batch = price.ServiceTiers["batch"];
        Assert.That((batch.Input, batch.Output, batch.CacheRead), Is.EqualTo((0.000001m, 0.000006m, (decimal?)0.0000002m)));
        // No batch long-context keys: the standard tier scaled by the batch discount (½).
        Assert.That((batch.Tiers[0].AboveTokens, batch.Tiers[0].Input, batch.Tiers[0].Output), Is.EqualTo((200_000L, (decimal?)0.000002m, (decimal?)0.000009m)));

        var priority = price.ServiceTiers["PRIORITY"];
        Assert.That(priority.Tiers[0].Input, Is.EqualTo(0.0000072m));
        // Priority output above 200k not given: 0.000018 × (21.6 / 12) = 0.0000324.
        Assert.That(priority.Tiers[0].Output, Is.EqualTo(0.0000324m));

        var flex = price.ServiceTiers["flex"];
        Assert.That((flex.Input, flex.Output, flex.CacheRead), Is.EqualTo((0.000002m, 0.000012m, (decimal?)0.0000001m)));
    }

    [TestCase("input_cost_per_token", "Input", null, 0L)]
    [TestCase("cache_creation_input_token_cost_above_1hr", "CacheWrite1h", null, 0L)]
    [TestCase("cache_creation_input_token_cost_above_1hr_above_200k_tokens", "CacheWrite1h", null, 200_000L)]
    [TestCase("output_cost_per_token_above_272k_tokens", "Output", null, 272_000L)]
    [TestCase("cache_read_input_token_cost_above_200k_tokens_priority", "CacheRead", "priority", 200_000L)]
    [TestCase("input_cost_per_token_batches", "Input", "batch", 0L)]
    [TestCase("cache_read_input_token_cost_flex", "CacheRead", "flex", 0L)]
    [TestCase("output_cost_per_reasoning_token", "Reasoning", null, 0L)]
    [TestCase("input_cost_per_token_above_1m_tokens", "Input", null, 1_000_000L)]
    public void TryClassify_CommunityFieldName_MapsToPriceFieldTierAndThreshold(string name, string field, string? serviceTier, long above)
    {
        Assert.That(PriceMapParser.TryClassify(name, out var actualField, out var actualTier, out var actualAbove), Is.True);
        Assert.That((actualField, actualTier, actualAbove), Is.EqualTo((Enum.Parse<PriceField>(field), serviceTier, above)));
    }

    [TestCase("input_cost_per_audio_token")]
    [TestCase("output_cost_per_image")]
    [TestCase("input_cost_per_token_cache_hit")]
    [TestCase("search_context_cost_per_query")]
    [TestCase("input_cost_per_token_above_k_tokens")]
    [TestCase("max_input_tokens")]
    public void TryClassify_OtherFields_AreIgnored(string name)
    {
        Assert.That(PriceMapParser.TryClassify(name, out _, out _, out _), Is.False);
    }

    [Test]
    public void LoadPriceMap_InvalidJson_NamesFileAndLine()
    {
        var path = WriteMap("broken.json", "{\n  \"gpt-4o\": {\n    \"input_cost_per_token\": 2.5e-06,,\n  }\n}\n");

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path));
        Assert.That(ex.Message, Does.Contain("line 3"));
        Assert.That(ex.SourceName, Is.EqualTo(path));
        Assert.That(ex.LineNumber, Is.EqualTo(3));
        Assert.That(ex.BytePositionInLine, Is.Not.Null);
    }

    [Test]
    public void LoadPriceMap_TruncatedFile_NamesFile()
    {
        var path = WriteMap("truncated.json", "{ \"gpt-4o\": { \"input_cost_per_token\": 2.5e-06");

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("not valid JSON"));
    }

    [Test]
    public void LoadPriceMap_NegativePrice_NamesFileKeyAndField()
    {
        var path = WriteMap("negative.json", """
            {
              "gpt-4o": { "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 },
              "bad-model": { "input_cost_per_token": 1e-06, "output_cost_per_token": -3e-06 }
            }
            """);

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'bad-model'").And.Contain("'output_cost_per_token'").And.Contain("-3e-06"));
        Assert.That((ex.SourceName, ex.ModelKey, ex.Field), Is.EqualTo((path, "bad-model", "output_cost_per_token")));
    }

    [Test]
    public void LoadPriceMap_StringPrice_NamesFileKeyAndField()
    {
        var path = WriteMap("string.json", """
            { "claude-x": { "input_cost_per_token": "0.000003", "output_cost_per_token": 1.5e-05 } }
            """);

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'claude-x'").And.Contain("'input_cost_per_token'").And.Contain("string"));
        Assert.That((ex.ModelKey, ex.Field), Is.EqualTo(("claude-x", "input_cost_per_token")));
    }

    [TestCase("\"NaN\"")]
    [TestCase("true")]
    [TestCase("[1e-06]")]
    [TestCase("{}")]
    [TestCase("1e400")]
    public void LoadPriceMap_NonNumericOrUnrepresentableTierPrice_NamesKeyAndField(string value)
    {
        var path = WriteMap("odd.json", $$"""
            { "m": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "input_cost_per_token_above_200k_tokens": {{value}} } }
            """);

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("'m'").And.Contain("'input_cost_per_token_above_200k_tokens'"));
    }

    [Test]
    public void LoadPriceMap_TopLevelArray_NamesFile()
    {
        var path = WriteMap("array.json", "[1, 2]");

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("JSON object"));
    }

    [Test]
    public void LoadPriceMap_MissingFile_NamesFile()
    {
        var path = Path.Combine(_dir, "absent.json");

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.LoadPriceMap(path));

        Assert.That(ex!.Message, Does.Contain(path).And.Contain("not found"));
    }

    [Test]
    public void LoadPriceMap_NullPriceAndUnknownFields_AreIgnored()
    {
        var path = WriteMap("lenient.json", """
            {
              // comments and trailing commas are tolerated
              "m": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "cache_read_input_token_cost": null,
                     "input_cost_per_audio_token": "not a token price", "supports_vision": true, },
            }
            """);

        var catalog = PriceCatalog.LoadPriceMap(path);

        Assert.That(catalog.TryResolve("", "m", out _, out var price), Is.True);
        Assert.That(price!.CacheRead, Is.Null);
    }

    [Test]
    public void LoadPriceMap_ZeroPrices_AreAFreeModelNotUnpriced()
    {
        var path = WriteMap("free.json", """{ "free-model": { "input_cost_per_token": 0, "output_cost_per_token": 0.0 } }""");

        var quote = PriceCatalog.LoadPriceMap(path).Price("", "free-model", new TokenUsage(1_000, Output: 1_000));

        Assert.That(quote, Is.EqualTo(new PriceQuote(0m, CostSource.Catalog, "free-model")));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, price-map): JsonDocument accepted the bytes, then reading a key or a
    // provider name threw InvalidOperationException instead of the documented PriceMapException.
    [TestCase(new byte[] { (byte)'{', (byte)'"', (byte)'m', 0xFF, (byte)'"', (byte)':', (byte)'{', (byte)'}', (byte)'}' }, TestName = "ParsePriceMap_InvalidUtf8InAModelKey_IsAPriceMapException")]
    [TestCase(new byte[] { (byte)'{', (byte)'"', (byte)'m', (byte)'"', (byte)':', (byte)'{', (byte)'"', (byte)'l', (byte)'i', (byte)'t', (byte)'e', (byte)'l', (byte)'l', (byte)'m', (byte)'_', (byte)'p', (byte)'r', (byte)'o', (byte)'v', (byte)'i', (byte)'d', (byte)'e', (byte)'r', (byte)'"', (byte)':', (byte)'"', 0xC0, 0x80, (byte)'"', (byte)'}', (byte)'}' }, TestName = "ParsePriceMap_InvalidUtf8InAProvider_IsAPriceMapException")]
    public void ParsePriceMap_TextThatIsNotUtf8_IsAPriceMapException(byte[] json)
    {
        using var stream = new MemoryStream(json);

        var ex = Assert.Throws<PriceMapException>(() => PriceCatalog.ParsePriceMap(stream, "prices.json"));

        Assert.That(ex!.Message, Is.EqualTo("price map 'prices.json' holds text that is not valid UTF-8"));
    }
}
