using System.Net;
using System.Text;
using CageNet.Http;
using CageNet.Protocols;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Testing.Tests.Scripting;

/// <summary>
/// The scripted handler as the primary handler of an HttpClient with the real <c>AddCageMetering()</c>: its wire JSON is
/// metered exactly as a real provider's, and Cage's own wire parser reads back the usage it was given.
/// </summary>
public sealed class ScriptedHttpHandlerTests
{
    private static readonly TokenUsage Anthropic = new(Input: 1_200, CacheRead: 8_000, CacheWrite5m: 300, CacheWrite1h: 100, Output: 450);
    private static readonly TokenUsage OpenAI = new(Input: 900, CacheRead: 1_100, Output: 250, Reasoning: 40);

    private static (HttpClient Client, ServiceProvider Services) Client(CageTestContext cage, ScriptedHttpHandler handler)
    {
        var services = new ServiceCollection().AddCageTestContext(cage);
        services.AddHttpClient("llm", c => c.BaseAddress = new Uri("https://api.example.test/"))
            .AddCageMetering()
            .ConfigurePrimaryHttpMessageHandler(() => handler);
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<IHttpClientFactory>().CreateClient("llm"), provider);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [TestCase(false)]
    [TestCase(true)]
    public async Task OpenAIChat_IsMeteredAsARealProviderResponse(bool stream)
    {
        using var cage = new CageTestContext();
        var handler = cage.HttpHandler(new ScriptedTurn { Text = "hello there", Usage = OpenAI, Model = "gpt-4o-2024-08-06", ResponseId = "chatcmpl-fixed" });
        var (client, services) = Client(cage, handler);
        await using var _ = services;

        using var response = await client.PostAsync("v1/chat/completions", Json($$"""{"model":"gpt-4o","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}"""));
        var body = await response.Content.ReadAsStringAsync();

        var call = cage.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo(stream ? "text/event-stream" : "application/json"));
            Assert.That((call.Provider, call.Model, call.RequestId), Is.EqualTo(("openai", "gpt-4o-2024-08-06", "chatcmpl-fixed")));
            Assert.That(call.Usage, Is.EqualTo(OpenAI));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.CostUsd, Is.GreaterThan(0m));
            if (stream)
            {
                Assert.That(handler.Requests.Single(), Does.Contain("include_usage"), "AddCageMetering asked for the stream's usage");
                Assert.That(body, Does.StartWith("data: {").And.EndWith("data: [DONE]\n\n"));
            }
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task AnthropicMessages_IsMeteredAsARealProviderResponse_CacheWritesIncluded(bool stream)
    {
        using var cage = new CageTestContext();
        var handler = cage.HttpHandler(new ScriptedTurn { Text = "hi", Usage = Anthropic, Model = "claude-sonnet-4-6" });
        var (client, services) = Client(cage, handler);
        await using var _ = services;

        using var response = await client.PostAsync("v1/messages", Json($$"""{"model":"claude-sonnet-4-6","max_tokens":1024,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}"""));
        await response.Content.ReadAsStringAsync();

        var call = cage.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That((call.Provider, call.Model), Is.EqualTo(("anthropic", "claude-sonnet-4-6")));
            Assert.That(call.Usage, Is.EqualTo(Anthropic));
            Assert.That(call.RequestId, Does.StartWith("msg_"));
        });
    }

    [Test]
    public async Task OpenAIStream_WithoutTheUsageOption_CarriesNoUsage_AsTheRealApiDoes()
    {
        using var cage = new CageTestContext();
        var handler = new ScriptedHttpHandler(ScriptedTurn.Reply("x", 10, 5));
        using var client = new HttpClient(handler);

        using var response = await client.PostAsync("https://api.openai.com/v1/chat/completions", Json("""{"model":"gpt-4o","stream":true}"""));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(body, Does.Not.Contain("\"usage\""));
    }

    [Test]
    public void WireBodies_ReadBackThroughCagesWireParser()
    {
        var turn = new ScriptedTurn { Text = "a b", Usage = Anthropic, Model = "claude-sonnet-4-6", ToolCalls = [new ScriptedToolCall("lookup", new Dictionary<string, object?> { ["q"] = "x", ["n"] = 2 })] };
        var anthropic = Encoding.UTF8.GetBytes(WireResponses.AnthropicMessage(turn, "claude-sonnet-4-6", "msg_1"));
        var openai = Encoding.UTF8.GetBytes(WireResponses.OpenAIChat(turn with { Usage = OpenAI }, "gpt-4o", "chatcmpl-1", 0));

        Assert.Multiple(() =>
        {
            Assert.That(WireParser.DetectProtocol(anthropic), Is.EqualTo(WireProtocol.AnthropicMessages));
            Assert.That(WireParser.DetectProtocol(openai), Is.EqualTo(WireProtocol.OpenAIChat));
            Assert.That(System.Text.Json.JsonDocument.Parse(anthropic).RootElement.GetProperty("content")[1].GetProperty("input").GetProperty("n").GetInt32(), Is.EqualTo(2));
            Assert.That(System.Text.Json.JsonDocument.Parse(openai).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
        });
    }

    [Test]
    public async Task InputFromRequest_CountsTheBody()
    {
        using var cage = new CageTestContext();
        var handler = cage.HttpHandler(new ScriptedTurn { Text = "ok", InputFromRequest = true });
        var (client, services) = Client(cage, handler);
        await using var _ = services;
        var body = """{"model":"gpt-4o","messages":[{"role":"user","content":"0123456789012345"}]}""";

        using var response = await client.PostAsync("v1/chat/completions", Json(body));
        await response.Content.ReadAsStringAsync();

        Assert.That(cage.Calls.Single().Usage.Input, Is.EqualTo((handler.Requests.Single().Length + 3) / 4));
    }

    [Test]
    public async Task UnknownPath_Gets404_AndPlaysNoTurn()
    {
        var handler = new ScriptedHttpHandler(ScriptedTurn.Reply("x", 1, 1));
        using var client = new HttpClient(handler);

        using var response = await client.PostAsync("https://api.openai.com/v1/embeddings", Json("{}"));

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(handler.TurnsPlayed, Is.Zero);
        });
    }
}
