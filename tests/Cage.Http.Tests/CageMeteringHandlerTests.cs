using System.Net;
using System.Text;

namespace CageNet.Http.Tests;

public sealed class CageMeteringHandlerTests : HttpMeteringTestBase
{
    [TestCase("v1/chat/completions", """{"model":"gpt-4.1","messages":[]}""", "openai_chat_nonstream.json", "openai", "gpt-4.1-2025-04-14")]
    [TestCase("v1/responses", """{"model":"gpt-4.1","input":"hi"}""", "openai_responses_nonstream.json", "openai", "gpt-4.1-2025-04-14")]
    [TestCase("v1/messages", """{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}""", "anthropic_messages_nonstream.json", "anthropic", "claude-sonnet-4-6")]
    [TestCase("v1beta/models/gemini-2.5-pro:generateContent", """{"contents":[]}""", "gemini_generate_content_thinking.json", "gemini", "gemini-2.5-pro")]
    public async Task PostAsync_JsonResponse_RecordsTheFixturesBucketsCostAndServedModel(string path, string request, string fixture, string provider, string model)
    {
        using var response = await Client().PostAsync(path, Json(request));
        var body = await response.Content.ReadAsByteArrayAsync();

        var call = (await CallsAsync()).Single();
        var expected = WireFixtures.Expected(fixture);
        Assert.Multiple(() =>
        {
            Assert.That(body, Is.EqualTo(WireFixtures.Bytes(fixture)), "the caller gets the body byte for byte");
            Assert.That(call.Provider, Is.EqualTo(provider));
            Assert.That(call.Model, Is.EqualTo(model));
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.Ok, Is.True);
            Assert.That(call.RequestId, Is.Not.Null.And.Not.Empty);
        });
    }

    [Test]
    public async Task PostAsync_OpenAIChatStream_AddsIncludeUsageAndRecordsTheFinalUsageChunk()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();

        var call = (await CallsAsync()).Single();
        var expected = WireFixtures.Expected("openai_chat_stream_include_usage.sse");
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies.Single(), Does.Contain("\"stream_options\":{\"include_usage\":true}"));
            Assert.That(text, Is.EqualTo(File.ReadAllText(WireFixtures.PathOf("openai_chat_stream_include_usage.sse")).Replace("\r\n", "\n", StringComparison.Ordinal)));
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
            Assert.That(call.RequestId, Is.EqualTo("chatcmpl-fixture-stream-001"));
        });
    }

    [Test]
    public async Task PostAsync_CallerSetsIncludeUsageFalse_BodyIsLeftAloneAndUsageIsMissing()
    {
        var original = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false},"messages":[]}""";
        using var response = await Client().PostAsync("v1/chat/completions", Json(original));
        await response.Content.ReadAsStringAsync();

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies.Single(), Is.EqualTo(original));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
            Assert.That(call.CostUsd, Is.Null, "unknown, never $0");
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
        });
    }

    [Test]
    public async Task AnthropicStream_RecordsInputFromMessageStartAndCumulativeOutput()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = Json("""{"model":"claude-opus-4-6","stream":true,"max_tokens":10,"messages":[]}""") };
        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using (var stream = await response.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[7]; // tiny reads split events anywhere
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }

        var call = (await CallsAsync()).Single();
        var expected = WireFixtures.Expected("anthropic_messages_stream.sse");
        Assert.Multiple(() =>
        {
            Assert.That(call.Usage, Is.EqualTo(expected.Usage));
            Assert.That(call.CostUsd, Is.EqualTo(expected.Cost));
            Assert.That(call.Model, Is.EqualTo("claude-opus-4-6"));
        });
    }

    [Test]
    public async Task GatedStream_CallerReceivesTheFirstChunkBeforeTheServerSendsTheSecond()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "gated/v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();

        // The server holds everything after the first event until we release it: a buffering meter would never return here.
        var first = new byte[64 * 1024];
        var read = await stream.ReadAsync(first).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var sawSecondBeforeRelease = Server.SecondEventWrittenBeforeRelease;
        Server.ReleaseGate.SetResult();
        var rest = await new StreamReader(stream).ReadToEndAsync();

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(first, 0, read), Does.StartWith("data: {\"id\":\"chatcmpl-fixture-stream-001\""));
            Assert.That(sawSecondBeforeRelease, Is.False);
            Assert.That(rest, Does.EndWith("data: [DONE]\n\n"));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.Usage.Output, Is.EqualTo(300));
        });
    }

    [Test]
    public async Task StreamCutBeforeUsage_RecordsMissingAndTheCallerSeesTheError()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "cut/v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        Assert.That(await stream.ReadAsync(new byte[16]), Is.GreaterThan(0));
        Server.ReleaseGate.SetResult(); // now the server drops the connection

        Assert.That(async () => await new StreamReader(stream).ReadToEndAsync(), Throws.InstanceOf<IOException>().Or.InstanceOf<HttpRequestException>());

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
            Assert.That(call.Ok, Is.False);
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
        });
    }

    [Test]
    public async Task RateLimited_UnbilledErrorIsPassedThroughAndNotRecorded()
    {
        using var response = await Client().PostAsync("limited/v1/messages", Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}"""));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Multiple(async () =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(body, Does.Contain("rate_limit_error"));
            Assert.That(await CallsAsync(), Is.Empty);
        });
    }

    [Test]
    public async Task NonProviderRoute_PassesThroughUnmetered()
    {
        using var response = await Client().PostAsync("v1/embeddings-unknown", Json("{}"));

        Assert.Multiple(async () =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(await CallsAsync(), Is.Empty);
        });
    }

    [Test]
    public async Task AmbientScope_LabelsTheHttpCall()
    {
        using (Meter.Meter("code-edit", task: "fix-bug", category: "main"))
        {
            using var response = await Client().PostAsync("v1/responses", Json("""{"model":"gpt-4.1","input":"hi"}"""));
            await response.Content.ReadAsByteArrayAsync();
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Route, Is.EqualTo("code-edit"));
            Assert.That(call.Task, Is.EqualTo("fix-bug"));
            Assert.That(call.Category, Is.EqualTo("main"));
        });
    }

    [Test]
    public async Task ResponseDisposedUnread_StillRecordsOneCall()
    {
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") })
        using (await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
        }

        var call = (await CallsAsync()).Single();
        Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
    }

    [Test]
    public async Task Send_Synchronous_IsMeteredToo()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}""") };
        using var response = Client().Send(request);
        using (var stream = response.Content.ReadAsStream())
        {
            stream.CopyTo(Stream.Null);
        }

        var call = (await CallsAsync()).Single();
        Assert.That(call.Usage, Is.EqualTo(WireFixtures.Expected("anthropic_messages_nonstream.json").Usage));
    }
}
