using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using CageNet.Budgets;
using CageNet.Http.Tests;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenAI;
using OpenAI.Chat;

namespace CageNet.Proxy.Tests;

/// <summary>
/// <c>cage proxy</c> end to end over loopback: a client (raw HttpClient or the official OpenAI SDK) talks to a real
/// <see cref="CageProxy"/>, which forwards to a real Kestrel server replaying the wire fixtures, and meters into a real
/// SQLite ledger file.
/// </summary>
[TestFixture]
public sealed class CageProxyTests
{
    private const string Key = "sk-proxy-canary-0123456789abcdef";

    private ReplayServer _upstream = null!;
    private string _folder = null!;
    private ServiceProvider _services = null!;
    private SqliteLedger _ledger = null!;
    private ICageMeter _meter = null!;

    [SetUp]
    public async Task SetUp()
    {
        _upstream = await ReplayServer.StartAsync();
        _folder = Directory.CreateTempSubdirectory("cage-proxy-").FullName;
        _services = Services(b => b.AddSqliteLedger(o => o.Path = Path.Combine(_folder, "ledger.db")));
        _ledger = _services.GetRequiredService<SqliteLedger>();
        _meter = _services.GetRequiredService<ICageMeter>();
    }

    [TearDown]
    public async Task TearDown()
    {
        await _services.DisposeAsync();
        await _upstream.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static ServiceProvider Services(Action<ICageBuilder> ledger)
    {
        var services = new ServiceCollection();
        ledger(services.AddCage(o =>
        {
            o.Metering.SetAsStaticDefault = false;
            o.Pricing.MapFile = WireFixtures.PathOf("litellm_prices_sample.json");
        }));
        return services.BuildServiceProvider();
    }

    private CageProxyOptions Options(string prefix = "")
    {
        var options = new CageProxyOptions();
        foreach (var provider in CageProxyOptions.Providers)
        {
            options.Upstreams[provider] = new Uri(_upstream.BaseAddress, prefix);
        }

        return options;
    }

    private async Task<List<CallRecord>> CallsAsync()
    {
        var flushed = await _meter.FlushAsync();
        Assert.That(flushed.Dropped, Is.Zero);
        var calls = new List<CallRecord>();
        await foreach (var call in _ledger.ReadCallsAsync(TimeWindow.All))
        {
            calls.Add(call);
        }

        return calls;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task Stream_ClientHoldsChunkOneBeforeTheUpstreamSendsChunkTwo_AndTheCallIsMeteredExactly()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options("gated/"));
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("openai") };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[4096];
        var read = await body.ReadAsync(first).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var firstText = Encoding.UTF8.GetString(first, 0, read);
        Assert.That(_upstream.ReleaseGate.Task.IsCompleted, Is.False, "chunk 1 arrived while the upstream still held chunk 2");
        _upstream.ReleaseGate.SetResult();
        var rest = await new StreamReader(body).ReadToEndAsync();

        var expected = WireFixtures.Expected("openai_chat_stream_include_usage.sse");
        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(firstText, Is.EqualTo(WireFixtures.Events("openai_chat_stream_include_usage.sse")[0]));
            Assert.That(_upstream.SecondEventWrittenBeforeRelease, Is.False);
            Assert.That(firstText + rest, Is.EqualTo(string.Concat(WireFixtures.Events("openai_chat_stream_include_usage.sse"))));
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
            Assert.That(call.Route, Is.EqualTo("proxy"));
        });
    }

    [Test]
    public async Task OpenAIStream_IncludeUsageIsAdded_LabelHeadersLabelTheCallAndAreNotForwarded_AuthIsForwardedNotStored()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options());
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("openai") };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
        request.Headers.Add("X-Cage-Route", "code-edit");
        request.Headers.Add("X-Cage-Task", "fix-bug");
        request.Headers.Add("X-Cage-Session", "s-1");
        request.Headers.Add("X-Cage-Agent", "codex");
        request.Headers.Add("X-Cage-User", "alice");

        using var response = await client.SendAsync(request);
        await response.Content.ReadAsStringAsync();
        var call = (await CallsAsync()).Single();
        var session = _services.GetRequiredService<CageNet.Budgets.SessionCostTracker>().Get("s-1");
        await _services.DisposeAsync(); // the ledger file closed: its WAL folded in

        var headers = _upstream.RequestHeaders.Single();
        Assert.Multiple(() =>
        {
            Assert.That(_upstream.RequestBodies.Single(), Does.Contain("\"stream_options\":{\"include_usage\":true}"));
            Assert.That(headers["Authorization"], Is.EqualTo("Bearer " + Key), "the key reaches the provider");
            Assert.That(headers.Keys.Where(k => k.StartsWith("X-Cage-", StringComparison.OrdinalIgnoreCase)), Is.Empty);
            Assert.That((call.Route, call.Task, call.Session, call.Agent, call.User), Is.EqualTo(("code-edit", "fix-bug", "s-1", "codex", "alice")));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(session!.Calls, Is.EqualTo(1), "the proxy's calls feed the host's session totals");
            Assert.That(session.CloudCostUsd, Is.EqualTo(call.CostUsd));
            foreach (var file in Directory.EnumerateFiles(_folder))
            {
                var text = Encoding.UTF8.GetString(File.ReadAllBytes(file));
                Assert.That(text, Does.Not.Contain(Key).And.Not.Contain("Bearer"), file);
            }
        });
    }

    [Test]
    public async Task AnthropicNonStream_IsForwardedAndMetered()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options());
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("anthropic") };

        using var response = await client.PostAsync("v1/messages", Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}"""));
        var body = await response.Content.ReadAsStringAsync();

        var expected = WireFixtures.Expected("anthropic_messages_nonstream.json");
        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Headers.GetValues("request-id").Single(), Is.EqualTo("req_fixture_anthropic"));
            Assert.That(body, Is.EqualTo(File.ReadAllText(WireFixtures.PathOf("anthropic_messages_nonstream.json"))));
            Assert.That(call.Provider, Is.EqualTo("anthropic"));
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
        });
    }

    [Test]
    public async Task UnprefixedV1Paths_GoToOpenAIAndAnthropic()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options());
        using var client = new HttpClient { BaseAddress = proxy.BaseAddress };

        using var openai = await client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","messages":[]}"""));
        using var anthropic = await client.PostAsync("v1/messages", Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}"""));

        var calls = await CallsAsync();
        Assert.That(openai.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(anthropic.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(calls.Select(c => c.Provider), Is.EquivalentTo(new[] { "openai", "anthropic" }));
    }

    [Test]
    public async Task OfficialOpenAISdk_StreamingThroughTheProxy_IsMeteredExactly()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options());
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(Key), new OpenAIClientOptions { Endpoint = new Uri(proxy.BaseAddressFor("openai"), "v1") });

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hello")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
        }

        var expected = WireFixtures.Expected("openai_chat_stream_include_usage.sse");
        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(text.ToString(), Is.Not.Empty, "the SDK read the stream");
            Assert.That(usage!.OutputTokenCount, Is.EqualTo(expected.Usage.Output), "the SDK saw the same usage chunk");
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
        });
    }

    [Test]
    public async Task OfficialAnthropicSdk_ThroughTheProxy_IsMeteredExactly()
    {
        await using var proxy = await CageProxy.StartAsync(_meter, Options());
        var client = new Anthropic.AnthropicClient { ApiKey = Key, BaseUrl = proxy.BaseAddressFor("anthropic").AbsoluteUri.TrimEnd('/') };

        var message = await client.Messages.Create(new Anthropic.Models.Messages.MessageCreateParams
        {
            MaxTokens = 10,
            Model = "claude-sonnet-4-6",
            Messages = [new Anthropic.Models.Messages.UserMessageParam("hello")],
        });

        var expected = WireFixtures.Expected("anthropic_messages_nonstream.json");
        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(message.Usage.OutputTokens, Is.EqualTo(expected.Usage.Output), "the SDK read the response");
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
            Assert.That(_upstream.RequestHeaders.Single().Values, Has.Some.Contains(Key), "the SDK's credential header reaches the provider");
        });
    }

    [Test]
    public async Task UnderABudget_TheCallSettlesAtItsBilledCost_AndUtilizationHeadersFeedTheEstimator()
    {
        var options = new BudgetOptions();
        options.Node("org").CapUsd(100m).Block();
        using var guard = new BudgetGuard(options);
        await using var proxy = await CageProxy.StartAsync(_meter, Options(), guard);
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("anthropic") };

        using var response = await client.PostAsync("v1/messages", Json("""{"model":"claude-opus-4-6","stream":true,"max_tokens":10,"messages":[]}"""));
        await response.Content.ReadAsStringAsync();
        var call = (await CallsAsync()).Single();

        var org = guard.GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(org.Usd.Spent, Is.EqualTo(call.CostUsd), "settled with the billed usage, not the estimate");
            Assert.That(org.Usd.Reserved, Is.Zero);
            Assert.That(guard.OpenReservations, Is.Zero);
            Assert.That(guard.Estimator.Latest("5h")?.Utilization, Is.EqualTo(0.21));
            Assert.That(guard.Estimator.Latest("7d")?.Utilization, Is.EqualTo(0.68));
        });
    }

    [TestCase("openai", "v1/chat/completions", "gpt-4o-mini")]
    [TestCase("anthropic", "v1/messages", "claude-sonnet-4-6")]
    [TestCase("gemini", "v1beta/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro")]
    public async Task BlockCap_RefusesWithTheProvidersOwnErrorShape_AndNothingIsSent(string provider, string path, string model)
    {
        var options = new BudgetOptions();
        options.Node("org").CapUsd(0.000001m).Block();
        using var guard = new BudgetGuard(options);
        await using var proxy = await CageProxy.StartAsync(_meter, Options(), guard);
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor(provider) };

        using var response = await client.PostAsync(path, Json($$"""{"model":"{{model}}","max_tokens":1000,"contents":[],"messages":[]}"""));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(_upstream.RequestBodies, Is.Empty, "nothing was sent upstream");
        var error = body.GetProperty("error");
        var message = error.GetProperty("message").GetString();
        Assert.That(message, Does.Contain("'org'").And.Contain("spent $").And.Contain("of $0.000001").And.Contain("lifetime budget, no reset"), "names the node, what it spent, its cap and its reset");
        switch (provider)
        {
            case "anthropic":
                Assert.That(body.GetProperty("type").GetString(), Is.EqualTo("error"));
                Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("budget_exceeded"));
                break;
            case "gemini":
                Assert.That(error.GetProperty("status").GetString(), Is.EqualTo("RESOURCE_EXHAUSTED"));
                Assert.That(error.GetProperty("details")[0].GetProperty("reason").GetString(), Is.EqualTo("budget_exceeded"));
                break;
            default:
                Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("budget_exceeded"));
                Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("budget_exceeded"));
                break;
        }
    }

    [Test]
    public async Task LabelHeader_RoutesTheCallToItsTeamsNode_AndOnlyThatTeamIsRefused()
    {
        var options = new BudgetOptions();
        options.Route("org/{team}");
        options.Node("org").CapUsd(100m).Block();
        options.Node("org/team-a").CapUsd(0.000001m).Block();
        options.Node("org/team-b").CapUsd(50m).Block();
        using var guard = new BudgetGuard(options);
        await using var proxy = await CageProxy.StartAsync(_meter, Options(), guard);
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("openai") };
        HttpRequestMessage Request(string team)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","max_tokens":1000,"messages":[]}""") };
            request.Headers.Add("X-Cage-Label-Team", team);
            return request;
        }

        using var refused = await client.SendAsync(Request("team-a"));
        using var admitted = await client.SendAsync(Request("team-b"));
        await admitted.Content.ReadAsStringAsync();
        var call = (await CallsAsync()).Single();

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString(), Does.StartWith("budget 'org/team-a' is exhausted"));
        Assert.That(admitted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(call.Tags, Is.EqualTo(new Dictionary<string, string> { ["team"] = "team-b" }), "the label is recorded, the header is not forwarded");
        Assert.That(_upstream.RequestBodies, Has.Count.EqualTo(1));
        Assert.That(guard.GetStatus("org/team-b").Nodes[^1].Usd.Spent, Is.EqualTo(call.CostUsd));
        Assert.That(guard.GetStatus("org/team-a").Nodes[^1].Usd.Spent, Is.Zero);
    }

    [Test]
    public async Task OfficialOpenAISdk_UnderABlockCap_GetsA429BudgetExceeded()
    {
        var options = new BudgetOptions();
        options.Node("org").CapUsd(0.000001m).Block();
        using var guard = new BudgetGuard(options);
        await using var proxy = await CageProxy.StartAsync(_meter, Options(), guard);
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(Key), new OpenAIClientOptions { Endpoint = new Uri(proxy.BaseAddressFor("openai"), "v1") });

        var ex = Assert.ThrowsAsync<ClientResultException>(async () => await client.CompleteChatAsync([new UserChatMessage("hello")]));

        Assert.That(ex!.Status, Is.EqualTo(429));
        Assert.That(ex.Message, Does.Contain("budget_exceeded"));
        Assert.That(_upstream.RequestBodies, Is.Empty);
    }

    [Test]
    public async Task FailingLedger_NeverBreaksTraffic()
    {
        await using var services = Services(b =>
        {
            b.Services.RemoveAll<ILedgerSink>();
            b.Services.AddSingleton<ILedgerSink>(new FailingSink());
        });
        var meter = services.GetRequiredService<ICageMeter>();
        await using var proxy = await CageProxy.StartAsync(meter, Options());
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("openai") };

        using var response = await client.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}"""));
        var text = await response.Content.ReadAsStringAsync();
        var flushed = await meter.FlushAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(text, Is.EqualTo(string.Concat(WireFixtures.Events("openai_chat_stream_include_usage.sse"))));
        Assert.That(flushed.Dropped, Is.EqualTo(1), "the drop is reported, the traffic went through");
    }

    [Test]
    public async Task Stop_DrainsAStreamInFlight()
    {
        var proxy = await CageProxy.StartAsync(_meter, Options("gated/"));
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("openai") };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await _upstream.FirstEventSent.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var stopping = proxy.DisposeAsync().AsTask();
        await Task.Delay(200);
        Assert.That(stopping.IsCompleted, Is.False, "the stop waits for the stream");
        _upstream.ReleaseGate.SetResult();
        var text = await response.Content.ReadAsStringAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(text, Is.EqualTo(string.Concat(WireFixtures.Events("openai_chat_stream_include_usage.sse"))));
        Assert.That((await CallsAsync()).Single().UsageStatus, Is.EqualTo(UsageStatus.Reported));
    }

    [Test]
    public async Task UpstreamDown_IsAProviderShaped502()
    {
        var options = new CageProxyOptions();
        options.Upstreams["anthropic"] = new Uri("http://127.0.0.1:1/");
        await using var proxy = await CageProxy.StartAsync(_meter, options);
        using var client = new HttpClient { BaseAddress = proxy.BaseAddressFor("anthropic") };

        using var response = await client.PostAsync("v1/messages", Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}"""));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway));
        Assert.That(body.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("upstream_unreachable"));
    }

    private sealed class FailingSink : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) =>
            throw new IOException("disk full");
    }
}
