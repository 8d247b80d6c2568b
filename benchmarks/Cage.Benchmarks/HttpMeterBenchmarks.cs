using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using CageNet.Configuration;
using CageNet.Http;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CageNet.Benchmarks;

/// <summary>
/// What the HttpClient meter adds to a provider call on loopback (SPEC 9 / issue 6: ≤ 100 µs at p50): the same
/// request to a Kestrel server on 127.0.0.1, with and without <see cref="CageMeteringHandler"/>, for a JSON response
/// and for an SSE stream read to its end. The sink discards, so what is measured is the handler, not a disk.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class HttpMeterBenchmarks
{
    private const string ChatJson = """{"id":"chatcmpl-bench","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}""";
    private static readonly string[] ChatStream =
    [
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}""" + "\n\n",
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}""" + "\n\n",
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}],"usage":null}""" + "\n\n",
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}""" + "\n\n",
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920}}}""" + "\n\n",
        "data: [DONE]\n\n",
    ];

    private static readonly byte[] RequestJson = Encoding.UTF8.GetBytes("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}""");
    private static readonly byte[] StreamRequestJson = Encoding.UTF8.GetBytes("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}""");

    private WebApplication _server = null!;
    private CageMeter _meter = null!;
    private HttpClient _plain = null!;
    private HttpClient _metered = null!;
    private HttpClient _memoryPlain = null!;
    private HttpClient _memoryMetered = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = StartProvider(out var address);
        var json = Encoding.UTF8.GetBytes(ChatJson);
        _meter = new CageMeter(new DiscardSink(), PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions { QueueCapacity = 1 << 20 });
        _plain = new HttpClient(new SocketsHttpHandler()) { BaseAddress = address };
        _metered = new HttpClient(new CageMeteringHandler(_meter) { InnerHandler = new SocketsHttpHandler() }) { BaseAddress = address };
        // The same responses from an in-memory handler: the handler's own cost, without loopback noise.
        var sse = Encoding.UTF8.GetBytes(string.Concat(ChatStream));
        _memoryPlain = new HttpClient(new CannedHandler(json, sse)) { BaseAddress = address };
        _memoryMetered = new HttpClient(new CageMeteringHandler(_meter) { InnerHandler = new CannedHandler(json, sse) }) { BaseAddress = address };
        // Warm both connections and the price cache.
        Json(_plain).GetAwaiter().GetResult();
        Json(_metered).GetAwaiter().GetResult();
        Stream(_metered).GetAwaiter().GetResult();
    }

    /// <summary>A Kestrel server on 127.0.0.1 that plays OpenAI Chat: the JSON body, or the 6-event stream when asked.</summary>
    internal static WebApplication StartProvider(out Uri address)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var server = builder.Build();
        var json = Encoding.UTF8.GetBytes(ChatJson);
        var events = ChatStream.Select(Encoding.UTF8.GetBytes).ToArray();
        server.MapPost("/v1/chat/completions", async context =>
        {
            await using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (body.Length > 40 && body.GetBuffer().AsSpan(0, (int)body.Length).IndexOf("\"stream\":true"u8) >= 0)
            {
                context.Response.ContentType = "text/event-stream";
                foreach (var e in events)
                {
                    await context.Response.Body.WriteAsync(e);
                    await context.Response.Body.FlushAsync();
                }

                return;
            }

            context.Response.ContentType = "application/json";
            context.Response.ContentLength = json.Length;
            await context.Response.Body.WriteAsync(json);
        });
        server.StartAsync().GetAwaiter().GetResult();
        address = new Uri(server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");

        return server;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain.Dispose();
        _metered.Dispose();
        _memoryPlain.Dispose();
        _memoryMetered.Dispose();
        _meter.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.StopAsync().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A JSON chat completion through a plain HttpClient.</summary>
    [Benchmark(Baseline = true)]
    public Task<int> JsonPlain() => Json(_plain);

    /// <summary>The same through the Cage metering handler.</summary>
    [Benchmark]
    public Task<int> JsonMetered() => Json(_metered);

    /// <summary>A 6-event SSE chat stream read to its end through a plain HttpClient.</summary>
    [Benchmark]
    public Task<int> StreamPlain() => Stream(_plain);

    /// <summary>The same through the Cage metering handler (which also adds <c>stream_options.include_usage</c>).</summary>
    [Benchmark]
    public Task<int> StreamMetered() => Stream(_metered);

    /// <summary>A JSON chat completion from an in-memory handler (no network): the baseline for the handler's own cost.</summary>
    [Benchmark]
    public Task<int> InMemoryJsonPlain() => Json(_memoryPlain);

    /// <summary>The same through the Cage metering handler.</summary>
    [Benchmark]
    public Task<int> InMemoryJsonMetered() => Json(_memoryMetered);

    /// <summary>The SSE stream from an in-memory handler.</summary>
    [Benchmark]
    public Task<int> InMemoryStreamPlain() => Stream(_memoryPlain);

    /// <summary>The same through the Cage metering handler.</summary>
    [Benchmark]
    public Task<int> InMemoryStreamMetered() => Stream(_memoryMetered);

    internal static async Task<int> Json(HttpClient client)
    {
        using var content = new ByteArrayContent(RequestJson);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    internal static async Task<int> Stream(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new ByteArrayContent(StreamRequestJson) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        var total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    private sealed class CannedHandler(byte[] json, byte[] sse) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            var streaming = body.AsSpan().IndexOf("\"stream\":true"u8) >= 0;
            var content = new ByteArrayContent(streaming ? sse : json);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(streaming ? "text/event-stream" : "application/json");
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = request };
        }
    }

    internal sealed class DiscardSink : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
