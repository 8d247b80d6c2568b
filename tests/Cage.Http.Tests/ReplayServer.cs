using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CageNet.Http.Tests;

/// <summary>
/// A real Kestrel server on 127.0.0.1:0 that plays provider endpoints by replaying the shared wire fixtures. Streams
/// are written event by event with a flush after each; the gated route holds every event after the first until the
/// test releases it.
/// </summary>
internal sealed class ReplayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ReplayServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The bodies the "provider" received, in order (the test inspects what the handler sent).</summary>
    public List<string> RequestBodies { get; } = [];

    /// <summary>The request headers the "provider" received, in order (name → values joined by ", ").</summary>
    public List<Dictionary<string, string>> RequestHeaders { get; } = [];

    /// <summary>Set by the test once it has read the gated stream's first event; the server then sends the rest.</summary>
    public TaskCompletionSource ReleaseGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when the gated route has flushed its first event and starts waiting.</summary>
    public TaskCompletionSource FirstEventSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether the server had already written the gated stream's second event when the test released the gate.</summary>
    public bool SecondEventWrittenBeforeRelease { get; private set; }

    public static async Task<ReplayServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new ReplayServer(app);
        server.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return server;
    }

    private void Map(WebApplication app)
    {
        app.MapPost("/v1/chat/completions", async context =>
        {
            var body = await ReadBodyAsync(context);
            if (IsStream(body))
            {
                var events = WireFixtures.Events("openai_chat_stream_include_usage.sse");
                // Like OpenAI: the usage chunk is only sent when the request asked for it.
                var withUsage = body.Contains("\"include_usage\":true", StringComparison.Ordinal);
                await StreamAsync(context, events.Where(e => withUsage || !e.Contains("\"choices\":[],", StringComparison.Ordinal)));
                return;
            }

            await JsonAsync(context, "openai_chat_nonstream.json");
        });
        app.MapPost("/v1/responses", async context =>
        {
            await ReadBodyAsync(context);
            await JsonAsync(context, "openai_responses_nonstream.json");
        });
        app.MapPost("/v1/messages", async context =>
        {
            var body = await ReadBodyAsync(context);
            context.Response.Headers["request-id"] = "req_fixture_anthropic";
            context.Response.Headers["anthropic-ratelimit-unified-5h-utilization"] = "0.21";
            context.Response.Headers["anthropic-ratelimit-unified-7d-utilization"] = "0.68";
            if (IsStream(body))
            {
                await StreamAsync(context, WireFixtures.Events("anthropic_messages_stream.sse"));
                return;
            }

            await JsonAsync(context, "anthropic_messages_nonstream.json");
        });
        app.MapPost("/v1beta/models/{**rest}", async context =>
        {
            await ReadBodyAsync(context);
            await JsonAsync(context, "gemini_generate_content_thinking.json");
        });
        app.MapPost("/limited/v1/messages", async context =>
        {
            await ReadBodyAsync(context);
            context.Response.StatusCode = 429;
            context.Response.Headers["retry-after"] = "60";
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}""");
        });
        app.MapPost("/gated/v1/chat/completions", async context =>
        {
            await ReadBodyAsync(context);
            var events = WireFixtures.Events("openai_chat_stream_include_usage.sse");
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync(events[0]);
            await context.Response.Body.FlushAsync();
            FirstEventSent.TrySetResult();
            await ReleaseGate.Task.WaitAsync(TimeSpan.FromSeconds(30));
            foreach (var e in events.Skip(1))
            {
                await context.Response.WriteAsync(e);
                SecondEventWrittenBeforeRelease |= !ReleaseGate.Task.IsCompleted;
                await context.Response.Body.FlushAsync();
            }
        });
        app.MapPost("/cut/v1/chat/completions", async context =>
        {
            await ReadBodyAsync(context);
            var events = WireFixtures.Events("openai_chat_stream_include_usage.sse");
            context.Response.ContentType = "text/event-stream";
            foreach (var e in events.Take(2))
            {
                await context.Response.WriteAsync(e);
                await context.Response.Body.FlushAsync();
            }

            await ReleaseGate.Task.WaitAsync(TimeSpan.FromSeconds(30));
            context.Abort(); // the connection drops before the usage chunk
        });
    }

    private async Task<string> ReadBodyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        lock (RequestBodies)
        {
            RequestBodies.Add(body);
            RequestHeaders.Add(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        }

        return body;
    }

    private static bool IsStream(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True;
    }

    private static async Task StreamAsync(HttpContext context, IEnumerable<string> events)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers["x-request-id"] = "req_fixture_stream";
        foreach (var e in events)
        {
            await context.Response.WriteAsync(e);
            await context.Response.Body.FlushAsync();
        }
    }

    private static async Task JsonAsync(HttpContext context, string fixture)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-request-id"] = "req_fixture_json";
        await context.Response.Body.WriteAsync(WireFixtures.Bytes(fixture));
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseGate.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
