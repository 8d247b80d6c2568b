using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace CageNet.Tests.Telemetry;

public class CageTelemetryTests
{
    [Test]
    public async Task Usage_EmitsGenAiTokenUsageAndCost()
    {
        var scope = new object();
        using var instruments = new CageInstruments(scope: scope);
        using var tokens = new MetricCollector<long>(scope, CageTelemetry.MeterName, CageTelemetry.TokenUsage);
        using var cost = new MetricCollector<double>(scope, CageTelemetry.MeterName, CageTelemetry.Cost);
        using var unpriced = new MetricCollector<long>(scope, CageTelemetry.MeterName, CageTelemetry.UnpricedCalls);
        var meter = new CageMeter(new InMemoryLedger(), PriceCatalog.BuiltIn, TimeProvider.System, instruments: instruments);
        await using (meter)
        {
            using (var m = meter.Meter("code-edit"))
            {
                m.Usage("anthropic", "claude-opus-4-8", input: 8000, output: 1500, cacheRead: 600);
            }

            using (var m = meter.Meter("code-edit"))
            {
                m.Usage("acme", "unknown-model", input: 1, output: 1);
            }
        }

        var measurements = tokens.GetMeasurementSnapshot().Where(x => Equals(x.Tags["gen_ai.response.model"], "claude-opus-4-8")).ToList();
        var input = measurements.Single(x => Equals(x.Tags["gen_ai.token.type"], "input"));
        var output = measurements.Single(x => Equals(x.Tags["gen_ai.token.type"], "output"));
        Assert.Multiple(() =>
        {
            Assert.That(input.Value, Is.EqualTo(8600));
            Assert.That(output.Value, Is.EqualTo(1500));
            Assert.That(input.Tags["gen_ai.provider.name"], Is.EqualTo("anthropic"));
            Assert.That(input.Tags.ContainsKey("gen_ai.request.model"), Is.False, "the requested model is unknown to a scope; only the served one is tagged");
            Assert.That(input.Tags["gen_ai.operation.name"], Is.EqualTo("chat"));
            Assert.That(cost.GetMeasurementSnapshot().Sum(x => x.Value), Is.EqualTo((double)(8000 * 0.000003m + 600 * 0.0000003m + 1500 * 0.000015m)).Within(1e-12));
            Assert.That(unpriced.GetMeasurementSnapshot().Sum(x => x.Value), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Pipeline_DroppedRecords_AreCountedInMetric()
    {
        var scope = new object();
        using var instruments = new CageInstruments(scope: scope);
        using var dropped = new MetricCollector<long>(scope, CageTelemetry.MeterName, CageTelemetry.DroppedRecords);
        var meter = new CageMeter(new ThrowingSink(), PriceCatalog.BuiltIn, TimeProvider.System, new Configuration.MeteringOptions { MaxRetries = 0 }, instruments: instruments);
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", input: 1, output: 1);
            }

            await meter.FlushAsync();
        }

        Assert.That(dropped.GetMeasurementSnapshot().Sum(x => x.Value), Is.EqualTo(1));
    }
}
