using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Protocols.Tests.Metering;

public sealed class MeterScopeWireExtensionsTests
{
    private static (ServiceProvider Services, ICageMeter Meter, InMemoryLedger Ledger) NewMeter()
    {
        var ledger = new InMemoryLedger();
        var services = new ServiceCollection()
            .AddSingleton(PriceCatalog.LoadPriceMap(Path.Combine(Fixtures.SharedWire, "litellm_prices_sample.json")))
            .AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero)))
            .AddSingleton<ILedgerStore>(ledger);
        services.AddCage();
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<ICageMeter>(), ledger);
    }

    [Test]
    public async Task Usage_WireUsageOfAStream_RecordsServedModelBucketsAndResponseId()
    {
        var (services, meter, ledger) = NewMeter();
        await using (services)
        {
            using (var scope = meter.Meter("chat"))
            {
                var observer = new WireStreamObserver(WireProtocol.AnthropicMessages);
                observer.Observe(Fixtures.SharedBytes("anthropic_messages_stream.sse"));
                scope.Usage(observer.Complete());
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That((call.Provider, call.Model, call.RequestId, call.Usage, call.CostUsd, call.UsageStatus, call.Ok),
            Is.EqualTo(("anthropic", "claude-opus-4-6", "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", new TokenUsage(25, Output: 15), 0.0005m, UsageStatus.Reported, true)));
    }

    [Test]
    public async Task Usage_StreamCutBeforeUsage_RecordsMissingNotAFreeCall()
    {
        var (services, meter, ledger) = NewMeter();
        await using (services)
        {
            using (var scope = meter.Meter("chat"))
            {
                scope.Usage(WireParser.Parse(File.ReadAllBytes(Path.Combine(Fixtures.Own, "wire", "openai_chat_stream_interrupted.sse"))));
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That((call.UsageStatus, call.Ok, call.Model), Is.EqualTo((UsageStatus.Missing, false, "gpt-4o-mini-2024-07-18")));
        Assert.That(call.Error, Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public async Task Usage_OpenRouterBody_UsesTheProviderCost()
    {
        var (services, meter, ledger) = NewMeter();
        await using (services)
        {
            using (var scope = meter.Meter("chat"))
            {
                scope.Usage(Fixtures.SharedBytes("openrouter_chat_usage.json"), WireProtocol.OpenRouter);
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That((call.CostUsd, call.CostSource, call.Provider), Is.EqualTo(((decimal?)0.95m, CostSource.Provider, "openrouter")));
    }
}
