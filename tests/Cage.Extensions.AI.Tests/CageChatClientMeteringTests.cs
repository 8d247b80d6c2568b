using CageNet.Ledger;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Extensions.AI.Tests;

public sealed class CageChatClientMeteringTests
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

    private IChatClient Pipeline(IChatClient inner, Action<CageChatClientOptions>? configure = null) =>
        inner.AsBuilder().UseFunctionInvocation().UseCage(configure: configure).Build(_services);

    private async Task<IReadOnlyList<CallRecord>> CallsAsync()
    {
        await _meter.FlushAsync();
        return _ledger.Calls;
    }

    [Test]
    public async Task GetResponseAsync_UsageDetails_RecordsExclusiveBucketsAndTheServedModel()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("hi", ScriptedTurn.Tokens(input: 1000, output: 300, cached: 200, reasoning: 100), ModelId: "gpt-4o-2024-08-06", ResponseId: "chatcmpl-1"));
        var client = Pipeline(inner);

        var response = await client.GetResponseAsync("hello", new ChatOptions { ModelId = "gpt-4o-mini" });

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("hi"));
            Assert.That(call.Provider, Is.EqualTo("openai"));
            Assert.That(call.Model, Is.EqualTo("gpt-4o-2024-08-06"), "the served model, not the requested gpt-4o-mini");
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(Input: 800, CacheRead: 200, Output: 300, Reasoning: 100)));
            // gpt-4o: $2.50 / 1M input, $1.25 / 1M cache read, $10 / 1M output: 800×2.5 + 200×1.25 + 300×10 = 5250 / 1M.
            Assert.That(call.CostUsd, Is.EqualTo(0.00525m));
            Assert.That(call.CostSource, Is.EqualTo(CostSource.Catalog));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.RequestId, Is.EqualTo("chatcmpl-1"));
            Assert.That(call.Route, Is.EqualTo("chat"));
            Assert.That(response.AdditionalProperties?[CageChatProperties.CallId], Is.EqualTo(call.Id));
        });
    }

    [Test]
    public async Task GetStreamingResponseAsync_UsageContent_RecordsUsageAndPassesEveryUpdateThrough()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("streamed", ScriptedTurn.Tokens(input: 2006, output: 300, cached: 1920), ModelId: "gpt-4o-mini-2024-07-18", ResponseId: "chatcmpl-s"));
        var client = Pipeline(inner);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            updates.Add(update);
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(updates.ToChatResponse().Text, Is.EqualTo("streamed"));
            Assert.That(updates.SelectMany(u => u.Contents).OfType<UsageContent>().Count(), Is.EqualTo(1), "the usage update still reaches the caller");
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(Input: 86, CacheRead: 1920, Output: 300)));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.RequestId, Is.EqualTo("chatcmpl-s"));
        });
    }

    [Test]
    public async Task GetStreamingResponseAsync_StreamWithoutUsage_RecordsMissingNotFree()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("no usage", Usage: null));
        var client = Pipeline(inner);

        await foreach (var _ in client.GetStreamingResponseAsync("hello"))
        {
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing), "flagged, never a plain free call");
            Assert.That(call.CostUsd, Is.Null, "unknown, never $0");
            Assert.That(call.Model, Is.EqualTo("gpt-4o-2024-08-06"));
        });
    }

    [Test]
    public async Task GetStreamingResponseAsync_CallerStopsEarly_RecordsTheCallAsNotOk()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("abandoned", ScriptedTurn.Tokens(10, 5)));
        var client = Pipeline(inner);

        await foreach (var _ in client.GetStreamingResponseAsync("hello"))
        {
            break;
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Ok, Is.False);
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
        });
    }

    [Test]
    public async Task GetResponseAsync_AdditionalProperties_OverrideTheAmbientScope()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("ok", ScriptedTurn.Tokens(10, 5)));
        var client = Pipeline(inner);
        var options = new ChatOptions
        {
            AdditionalProperties = new()
            {
                [CageChatProperties.Route] = "summarize",
                [CageChatProperties.Category] = "delegate",
                [CageChatProperties.User] = "tenant-7",
            },
        };

        using (_meter.Meter("code-edit", task: "fix-bug", session: "s-1"))
        {
            await client.GetResponseAsync("hello", options);
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Route, Is.EqualTo("summarize"));
            Assert.That(call.Category, Is.EqualTo("delegate"));
            Assert.That(call.User, Is.EqualTo("tenant-7"));
            Assert.That(call.Task, Is.EqualTo("fix-bug"), "inherited from the ambient scope");
            Assert.That(call.Session, Is.EqualTo("s-1"));
        });
    }

    [Test]
    public async Task GetResponseAsync_AmbientScopeOnly_UsesItsRouteAndTask()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("ok", ScriptedTurn.Tokens(10, 5)));
        var client = Pipeline(inner);

        using (_meter.Meter("code-edit", task: "fix-bug", category: "main"))
        {
            await client.GetResponseAsync("hello");
        }

        var calls = await CallsAsync();
        Assert.That(calls, Has.Count.EqualTo(1), "the ambient scope itself recorded nothing; the round-trip is one call");
        Assert.Multiple(() =>
        {
            Assert.That(calls[0].Route, Is.EqualTo("code-edit"));
            Assert.That(calls[0].Task, Is.EqualTo("fix-bug"));
            Assert.That(calls[0].Category, Is.EqualTo("main"));
        });
    }

    [Test]
    public async Task GetResponseAsync_ToolLoop_RecordsOneCallPerRoundTrip()
    {
        var inner = new ScriptedChatClient(
            new ScriptedTurn(null, ScriptedTurn.Tokens(100, 10), ResponseId: "r1", Calls: new FunctionCallContent("c1", "lookup", new Dictionary<string, object?> { ["q"] = "a" })),
            new ScriptedTurn(null, ScriptedTurn.Tokens(150, 10), ResponseId: "r2", Calls: new FunctionCallContent("c2", "lookup", new Dictionary<string, object?> { ["q"] = "b" })),
            new ScriptedTurn("done", ScriptedTurn.Tokens(200, 20), ResponseId: "r3"));
        var client = Pipeline(inner);
        var tool = AIFunctionFactory.Create((string q) => $"result for {q}", "lookup");

        var response = await client.GetResponseAsync("go", new ChatOptions { Tools = [tool] });

        var calls = await CallsAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("done"));
            Assert.That(calls.Select(c => c.RequestId), Is.EqualTo(new[] { "r1", "r2", "r3" }));
            Assert.That(calls.Select(c => c.Usage.Input), Is.EqualTo(new long[] { 100, 150, 200 }));
            Assert.That(calls.Select(c => c.Attempt), Is.All.EqualTo(1), "round-trips of a loop are separate calls, not retries");
            Assert.That(calls.Select(c => c.Id).Distinct().Count(), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task GetResponseAsync_InnerClientThrowsBeforeAnyResponse_RecordsNothingAndRethrows()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn(null, null) { Throw = new HttpRequestException("connection refused") });
        var client = Pipeline(inner);

        Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync("hello"));

        Assert.That(await CallsAsync(), Is.Empty);
    }

    [Test]
    public async Task GetResponseAsync_MeterThrows_TheCallStillSucceeds()
    {
        var inner = new ScriptedChatClient(new ScriptedTurn("still works", ScriptedTurn.Tokens(10, 5)), new ScriptedTurn("streamed too", ScriptedTurn.Tokens(10, 5)));
        var client = inner.AsBuilder().UseCage(new ThrowingMeter()).Build(_services);

        var response = await client.GetResponseAsync("hello");
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            streamed.Add(update);
        }

        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("still works"));
            Assert.That(streamed.ToChatResponse().Text, Is.EqualTo("streamed too"));
        });
    }

    [Test]
    public async Task GetResponseAsync_CacheWritesInAdditionalCounts_LandInTheirOwnBuckets()
    {
        var usage = ScriptedTurn.Tokens(input: 5000, output: 100, cached: 1000);
        usage.AdditionalCounts = new() { ["ephemeral_5m_input_tokens"] = 1500, ["ephemeral_1h_input_tokens"] = 500 };
        var inner = new ScriptedChatClient(new ScriptedTurn("ok", usage, ModelId: "claude-sonnet-4-5")) { Metadata = new ChatClientMetadata("anthropic") };
        var client = Pipeline(inner);

        await client.GetResponseAsync("hello");

        var call = (await CallsAsync()).Single();
        Assert.That(call.Usage, Is.EqualTo(new TokenUsage(Input: 2000, CacheRead: 1000, CacheWrite5m: 1500, CacheWrite1h: 500, Output: 100)));
    }
}
