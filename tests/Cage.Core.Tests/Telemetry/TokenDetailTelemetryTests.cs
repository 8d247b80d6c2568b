using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace CageNet.Tests.Telemetry;

/// <summary>What the GenAI token histograms emit for a call with cache reads, both cache writes and reasoning.</summary>
public class TokenDetailTelemetryTests
{
    private static async Task<(IReadOnlyList<CollectedMeasurement<long>> Usage, IReadOnlyList<CollectedMeasurement<long>> Detail)> MeterOneCall(TokenUsage usage)
    {
        var scope = new object();
        using var instruments = new CageInstruments(scope: scope);
        using var tokens = new MetricCollector<long>(scope, CageTelemetry.MeterName, CageTelemetry.TokenUsage);
        using var detail = new MetricCollector<long>(scope, CageTelemetry.MeterName, CageTelemetry.TokenDetail);
        var meter = new CageMeter(new InMemoryLedger(), PriceCatalog.BuiltIn, TimeProvider.System, instruments: instruments);
        await using (meter)
        {
            using var m = meter.Meter("chat");
            m.Usage("anthropic", "claude-sonnet-4-6", usage);
        }

        return (tokens.GetMeasurementSnapshot(), detail.GetMeasurementSnapshot());
    }

    [Test]
    public async Task Usage_CachedReasoningCall_SemconvHistogramCountsPromptSideAsInputAndReasoningInOutput()
    {
        var (usage, _) = await MeterOneCall(new TokenUsage(12, CacheRead: 8000, CacheWrite5m: 500, CacheWrite1h: 1000, Output: 240, Reasoning: 90));

        Assert.That(usage.Select(m => ((string)m.Tags["gen_ai.token.type"]!, m.Value)), Is.EquivalentTo(new[] { ("input", 9512L), ("output", 240L) }));
        Assert.That(usage.Select(m => m.Tags.Keys.Order().ToArray()), Has.All.EqualTo(new[] { "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.response.model", "gen_ai.token.type" }));
    }

    [Test]
    public async Task Usage_CachedReasoningCall_DetailHistogramCarriesEveryBucket()
    {
        var (_, detail) = await MeterOneCall(new TokenUsage(12, CacheRead: 8000, CacheWrite5m: 500, CacheWrite1h: 1000, Output: 240, Reasoning: 90));

        Assert.That(detail.Select(m => ((string)m.Tags["gen_ai.token.type"]!, (string)m.Tags[CageTelemetry.TokenBucketAttribute]!, m.Value)), Is.EquivalentTo(new[]
        {
            ("input", "input", 12L), ("input", "cache_read", 8000L), ("input", "cache_write_5m", 500L), ("input", "cache_write_1h", 1000L),
            ("output", "output", 240L), ("output", "reasoning", 90L),
        }));
        Assert.That(detail.Select(m => m.Tags["gen_ai.response.model"]), Has.All.EqualTo("claude-sonnet-4-6"));
        Assert.That(detail.Select(m => m.Tags["gen_ai.provider.name"]), Has.All.EqualTo("anthropic"));
    }

    [Test]
    public async Task Usage_PlainCall_DetailHistogramRecordsOnlyInputAndOutput()
    {
        var (_, detail) = await MeterOneCall(new TokenUsage(100, Output: 20));

        Assert.That(detail.Select(m => ((string)m.Tags[CageTelemetry.TokenBucketAttribute]!, m.Value)), Is.EquivalentTo(new[] { ("input", 100L), ("output", 20L) }));
    }
}
