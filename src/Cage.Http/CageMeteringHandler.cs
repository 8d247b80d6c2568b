using System.Net.Http.Headers;
using CageNet.Budgets;
using CageNet.Protocols;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Http;

/// <summary>
/// An HttpClient handler that meters LLM provider calls: it recognizes OpenAI Chat / Responses, Anthropic Messages,
/// Gemini and OpenRouter requests by route, watches the response body as the caller reads it (a stream is passed
/// through chunk by chunk, never buffered), and records one call per round-trip with the served model, the request id
/// and the normalized usage. Other requests pass through untouched.
/// </summary>
/// <remarks>
/// Register it with <see cref="CageHttpClientBuilderExtensions.AddCageMetering"/>, or construct it around your own
/// inner handler. Fail-open: a metering fault is logged and the call proceeds. Bodies, keys and headers are never
/// stored or logged; only counts, ids and the model name are.
/// </remarks>
public sealed class CageMeteringHandler : DelegatingHandler
{
    private readonly ICageMeter _meter;
    private readonly CageHttpMeteringOptions _options;
    private readonly ILogger _logger;
    private readonly WireStreamOptions _wireOptions;

    /// <summary>Creates the handler; set <see cref="DelegatingHandler.InnerHandler"/> when not used through <c>IHttpClientBuilder</c>.</summary>
    /// <param name="meter">The meter; default <see cref="Cage.Instance"/>.</param>
    /// <param name="options">The options; defaults when <see langword="null"/>.</param>
    /// <param name="logger">The logger; none when <see langword="null"/>.</param>
    /// <param name="budget">
    /// The budget guard: when given, each metered request reserves an estimate before it is sent (a refusal throws
    /// <see cref="BudgetExceededException"/> and nothing is sent), and subscription-utilization response headers feed its
    /// estimator. Default none.
    /// </param>
    public CageMeteringHandler(ICageMeter? meter = null, CageHttpMeteringOptions? options = null, ILogger? logger = null, BudgetGuard? budget = null)
    {
        Budget = budget;
        _meter = meter ?? Cage.Instance;
        _options = options ?? new CageHttpMeteringOptions();
        _logger = logger ?? NullLogger.Instance;
        _wireOptions = new WireStreamOptions { EstimateWhenMissing = _options.EstimateWhenUsageMissing };
    }

    internal BudgetGuard? Budget { get; }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var protocol = Recognize(request);
        if (protocol == WireProtocol.Unknown)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var facts = await InspectAsync(request, protocol, cancellationToken).ConfigureAwait(false);
        var exchange = Begin(request, protocol, facts);
        if (exchange is not null)
        {
            await exchange.AdmitAsync(cancellationToken).ConfigureAwait(false);
        }

        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            exchange?.Abandon();
            throw;
        }

        return exchange is null ? response : exchange.Attach(response);
    }

    /// <inheritdoc />
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var protocol = Recognize(request);
        if (protocol == WireProtocol.Unknown)
        {
            return base.Send(request, cancellationToken);
        }

        var facts = Inspect(request, protocol, cancellationToken);
        var exchange = Begin(request, protocol, facts);
        exchange?.Admit(cancellationToken);

        HttpResponseMessage response;
        try
        {
            response = base.Send(request, cancellationToken);
        }
        catch
        {
            exchange?.Abandon();
            throw;
        }

        return exchange is null ? response : exchange.Attach(response);
    }

    private WireProtocol Recognize(HttpRequestMessage request)
    {
        try
        {
            if (MeterScope.InMeteredRoundTrip)
            {
                return WireProtocol.Unknown; // a UseCage() chat client already meters and budget-checks this round-trip
            }

            // Only POSTs create model calls; a GET of /v1/responses/{id} re-reads a stored response and is not a new call.
            return request.Method == HttpMethod.Post && request.RequestUri is { } uri
                ? WireParser.DetectProtocol(uri)
                : WireProtocol.Unknown;
        }
#pragma warning disable CA1031 // Fail-open: an odd URI is simply not metered.
        catch (Exception)
#pragma warning restore CA1031
        {
            return WireProtocol.Unknown;
        }
    }

    private async ValueTask<RequestFacts> InspectAsync(HttpRequestMessage request, WireProtocol protocol, CancellationToken cancellationToken)
    {
        if (!ShouldInspect(request.Content))
        {
            return default;
        }

        try
        {
            var content = request.Content!;
            byte[] body;
            if (content.Headers.ContentLength is not null)
            {
                // HttpContent buffers itself on read, so the body can still be sent afterwards.
                body = await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // No length (JsonContent, PostAsJsonAsync): serialize it once into a bounded buffer, and send that buffer.
                using var buffer = new BoundedBuffer(_options.MaxRequestBodyBytes);
                await content.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                body = buffer.Complete();
                Replace(request, body);
            }

            return Apply(request, protocol, body);
        }
        catch (RequestBodyTooLargeException)
        {
            return default; // larger than MaxRequestBodyBytes: sent as is (its content serializes again when sent)
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RequestInspectionFailed(_logger, ex, request.RequestUri?.Host ?? "");
            return default;
        }
    }

    private RequestFacts Inspect(HttpRequestMessage request, WireProtocol protocol, CancellationToken cancellationToken)
    {
        // Synchronously, only in-memory bodies and bodies of unknown length (serialized here into a bounded buffer) are
        // read: reading a stream body here would consume it.
        if (!ShouldInspect(request.Content))
        {
            return default;
        }

        try
        {
            var content = request.Content!;
            byte[] body;
            if (content is ByteArrayContent)
            {
                using var stream = content.ReadAsStream(cancellationToken);
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                body = copy.ToArray();
            }
            else if (content.Headers.ContentLength is null)
            {
                using var buffer = new BoundedBuffer(_options.MaxRequestBodyBytes);
                content.CopyTo(buffer, null, cancellationToken);
                body = buffer.Complete();
                Replace(request, body);
            }
            else
            {
                return default;
            }

            return Apply(request, protocol, body);
        }
        catch (RequestBodyTooLargeException)
        {
            return default;
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RequestInspectionFailed(_logger, ex, request.RequestUri?.Host ?? "");
            return default;
        }
    }

    /// <summary>
    /// A JSON body with a length within <see cref="CageHttpMeteringOptions.MaxRequestBodyBytes"/>, or a JSON body of
    /// unknown length that can be serialized again (not a <see cref="StreamContent"/>: without a length its stream is not
    /// seekable, and reading it would consume it).
    /// </summary>
    private bool ShouldInspect(HttpContent? content) =>
        content is not null
        && content.Headers.ContentType?.MediaType is { } media && media.Contains("json", StringComparison.OrdinalIgnoreCase)
        && (content.Headers.ContentLength is { } length ? length <= _options.MaxRequestBodyBytes : content is not StreamContent);

    /// <summary>Replaces the request's body with <paramref name="body"/>, keeping its content headers (the length is recomputed).</summary>
    private static void Replace(HttpRequestMessage request, byte[] body)
    {
        var old = request.Content!;
        var replacement = new ByteArrayContent(body);
        foreach (var header in old.Headers)
        {
            if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                replacement.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        request.Content = replacement;
        old.Dispose();
    }

    private RequestFacts Apply(HttpRequestMessage request, WireProtocol protocol, byte[] body)
    {
        var facts = RequestInspector.Read(body);
        if (_options.AddStreamUsageOption && RequestInspector.NeedsUsageOption(protocol, facts))
        {
            Replace(request, RequestInspector.WithUsageOption(body));
        }

        return facts;
    }

    private MeteredExchange? Begin(HttpRequestMessage request, WireProtocol protocol, in RequestFacts facts)
    {
        try
        {
            var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.AbsolutePath : request.RequestUri.OriginalString;
            var model = facts.Model ?? (protocol == WireProtocol.Gemini ? RequestInspector.ModelFromPath(path) : null);
            var stream = facts.Stream || WireParser.IsStreamingRoute(path);
            var route = MeterScope.Current?.Route ?? _options.DefaultRoute;
            var scope = _meter.Meter(route, category: MeterScope.Current?.Category is null ? _options.Category : null);
            return new MeteredExchange(this, scope, protocol, model, stream, facts, request.RequestUri.IsAbsoluteUri ? request.RequestUri.Host : "");
        }
#pragma warning disable CA1031 // Fail-open.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.MeteringFailed(_logger, ex, request.RequestUri?.Host ?? "");
            return null;
        }
    }

    internal ILogger Logger => _logger;

    internal ICageMeter Meter => _meter;

    internal WireStreamOptions WireOptions => _wireOptions;

    internal static void CopyHeaders(HttpContentHeaders from, HttpContentHeaders to)
    {
        foreach (var header in from)
        {
            to.TryAddWithoutValidation(header.Key, header.Value);
        }
    }
}
