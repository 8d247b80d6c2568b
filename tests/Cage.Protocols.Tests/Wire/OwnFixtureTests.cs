using System.Globalization;
using System.Text;
using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Wire;

/// <summary>
/// The variants SPEC 2.2 names that the shared fixtures do not show (cached / interrupted / failed / incomplete streams,
/// Responses and Gemini SSE, Gemini's JSON-array stream, 5m and 1h cache writes, cached content, long-context tiers,
/// OpenRouter streams) against hand-computed expectations in Fixtures/wire/expected.json.
/// </summary>
public sealed class OwnFixtureTests
{
    private static JsonElement Expectations()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.Own, "wire", "expected.json")));
        return doc.RootElement.Clone();
    }

    public static IEnumerable<string> Files() =>
        Expectations().EnumerateObject().Select(p => p.Name).Where(n => !n.StartsWith('_')).ToArray();

    private static byte[] Bytes(string file) => File.ReadAllBytes(Path.Combine(Fixtures.Own, "wire", file));

    private static void AssertMatches(WireUsage usage, JsonElement expected, string because)
    {
        var b = expected.GetProperty("buckets");
        Assert.Multiple(() =>
        {
            Assert.That(usage.Protocol.ToString(), Is.EqualTo(expected.GetProperty("protocol").GetString()), because + " protocol");
            Assert.That(usage.Status.ToWire(), Is.EqualTo(expected.GetProperty("status").GetString()), because + " status");
            Assert.That(usage.Truncated, Is.EqualTo(expected.GetProperty("truncated").GetBoolean()), because + " truncated");
            Assert.That(usage.Ok, Is.EqualTo(expected.GetProperty("ok").GetBoolean()), because + " ok");
            Assert.That(usage.Model, Is.EqualTo(expected.GetProperty("model").GetString()), because + " model");
            Assert.That(usage.ResponseId, Is.EqualTo(expected.GetProperty("response_id").GetString()), because + " id");
            Assert.That(usage.FinishReason, Is.EqualTo(expected.GetProperty("finish_reason").GetString()), because + " finish");
            Assert.That(usage.Usage.Input, Is.EqualTo(b.GetProperty("input").GetInt64()), because + " input");
            Assert.That(usage.Usage.CacheRead, Is.EqualTo(b.GetProperty("cache_read").GetInt64()), because + " cache_read");
            Assert.That(usage.Usage.CacheWrite5m, Is.EqualTo(b.GetProperty("cache_write_5m").GetInt64()), because + " 5m");
            Assert.That(usage.Usage.CacheWrite1h, Is.EqualTo(b.GetProperty("cache_write_1h").GetInt64()), because + " 1h");
            Assert.That(usage.Usage.Output, Is.EqualTo(b.GetProperty("output").GetInt64()), because + " output");
            var reasoning = b.GetProperty("reasoning");
            Assert.That(usage.Usage.Reasoning, Is.EqualTo(reasoning.ValueKind == JsonValueKind.Null ? null : reasoning.GetInt64()), because + " reasoning");
            var cost = expected.GetProperty("provider_cost");
            Assert.That(usage.ProviderCost, Is.EqualTo(cost.ValueKind == JsonValueKind.Null ? null : decimal.Parse(cost.GetString()!, CultureInfo.InvariantCulture)), because + " provider cost");
            if (expected.TryGetProperty("error", out var error)) Assert.That(usage.Error, Is.EqualTo(error.GetString()), because + " error");
            if (expected.TryGetProperty("problem_contains", out var problem)) Assert.That(usage.Problem, Does.Contain(problem.GetString()), because + " problem");
            if (usage.Status == UsageStatus.Reported) Assert.That(usage.Problem, Is.Null, because + " problem");
        });
    }

    [TestCaseSource(nameof(Files))]
    public void Parse_OwnFixture_MatchesHandComputedExpectation(string file)
    {
        var expected = Expectations().GetProperty(file);
        var usage = WireParser.Parse(Bytes(file));
        AssertMatches(usage, expected, file);

        if (expected.GetProperty("expected_cost_usd").GetString() is { } text)
        {
            var catalog = PriceCatalog.LoadPriceMap(Path.Combine(Fixtures.SharedWire, "litellm_prices_sample.json"));
            var quote = catalog.Price(usage.Provider, usage.Model, usage.Usage, usage.ProviderCost, usage.ServiceTier);
            Assert.That(quote.CostUsd, Is.EqualTo(decimal.Parse(text, CultureInfo.InvariantCulture)), $"{file} cost via {quote.PriceKey}");
        }
    }

    [TestCaseSource(nameof(Files))]
    public void Observe_OwnFixtureSplitAtEveryByteWithTheRouteProtocol_MatchesExpectation(string file)
    {
        var expected = Expectations().GetProperty(file);
        var protocol = Enum.Parse<WireProtocol>(expected.GetProperty("protocol").GetString()!);
        var bytes = Bytes(file);
        for (var split = 1; split < bytes.Length; split += Math.Max(1, bytes.Length / 97))
        {
            using var observer = new WireStreamObserver(protocol);
            observer.Observe(bytes.AsSpan(0, split));
            observer.Observe(bytes.AsSpan(split));
            AssertMatches(observer.Complete(), expected, $"{file} split at {split}");
        }
    }

    [TestCaseSource(nameof(Files))]
    public void Observe_OwnFixtureWithCrLfFraming_MatchesExpectation(string file)
    {
        var expected = Expectations().GetProperty(file);
        var crlf = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Bytes(file)).Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));
        using var observer = new WireStreamObserver();
        foreach (var b in crlf) observer.Observe([b]);
        AssertMatches(observer.Complete(), expected, file + " (CRLF, byte by byte)");
    }

    [Test]
    public void Observe_StreamWithoutUsageAndEstimateOn_IsFlaggedEstimatedFromTextBytes()
    {
        using var observer = new WireStreamObserver(WireProtocol.OpenAIChat, new WireStreamOptions { EstimateWhenMissing = true });
        observer.Observe(Bytes("openai_chat_stream_no_usage.sse"));
        var usage = observer.Complete();
        // The only text is "Hi" (2 bytes): ceil(2 / 4) = 1 output token, flagged as an estimate.
        Assert.That((usage.Status, usage.Usage.Output, usage.Usage.Input), Is.EqualTo((UsageStatus.Estimated, 1L, 0L)));
        Assert.That(usage.Problem, Does.Contain("include_usage"));
    }
}
