namespace CageNet.Protocols;

/// <summary>
/// Reads usage from provider responses: a whole JSON body, or a whole captured stream (SSE, or Gemini's JSON array).
/// For a live stream, feed the bytes to a <see cref="WireStreamObserver"/> as they arrive instead.
/// </summary>
/// <remarks>
/// Normalization follows SPEC 2.2: OpenAI Chat input = <c>prompt_tokens − cached_tokens − cache_write_tokens</c>;
/// Responses input = <c>input_tokens − cached_tokens</c>; Anthropic <c>input_tokens</c> is already exclusive and cache
/// writes come from <c>cache_creation.ephemeral_5m/1h_input_tokens</c> (a flat <c>cache_creation_input_tokens</c> alone
/// is a 5-minute write; with both, writes = max(flat, 5m+1h)); Gemini input = <c>promptTokenCount</c> (+
/// <c>toolUsePromptTokenCount</c>) − <c>cachedContentTokenCount</c> and output = <c>candidatesTokenCount +
/// thoughtsTokenCount</c>. Reasoning is always a part of output, never added again. OpenRouter's <c>usage.cost</c>
/// becomes <see cref="WireUsage.ProviderCost"/>.
/// </remarks>
public static class WireParser
{
    /// <summary>Parses a response body (JSON), or a whole captured stream (SSE or a JSON array), into normalized usage.</summary>
    /// <param name="payload">The UTF-8 bytes as received (a leading BOM is ignored).</param>
    /// <param name="protocol">The wire format, when known (from the route); <see cref="WireProtocol.Unknown"/> infers it from the payload.</param>
    /// <returns>
    /// The usage. A well-formed response without usage (an error body, a stream cut short) is returned with
    /// <see cref="UsageStatus.Missing"/> and <see cref="WireUsage.Problem"/> saying why; it is never a free $0 call.
    /// </returns>
    /// <exception cref="WireFormatException">
    /// The payload is not valid JSON (the message gives the byte offset), or a usage count is negative, fractional,
    /// larger than 64 bits or not a number (the message names the field), or a captured stream holds a second
    /// response after the first (two captures in one file are never merged into one call).
    /// </exception>
    public static WireUsage Parse(ReadOnlySpan<byte> payload, WireProtocol protocol = WireProtocol.Unknown)
    {
        if (!TryParse(payload, protocol, out var usage, out var error))
        {
            throw new WireFormatException(error);
        }

        return usage;
    }

    /// <summary>Parses like <see cref="Parse"/>, without throwing for bad input.</summary>
    /// <param name="payload">The UTF-8 bytes as received.</param>
    /// <param name="protocol">The wire format, when known.</param>
    /// <param name="usage">The usage when the payload could be read; otherwise <see langword="null"/>.</param>
    /// <param name="error">What was wrong when it could not; otherwise <see langword="null"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="usage"/> was produced.</returns>
    public static bool TryParse(ReadOnlySpan<byte> payload, WireProtocol protocol, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WireUsage? usage, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        var body = WireFraming.TrimStart(payload);
        if (body.IsEmpty)
        {
            usage = null;
            error = "the payload is empty";
            return false;
        }

        if (body[0] != (byte)'{')
        {
            // A captured stream: run it through the streaming observer in one go.
            var observer = new WireStreamObserver(protocol);
            observer.Observe(body);
            usage = observer.Complete();
            if (usage.HoldsSecondResponse)
            {
                error = "the stream holds more than one response (two captures in one file?); store one response per file";
                usage = null;
                return false;
            }

            if (observer.DocumentsObserved == 0 && usage.Problem is not null)
            {
                error = usage.Problem;
                usage = null;
                return false;
            }

            error = null;
            return true;
        }

        var document = default(WireDocument);
        if (!WireDocumentReader.Read(body, ref document) || document.Problem is not null)
        {
            usage = null;
            error = document.Problem ?? "unreadable JSON";
            return false;
        }

        var state = new WireState { Protocol = protocol };
        state.Apply(ref document, streaming: false);
        usage = state.Build(streaming: false, estimate: false);
        if (usage.Problem is not null && usage.Status == UsageStatus.Missing && state.UsageSeen)
        {
            error = usage.Problem; // the counts were present but inconsistent (cached > prompt, reasoning > output)
            usage = null;
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Recognizes the wire format from a request URI's host and path.</summary>
    /// <param name="requestUri">The request URI (absolute or relative).</param>
    /// <returns>The protocol, or <see cref="WireProtocol.Unknown"/> when the route is not a metered endpoint.</returns>
    public static WireProtocol DetectProtocol(Uri requestUri)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        return requestUri.IsAbsoluteUri
            ? DetectProtocol(requestUri.Host, requestUri.AbsolutePath)
            : DetectProtocol(null, requestUri.OriginalString.Split('?', 2)[0]);
    }

    /// <summary>Recognizes the wire format from a request's host and path.</summary>
    /// <param name="host">The host (<c>api.openai.com</c>, <c>openrouter.ai</c>…), or <see langword="null"/> when unknown.</param>
    /// <param name="path">The path (<c>/v1/chat/completions</c>, <c>/v1/responses</c>, <c>/v1/messages</c>, <c>…/models/x:generateContent</c>…).</param>
    /// <returns>
    /// <see cref="WireProtocol.OpenRouter"/> for chat completions on an <c>openrouter.ai</c> host;
    /// <see cref="WireProtocol.OpenAIChat"/> for any path ending <c>/chat/completions</c> (Azure and compatible servers too);
    /// <see cref="WireProtocol.OpenAIResponses"/> for <c>/responses</c> (and <c>/responses/{id}</c>);
    /// <see cref="WireProtocol.AnthropicMessages"/> for <c>/messages</c> (not <c>count_tokens</c> or batches);
    /// <see cref="WireProtocol.Gemini"/> for <c>:generateContent</c> and <c>:streamGenerateContent</c>;
    /// otherwise <see cref="WireProtocol.Unknown"/>.
    /// </returns>
    public static WireProtocol DetectProtocol(string? host, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var p = path.TrimEnd('/');
        if (p.EndsWith(":generateContent", StringComparison.OrdinalIgnoreCase) || p.EndsWith(":streamGenerateContent", StringComparison.OrdinalIgnoreCase))
        {
            return WireProtocol.Gemini;
        }

        if (p.EndsWith("/chat/completions", StringComparison.OrdinalIgnoreCase))
        {
            return host is not null && (host.Equals("openrouter.ai", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".openrouter.ai", StringComparison.OrdinalIgnoreCase))
                ? WireProtocol.OpenRouter
                : WireProtocol.OpenAIChat;
        }

        if (p.EndsWith("/responses", StringComparison.OrdinalIgnoreCase) || IsResponseById(p))
        {
            return WireProtocol.OpenAIResponses;
        }

        if (p.EndsWith("/messages", StringComparison.OrdinalIgnoreCase) && !p.Contains("/threads/", StringComparison.OrdinalIgnoreCase))
        {
            return WireProtocol.AnthropicMessages;
        }

        return WireProtocol.Unknown;
    }

    /// <summary>Recognizes the wire format from a response body's shape (a JSON body or the start of a stream).</summary>
    /// <param name="payload">The bytes (a JSON body, or at least the first complete SSE event).</param>
    /// <returns>The protocol, or <see cref="WireProtocol.Unknown"/> when the shape matches none.</returns>
    public static WireProtocol DetectProtocol(ReadOnlySpan<byte> payload)
    {
        var body = WireFraming.TrimStart(payload);
        if (body.IsEmpty) return WireProtocol.Unknown;
        if (body[0] == (byte)'{')
        {
            var document = default(WireDocument);
            WireDocumentReader.Read(body, ref document, wantIdentity: false);
            return document.Guess();
        }

        var observer = new WireStreamObserver();
        observer.Observe(body);
        return observer.Protocol;
    }

    /// <summary>Whether a request path asks for a stream (Gemini <c>:streamGenerateContent</c>); other protocols say so in the request body (<c>"stream": true</c>).</summary>
    /// <param name="path">The request path.</param>
    /// <returns><see langword="true"/> for a streaming Gemini route.</returns>
    public static bool IsStreamingRoute(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.TrimEnd('/').EndsWith(":streamGenerateContent", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsResponseById(string path)
    {
        // GET /v1/responses/{id} returns a response object too.
        var slash = path.LastIndexOf('/');
        return slash > 0 && path.AsSpan(0, slash).EndsWith("/responses", StringComparison.OrdinalIgnoreCase) && path.AsSpan(slash + 1).StartsWith("resp", StringComparison.Ordinal);
    }
}
