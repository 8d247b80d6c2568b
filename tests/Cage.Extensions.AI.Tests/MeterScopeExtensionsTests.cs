using CageNet.Ledger;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Extensions.AI.Tests;

/// <summary><c>m.Usage(provider, model, UsageDetails)</c>: the same bucket mapping as the <c>UseCage()</c> middleware.</summary>
public sealed class MeterScopeExtensionsTests
{
    private ServiceProvider _services = null!;
    private InMemoryLedger _ledger = null!;
    private ICageMeter _meter = null!;

    [SetUp]
    public void SetUp()
    {
        _ledger = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddInMemoryLedger(_ledger);
        _services = services.BuildServiceProvider();
        _meter = _services.GetRequiredService<ICageMeter>();
    }

    [TearDown]
    public async Task TearDown() => await _services.DisposeAsync();

    private static UsageDetails Details() => new()
    {
        InputTokenCount = 1000,
        CachedInputTokenCount = 200,
        OutputTokenCount = 300,
        ReasoningTokenCount = 100,
        AdditionalCounts = new() { ["cache_creation_input_tokens"] = 50, ["ephemeral_1h_input_tokens"] = 10 },
    };

    [Test]
    public async Task Usage_UsageDetails_MapsInputCachedCacheWritesOutputAndReasoning()
    {
        using (var m = _meter.Meter("summarize", task: "t1"))
        {
            m.Usage("openai", "gpt-4o", Details(), requestId: "chatcmpl-7");
        }

        await _meter.FlushAsync();
        var call = _ledger.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(Input: 740, CacheRead: 200, CacheWrite5m: 50, CacheWrite1h: 10, Output: 300, Reasoning: 100)),
                "input = 1000 − 200 cached − 50 − 10 written");
            Assert.That((call.Provider, call.Model, call.Route, call.Task, call.RequestId), Is.EqualTo(("openai", "gpt-4o", "summarize", "t1", "chatcmpl-7")));
            Assert.That(call.CostSource, Is.EqualTo(CostSource.Catalog));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
        });
    }

    [Test]
    public async Task Usage_SameUsageDetails_SameBucketsAsTheMiddleware()
    {
        var client = new ScriptedChatClient(new ScriptedTurn("hi", Details(), ModelId: "gpt-4o")).AsBuilder().UseCage().Build(_services);
        await client.GetResponseAsync("hello");
        using (var m = _meter.Meter("manual"))
        {
            m.Usage("openai", "gpt-4o", Details());
        }

        await _meter.FlushAsync();
        var calls = _ledger.Calls;
        Assert.That(calls, Has.Count.EqualTo(2));
        Assert.That(calls[1].Usage, Is.EqualTo(calls[0].Usage));
        Assert.That(calls[1].CostUsd, Is.EqualTo(calls[0].CostUsd));
    }

    [Test]
    public async Task Usage_ProviderCost_WinsOverTheCatalog()
    {
        using (var m = _meter.Meter("chat"))
        {
            m.Usage("openrouter", "openai/gpt-4o", Details(), providerCost: 0.0042m);
        }

        await _meter.FlushAsync();
        var call = _ledger.Calls.Single();
        Assert.That((call.CostUsd, call.CostSource), Is.EqualTo(((decimal?)0.0042m, CostSource.Provider)));
    }

    [Test]
    public async Task Usage_NullUsage_RecordedAsMissingNeverFree()
    {
        using (var m = _meter.Meter("chat"))
        {
            m.Usage("openai", "gpt-4o", usage: null, requestId: "chatcmpl-8");
        }

        await _meter.FlushAsync();
        var call = _ledger.Calls.Single();
        Assert.That((call.UsageStatus, call.CostUsd, call.RequestId), Is.EqualTo((UsageStatus.Missing, (decimal?)null, "chatcmpl-8")));
        Assert.That(_ledger.IsLowerBound, Is.True);
    }

    [Test]
    public void Usage_NullScope_Throws() =>
        Assert.Throws<ArgumentNullException>(() => MeterScopeExtensions.Usage(null!, "openai", "gpt-4o", Details()));
}
