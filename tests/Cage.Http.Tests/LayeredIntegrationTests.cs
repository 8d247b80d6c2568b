using System.Text.Json;
using CageNet.Extensions.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Http.Tests;

/// <summary>UseCage() over a chat client whose HttpClient also has AddCageMetering(): each round-trip is recorded once.</summary>
public sealed class LayeredIntegrationTests : HttpMeteringTestBase
{
    [Test]
    public async Task ChatClientOverMeteredHttpClient_RecordsEachRoundTripOnce()
    {
        var chat = new RestChatClient(Client()).AsBuilder().UseFunctionInvocation().UseCage().Build(Services);

        var response = await chat.GetResponseAsync("hello");

        var calls = await CallsAsync();
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies, Has.Count.EqualTo(1));
            Assert.That(response.Usage?.InputTokenCount, Is.EqualTo(19));
            Assert.That(Meter.Statistics.Enqueued, Is.EqualTo(1), "one record handed to the ledger, not a second one from the HTTP handler");
            Assert.That(calls, Has.Count.EqualTo(1));
            Assert.That(calls[0].Route, Is.EqualTo("chat"), "recorded by the chat client (the HTTP meter's default route is http)");
        });
    }

    [Test]
    public async Task MeteredHttpClientAlone_StillRecordsOutsideAChatClient()
    {
        using (var response = await Client().PostAsync("v1/chat/completions", Json("""{"model":"gpt-4.1","messages":[]}""")))
        {
            await response.Content.ReadAsByteArrayAsync();
        }

        var calls = await CallsAsync();
        Assert.That(calls.Single().Route, Is.EqualTo("http"));
    }

    /// <summary>A minimal "SDK": posts an OpenAI chat request over the given HttpClient and maps its usage.</summary>
    private sealed class RestChatClient(HttpClient http) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            using var response = await http.PostAsync("v1/chat/completions", Json("""{"model":"gpt-4.1","messages":[]}"""), cancellationToken);
            using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            var root = json.RootElement;
            var usage = root.GetProperty("usage");
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, root.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()))
            {
                ModelId = root.GetProperty("model").GetString(),
                ResponseId = root.GetProperty("id").GetString(),
                Usage = new UsageDetails { InputTokenCount = usage.GetProperty("prompt_tokens").GetInt64(), OutputTokenCount = usage.GetProperty("completion_tokens").GetInt64() },
            };
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("openai") : null;

        public void Dispose()
        {
        }
    }
}
