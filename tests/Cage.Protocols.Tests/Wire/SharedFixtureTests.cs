using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Wire;

/// <summary>Every provider fixture in shared/fixtures/wire normalizes to expected_normalized.json exactly, whole and split at every byte.</summary>
public sealed class SharedFixtureTests
{
    private static readonly string[] WireFiles =
    [
        "openai_chat_nonstream.json",
        "openai_chat_stream_include_usage.sse",
        "openai_responses_nonstream.json",
        "anthropic_messages_nonstream.json",
        "anthropic_messages_stream.sse",
        "gemini_generate_content_thinking.json",
        "openrouter_chat_usage.json",
    ];

    private static JsonElement Expected(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.SharedWire, "expected_normalized.json")));
        return doc.RootElement.GetProperty(file).Clone();
    }

    private static PriceCatalog SamplePrices() => PriceCatalog.LoadPriceMap(Path.Combine(Fixtures.SharedWire, "litellm_prices_sample.json"));

    [TestCaseSource(nameof(WireFiles))]
    public void Parse_SharedFixture_MatchesExpectedBucketsAndCost(string file)
    {
        var expected = Expected(file);
        var usage = WireParser.Parse(Fixtures.SharedBytes(file));

        var buckets = expected.GetProperty("buckets");
        Assert.Multiple(() =>
        {
            Assert.That(usage.Status, Is.EqualTo(UsageStatus.Reported));
            Assert.That(usage.Problem, Is.Null);
            Assert.That(usage.Usage.Input, Is.EqualTo(buckets.GetProperty("input_uncached").GetInt64()), "input_uncached");
            Assert.That(usage.Usage.CacheRead, Is.EqualTo(buckets.GetProperty("cache_read").GetInt64()), "cache_read");
            Assert.That(usage.Usage.CacheWrite5m, Is.EqualTo(buckets.GetProperty("cache_write_5m").GetInt64()), "cache_write_5m");
            Assert.That(usage.Usage.CacheWrite1h, Is.EqualTo(buckets.GetProperty("cache_write_1h").GetInt64()), "cache_write_1h");
            Assert.That(usage.Usage.Output, Is.EqualTo(buckets.GetProperty("output").GetInt64()), "output");
            var reasoning = buckets.GetProperty("reasoning");
            Assert.That(usage.Usage.Reasoning, Is.EqualTo(reasoning.ValueKind == JsonValueKind.Null ? null : reasoning.GetInt64()), "reasoning");
        });

        var quote = SamplePrices().Price(usage.Provider, usage.Model, usage.Usage, usage.ProviderCost, usage.ServiceTier);
        var expectedCost = decimal.Parse(expected.GetProperty("expected_cost_usd").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(quote.CostUsd, Is.EqualTo(expectedCost), $"cost (priced as {usage.Provider}/{usage.Model} → {quote.PriceKey})");
        if (expected.GetProperty("model_for_pricing").GetString() is { } pricingModel)
        {
            Assert.That(quote.Source, Is.EqualTo(CostSource.Catalog));
            Assert.That(pricingModel, Does.EndWith(usage.Model), "served model");
        }
        else
        {
            Assert.That(quote.Source, Is.EqualTo(CostSource.Provider));
        }
    }

    [TestCaseSource(nameof(WireFiles))]
    public void Observe_SharedFixtureSplitAtEveryByte_GivesTheWholeResult(string file)
    {
        var bytes = Fixtures.SharedBytes(file);
        var whole = WireParser.Parse(bytes);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var observer = new WireStreamObserver();
            observer.Observe(bytes.AsSpan(0, split));
            observer.Observe(bytes.AsSpan(split));
            var parsed = observer.Complete();
            Assert.That(parsed.Usage, Is.EqualTo(whole.Usage), $"split at {split}");
            Assert.That(parsed.Model, Is.EqualTo(whole.Model), $"split at {split}");
            Assert.That(parsed.ResponseId, Is.EqualTo(whole.ResponseId), $"split at {split}");
            Assert.That(parsed.Status, Is.EqualTo(whole.Status), $"split at {split}");
        }
    }

    [TestCaseSource(nameof(WireFiles))]
    public void Observe_SharedFixtureOneByteAtATime_GivesTheWholeResult(string file)
    {
        var bytes = Fixtures.SharedBytes(file);
        var observer = new WireStreamObserver();
        foreach (var b in bytes) observer.Observe([b]);
        var parsed = observer.Complete();
        var whole = WireParser.Parse(bytes);
        Assert.That(parsed.Usage, Is.EqualTo(whole.Usage));
        Assert.That(parsed.FinishReason, Is.EqualTo(whole.FinishReason));
    }

    [Test]
    public void Parse_SharedFixtures_ReportServedModelIdAndFinishReason()
    {
        Assert.Multiple(() =>
        {
            var chat = WireParser.Parse(Fixtures.SharedBytes("openai_chat_stream_include_usage.sse"));
            Assert.That((chat.Protocol, chat.Provider, chat.Model, chat.ResponseId, chat.FinishReason), Is.EqualTo((WireProtocol.OpenAIChat, "openai", "gpt-4o-mini-2024-07-18", "chatcmpl-fixture-stream-001", "stop")));
            var anthropic = WireParser.Parse(Fixtures.SharedBytes("anthropic_messages_stream.sse"));
            Assert.That((anthropic.Protocol, anthropic.Model, anthropic.ResponseId, anthropic.FinishReason), Is.EqualTo((WireProtocol.AnthropicMessages, "claude-opus-4-6", "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "end_turn")));
            var gemini = WireParser.Parse(Fixtures.SharedBytes("gemini_generate_content_thinking.json"));
            Assert.That((gemini.Protocol, gemini.Provider, gemini.Model, gemini.ResponseId, gemini.FinishReason), Is.EqualTo((WireProtocol.Gemini, "gemini", "gemini-2.5-pro", "fixture-gemini-thinking-001", "STOP")));
            var responses = WireParser.Parse(Fixtures.SharedBytes("openai_responses_nonstream.json"));
            Assert.That((responses.Protocol, responses.ResponseId), Is.EqualTo((WireProtocol.OpenAIResponses, "resp_fixture_001")));
            var router = WireParser.Parse(Fixtures.SharedBytes("openrouter_chat_usage.json"));
            Assert.That((router.Protocol, router.Provider, router.ProviderCost), Is.EqualTo((WireProtocol.OpenRouter, "openrouter", 0.95m)));
            var anthropicJson = WireParser.Parse(Fixtures.SharedBytes("anthropic_messages_nonstream.json"));
            Assert.That((anthropicJson.FinishReason, anthropicJson.ServiceTier), Is.EqualTo(("tool_use", "standard")));
        });
    }
}
