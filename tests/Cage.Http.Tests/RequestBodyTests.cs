using System.Net.Http.Json;

namespace CageNet.Http.Tests;

/// <summary>Request bodies without a Content-Length (JsonContent, PostAsJsonAsync) are inspected like any other JSON body.</summary>
public sealed class RequestBodyTests : HttpMeteringTestBase
{
    private static readonly object StreamRequest = new { model = "gpt-4o-mini", stream = true, messages = Array.Empty<object>() };

    [Test]
    public async Task PostAsJsonAsync_StreamWithoutContentLength_GetsIncludeUsageAndRecordsTheFinalUsage()
    {
        using (var response = await Client().PostAsJsonAsync("v1/chat/completions", StreamRequest))
        {
            await response.Content.ReadAsStringAsync();
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies.Single(), Is.EqualTo("""{"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,"messages":[]}"""));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(86, 1920, 0, 0, 300, 0)));
            Assert.That(call.CostUsd, Is.EqualTo(0.0003369m));
        });
    }

    [Test]
    public async Task Send_SynchronousJsonContentWithoutContentLength_GetsIncludeUsage()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent.Create(StreamRequest) };
        using (var response = Client().Send(request))
        using (var stream = response.Content.ReadAsStream())
        {
            stream.CopyTo(Stream.Null);
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies.Single(), Is.EqualTo("""{"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,"messages":[]}"""));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
        });
    }

    [Test]
    public async Task ZeroByteRead_IsNotTheEndOfTheBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using (var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            var stream = await response.Content.ReadAsStreamAsync();
            Assert.That(await stream.ReadAsync(Memory<byte>.Empty), Is.Zero);
            await new StreamReader(stream).ReadToEndAsync();
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Reported));
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(86, 1920, 0, 0, 300, 0)));
        });
    }
}

/// <summary>A body of unknown length over <see cref="CageHttpMeteringOptions.MaxRequestBodyBytes"/> is sent untouched.</summary>
public sealed class RequestBodyOverLimitTests : HttpMeteringTestBase
{
    private protected override void ConfigureMetering(CageHttpMeteringOptions options) => options.MaxRequestBodyBytes = 16;

    [Test]
    public async Task PostAsJsonAsync_BodyOverTheLimit_IsSentWholeAndNotRewritten()
    {
        using (var response = await Client().PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", stream = true, messages = Array.Empty<object>() }))
        {
            await response.Content.ReadAsStringAsync();
        }

        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies.Single(), Is.EqualTo("""{"model":"gpt-4o-mini","stream":true,"messages":[]}"""));
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
            Assert.That(call.Model, Is.EqualTo("gpt-4o-mini-2024-07-18"));
        });
    }
}
