using System.Buffers;
using System.Net;
using System.Text.Json;
using CageNet.Budgets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CageNet.Proxy;

/// <summary>
/// Forwards one request to its provider through the metering handler and copies the response back as it arrives: each
/// read from the upstream is written and flushed to the client at once, so the first byte is never held back.
/// </summary>
internal sealed partial class ProxyForwarder(HttpMessageInvoker upstream, CageProxyOptions options, ICageMeter meter, ILogger logger)
{
    /// <summary>The label headers: read into the call's scope, never forwarded.</summary>
    internal const string LabelPrefix = "X-Cage-";

    /// <summary>After <see cref="LabelPrefix"/>: a free label such as <c>X-Cage-Label-Team</c>.</summary>
    internal const string FreeLabelPrefix = "Label-";

    private const int CopyBufferBytes = 16 * 1024;

    // Headers that describe one connection, not the message (RFC 9110 7.6.1), and the ones the proxy sets itself.
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Host",
    };

    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        if (!TryResolve(context.Request.Path.Value ?? "/", out var provider, out var target))
        {
            await WriteErrorAsync(context, "openai", StatusCodes.Status404NotFound, "not_found",
                "cage proxy: start the path with /openai, /anthropic, /gemini or /openrouter (or use /v1/… for OpenAI, /v1/messages for Anthropic)").ConfigureAwait(false);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(target + context.Request.QueryString.Value));
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(context.Request.Body);
        }

        var labels = CopyRequestHeaders(context.Request, request);
        using var scope = meter.Meter(labels.Route ?? options.DefaultRoute, labels.Task ?? options.DefaultTask, labels.Session ?? options.DefaultSession, labels.Agent, labels.User);
        foreach (var (name, value) in labels.Free ?? [])
        {
            scope.Tag(name, value); // X-Cage-Label-Team: team-a → the label team, which routes budget nodes (org/team-a)
        }

        HttpResponseMessage response;
        try
        {
            response = await upstream.SendAsync(request, aborted).ConfigureAwait(false);
        }
        catch (BudgetExceededException ex)
        {
            await WriteErrorAsync(context, provider, StatusCodes.Status429TooManyRequests, BudgetRefusal.BudgetExceeded, ex.Refusal.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return; // the client went away before the upstream answered
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            LogUpstreamFailed(logger, ex, request.RequestUri!.Host);
            await WriteErrorAsync(context, provider, StatusCodes.Status502BadGateway, "upstream_unreachable",
                $"cage proxy: the {provider} upstream {request.RequestUri!.GetLeftPart(UriPartial.Authority)} did not answer ({ex.GetType().Name.Replace("Exception", "", StringComparison.Ordinal)})").ConfigureAwait(false);
            return;
        }

        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            CopyResponseHeaders(response, context.Response);
            var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
            try
            {
                var body = await response.Content.ReadAsStreamAsync(aborted).ConfigureAwait(false);
                await using (body.ConfigureAwait(false))
                {
                    await context.Response.StartAsync(aborted).ConfigureAwait(false);
                    int read;
                    while ((read = await body.ReadAsync(buffer, aborted).ConfigureAwait(false)) > 0)
                    {
                        await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), aborted).ConfigureAwait(false);
                        await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
            {
                // The client went away, or the upstream cut the stream: the meter bills what was reported, and the
                // client sees the cut as the upstream made it.
                LogStreamCut(logger, request.RequestUri!.Host);
                context.Abort();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// The upstream address for a path: <c>/{provider}/rest</c> goes to that provider's upstream; without a prefix,
    /// <c>/v1/messages…</c> goes to Anthropic, <c>/v1beta…</c> to Gemini and anything else to OpenAI (so a client whose
    /// base URL is the proxy's root with <c>/v1</c> works unchanged).
    /// </summary>
    internal bool TryResolve(string path, out string provider, out string target)
    {
        var first = path.AsSpan().TrimStart('/');
        var slash = first.IndexOf('/');
        var head = slash < 0 ? first : first[..slash];
        foreach (var name in CageProxyOptions.Providers)
        {
            if (head.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                provider = name;
                var rest = slash < 0 ? "" : first[slash..].ToString();
                return Target(name, rest, out target);
            }
        }

        provider = path.StartsWith("/v1/messages", StringComparison.OrdinalIgnoreCase) ? "anthropic"
            : path.StartsWith("/v1beta", StringComparison.OrdinalIgnoreCase) ? "gemini"
            : "openai";
        return Target(provider, path, out target);
    }

    private bool Target(string provider, string rest, out string target)
    {
        if (!options.Upstreams.TryGetValue(provider, out var upstream))
        {
            target = "";
            return false;
        }

        target = upstream.GetLeftPart(UriPartial.Path).TrimEnd('/') + rest;
        return true;
    }

    private static Labels CopyRequestHeaders(HttpRequest from, HttpRequestMessage to)
    {
        var labels = default(Labels);
        foreach (var (name, values) in from.Headers)
        {
            if (name.StartsWith(LabelPrefix, StringComparison.OrdinalIgnoreCase))
            {
                labels = labels.With(name.AsSpan(LabelPrefix.Length), values.ToString());
                continue;
            }

            // Accept-Encoding is dropped so the upstream answers uncompressed and the meter can read the usage.
            if (HopByHop.Contains(name) || name.Equals("Accept-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var all = values.ToArray();
            if (!to.Headers.TryAddWithoutValidation(name, all) && to.Content is not null)
            {
                to.Content.Headers.TryAddWithoutValidation(name, all);
            }
        }

        return labels;
    }

    private static void CopyResponseHeaders(HttpResponseMessage from, HttpResponse to)
    {
        foreach (var (name, values) in from.Headers)
        {
            if (!HopByHop.Contains(name))
            {
                to.Headers[name] = values.ToArray();
            }
        }

        foreach (var (name, values) in from.Content.Headers)
        {
            to.Headers[name] = values.ToArray();
        }
    }

    /// <summary>An error in the provider's own JSON shape, so an SDK and the agent using it read it as that provider's error.</summary>
    internal static async Task WriteErrorAsync(HttpContext context, string provider, int status, string type, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        if (status == StatusCodes.Status429TooManyRequests)
        {
            context.Response.Headers["x-should-retry"] = "false"; // a budget does not reset in a retry's back-off
        }

        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            switch (provider)
            {
                case "anthropic":
                    w.WriteString("type", "error");
                    w.WriteStartObject("error");
                    w.WriteString("type", type);
                    w.WriteString("message", message);
                    w.WriteEndObject();
                    break;
                case "gemini":
                    w.WriteStartObject("error");
                    w.WriteNumber("code", status);
                    w.WriteString("message", message);
                    w.WriteString("status", status == StatusCodes.Status429TooManyRequests ? "RESOURCE_EXHAUSTED" : ((HttpStatusCode)status).ToString().ToUpperInvariant());
                    w.WriteStartArray("details");
                    w.WriteStartObject();
                    w.WriteString("reason", type);
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                    break;
                default:
                    w.WriteStartObject("error");
                    w.WriteString("message", message);
                    w.WriteString("type", type);
                    w.WriteNull("param");
                    w.WriteString("code", type);
                    w.WriteEndObject();
                    break;
            }

            w.WriteEndObject();
        }

        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "cage proxy: the upstream {Host} failed")]
    private static partial void LogUpstreamFailed(ILogger logger, Exception exception, string host);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "cage proxy: a response from {Host} was cut before its end")]
    private static partial void LogStreamCut(ILogger logger, string host);

    /// <summary>The call's labels from the <c>X-Cage-*</c> headers; <c>X-Cage-Label-{name}</c> gives the free label <c>name</c> (lower case).</summary>
    private readonly record struct Labels(string? Route, string? Task, string? Session, string? Agent, string? User, Dictionary<string, string>? Free = null)
    {
        public Labels With(ReadOnlySpan<char> name, string value)
        {
            var v = value.Length == 0 ? null : value;
            if (name.StartsWith(FreeLabelPrefix, StringComparison.OrdinalIgnoreCase) && name.Length > FreeLabelPrefix.Length)
            {
                if (v is null) return this;
                var free = Free ?? new Dictionary<string, string>(StringComparer.Ordinal);
                free[name[FreeLabelPrefix.Length..].ToString().ToLowerInvariant()] = v;
                return this with { Free = free };
            }

            return name switch
            {
                _ when name.Equals("Route", StringComparison.OrdinalIgnoreCase) => this with { Route = v },
                _ when name.Equals("Task", StringComparison.OrdinalIgnoreCase) => this with { Task = v },
                _ when name.Equals("Session", StringComparison.OrdinalIgnoreCase) => this with { Session = v },
                _ when name.Equals("Agent", StringComparison.OrdinalIgnoreCase) => this with { Agent = v },
                _ when name.Equals("User", StringComparison.OrdinalIgnoreCase) => this with { User = v },
                _ => this,
            };
        }
    }
}
