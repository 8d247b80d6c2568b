using System.Buffers;
using System.Text.Json;

namespace CageNet.Protocols;

/// <summary>The kind of a JSON document or stream event, from its <c>type</c> or <c>object</c> field.</summary>
internal enum DocumentKind : byte
{
    Unknown,
    ChatCompletion,     // object: chat.completion / chat.completion.chunk
    Response,           // object: response (Responses, non-streaming)
    ResponseCreated,    // response.created / response.in_progress
    ResponseTerminal,   // response.completed / response.incomplete / response.failed
    ResponseOther,      // any other response.* event
    Message,            // Anthropic type: message (non-streaming)
    MessageStart,
    MessageDelta,
    MessageStop,
    MessageOther,       // content_block_*, ping
    Error,              // type: error
}

/// <summary>What one JSON document (a body or one stream event) says, read without building a DOM.</summary>
internal struct WireDocument
{
    public RawUsage Usage;
    public bool HasUsage;
    public DocumentKind Kind;
    public bool ChatShape;       // choices[] / object chat.completion*
    public bool GeminiShape;     // candidates[] / usageMetadata / modelVersion
    public bool OpenRouterHint;  // "provider" field, gen- ids
    public string? Id;
    public string? Model;
    public string? FinishReason;
    public string? Status;
    public string? Error;
    public string? ServiceTier;
    public string? Problem;
    public long TextBytes;

    public readonly WireProtocol Guess()
    {
        switch (Kind)
        {
            case DocumentKind.Response or DocumentKind.ResponseCreated or DocumentKind.ResponseTerminal or DocumentKind.ResponseOther:
                return WireProtocol.OpenAIResponses;
            case DocumentKind.Message or DocumentKind.MessageStart or DocumentKind.MessageDelta or DocumentKind.MessageStop or DocumentKind.MessageOther:
                return WireProtocol.AnthropicMessages;
        }

        if (GeminiShape) return WireProtocol.Gemini;
        if (ChatShape) return OpenRouterHint || Usage.Cost is not null ? WireProtocol.OpenRouter : WireProtocol.OpenAIChat;
        return HasUsage ? Usage.Guess() : WireProtocol.Unknown;
    }
}

/// <summary>Reads the few fields usage metering needs from a provider JSON document with <see cref="Utf8JsonReader"/>.</summary>
internal static class WireDocumentReader
{
    private const int MaxShortString = 128;

    /// <summary>Reads a complete JSON document. Never throws for bad input: problems land in <see cref="WireDocument.Problem"/>.</summary>
    /// <param name="json">The document.</param>
    /// <param name="document">Receives what was read (reset first).</param>
    /// <param name="wantIdentity">Whether to materialize id and model strings (a stream skips them once known).</param>
    /// <returns><see langword="false"/> when the document is not valid JSON or not an object.</returns>
    public static bool Read(ReadOnlySpan<byte> json, ref WireDocument document, bool wantIdentity = true)
    {
        document = default;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                document.Problem = reader.TokenType == JsonTokenType.None ? "empty JSON document" : $"expected a JSON object, found {Describe(reader.TokenType)}";
                return false;
            }

            ReadEnvelope(ref reader, ref document, wantIdentity, nested: false);
            if (reader.Read())
            {
                document.Problem ??= $"unexpected data after the JSON object at byte {reader.TokenStartIndex}";
                return false;
            }

            return true;
        }
        catch (JsonException ex)
        {
            document.Problem = $"malformed JSON at byte {reader.BytesConsumed}: {FirstSentence(ex.Message)}";
            return false;
        }
        catch (InvalidOperationException ex)
        {
            document.Problem = $"unreadable JSON value at byte {reader.BytesConsumed}: {FirstSentence(ex.Message)}";
            return false;
        }
    }

    /// <summary>
    /// Reads a usage object (any provider's field names) at the reader's current <c>StartObject</c>.
    /// <see cref="RawUsage.Any"/> tells whether it held at least one count (or a cost).
    /// </summary>
    public static void ReadUsage(ref Utf8JsonReader r, ref RawUsage u, ref string? problem, string path)
    {
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("prompt_tokens"u8)) u.PromptTokens = Count(ref r, ref problem, path, "prompt_tokens");
            else if (r.ValueTextEquals("completion_tokens"u8)) u.CompletionTokens = Count(ref r, ref problem, path, "completion_tokens");
            else if (r.ValueTextEquals("input_tokens"u8)) u.InputTokens = Count(ref r, ref problem, path, "input_tokens");
            else if (r.ValueTextEquals("output_tokens"u8)) u.OutputTokens = Count(ref r, ref problem, path, "output_tokens");
            else if (r.ValueTextEquals("cache_read_input_tokens"u8)) u.CacheReadInputTokens = Count(ref r, ref problem, path, "cache_read_input_tokens");
            else if (r.ValueTextEquals("cache_creation_input_tokens"u8)) u.CacheCreationInputTokens = Count(ref r, ref problem, path, "cache_creation_input_tokens");
            else if (r.ValueTextEquals("promptTokenCount"u8)) u.GeminiPrompt = Count(ref r, ref problem, path, "promptTokenCount");
            else if (r.ValueTextEquals("candidatesTokenCount"u8)) u.GeminiCandidates = Count(ref r, ref problem, path, "candidatesTokenCount");
            else if (r.ValueTextEquals("thoughtsTokenCount"u8)) u.GeminiThoughts = Count(ref r, ref problem, path, "thoughtsTokenCount");
            else if (r.ValueTextEquals("cachedContentTokenCount"u8)) u.GeminiCached = Count(ref r, ref problem, path, "cachedContentTokenCount");
            else if (r.ValueTextEquals("toolUsePromptTokenCount"u8)) u.GeminiToolUsePrompt = Count(ref r, ref problem, path, "toolUsePromptTokenCount");
            else if (r.ValueTextEquals("prompt_tokens_details"u8) || r.ValueTextEquals("input_tokens_details"u8)) ReadDetails(ref r, ref u, ref problem, path, input: true);
            else if (r.ValueTextEquals("completion_tokens_details"u8) || r.ValueTextEquals("output_tokens_details"u8)) ReadDetails(ref r, ref u, ref problem, path, input: false);
            else if (r.ValueTextEquals("cache_creation"u8)) ReadCacheCreation(ref r, ref u, ref problem, path);
            else if (r.ValueTextEquals("cost"u8)) u.Cost = Cost(ref r, ref problem, path);
            else if (r.ValueTextEquals("service_tier"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) u.ServiceTier = Reason(ref r);
                else r.Skip();
            }
            else
            {
                r.Read();
                r.Skip();
            }
        }

        // An object without a single count ({}, {"total_tokens": 5}, {"prompt_tokens": null}) reports no usage: the
        // response is flagged as usage missing, never a reported call of zero tokens (a $0 that was not billed).
        u.Any = u.HasCounts;
    }

    private static void ReadEnvelope(ref Utf8JsonReader r, ref WireDocument d, bool wantIdentity, bool nested)
    {
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("usage"u8) || r.ValueTextEquals("usageMetadata"u8))
            {
                var gemini = r.ValueTextEquals("usageMetadata"u8);
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject)
                {
                    d.GeminiShape |= gemini;
                    var usage = default(RawUsage);
                    string? problem = null;
                    ReadUsage(ref r, ref usage, ref problem, gemini ? "usageMetadata" : "usage");
                    if (problem is null && usage.Any)
                    {
                        d.Usage.MergeFrom(usage);
                        d.HasUsage = true;
                    }
                    else
                    {
                        d.Problem ??= problem;
                    }
                }
                else
                {
                    r.Skip();
                }
            }
            else if (r.ValueTextEquals("type"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String && !nested) d.Kind = KindOf(ref r);
                else if (r.TokenType == JsonTokenType.String && nested && d.Kind == DocumentKind.Unknown && r.ValueTextEquals("message"u8)) d.Kind = DocumentKind.Message;
                else r.Skip();
            }
            else if (r.ValueTextEquals("object"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String)
                {
                    if (r.ValueTextEquals("chat.completion"u8) || r.ValueTextEquals("chat.completion.chunk"u8)) d.ChatShape = true;
                    else if (r.ValueTextEquals("response"u8) && d.Kind == DocumentKind.Unknown) d.Kind = DocumentKind.Response;
                }
                else
                {
                    r.Skip();
                }
            }
            else if (r.ValueTextEquals("id"u8) || r.ValueTextEquals("responseId"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String)
                {
                    if (r.ValueSpan.StartsWith("gen-"u8)) d.OpenRouterHint = true;
                    if (wantIdentity && d.Id is null) d.Id = ShortString(ref r);
                }
                else
                {
                    r.Skip();
                }
            }
            else if (r.ValueTextEquals("model"u8) || r.ValueTextEquals("modelVersion"u8))
            {
                d.GeminiShape |= r.ValueTextEquals("modelVersion"u8);
                r.Read();
                if (r.TokenType == JsonTokenType.String && wantIdentity && d.Model is null) d.Model = ShortString(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("choices"u8))
            {
                d.ChatShape = true;
                ReadChoices(ref r, ref d, "finish_reason"u8);
            }
            else if (r.ValueTextEquals("candidates"u8))
            {
                d.GeminiShape = true;
                ReadChoices(ref r, ref d, "finishReason"u8);
            }
            else if (r.ValueTextEquals("stop_reason"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) d.FinishReason = Reason(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("delta"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject) ReadDelta(ref r, ref d);
                else if (r.TokenType == JsonTokenType.String) d.TextBytes += r.HasValueSequence ? r.ValueSequence.Length : r.ValueSpan.Length;
                else r.Skip();
            }
            else if (r.ValueTextEquals("status"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) d.Status = Reason(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("incomplete_details"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject) ReadCodeObject(ref r, ref d.FinishReason, "reason"u8);
                else r.Skip();
            }
            else if (r.ValueTextEquals("error"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject)
                {
                    ReadCodeObject(ref r, ref d.Error, "type"u8, "code"u8);
                    d.Error ??= "error";
                }
                else if (r.TokenType == JsonTokenType.String) d.Error = Reason(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("code"u8) && !nested && d.Kind == DocumentKind.Error)
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) d.Error = Reason(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("service_tier"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) d.ServiceTier = Reason(ref r);
                else r.Skip();
            }
            else if (r.ValueTextEquals("provider"u8) && !nested)
            {
                d.OpenRouterHint = true;
                r.Read();
                r.Skip();
            }
            else if (!nested && (r.ValueTextEquals("message"u8) || r.ValueTextEquals("response"u8)))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.StartObject) ReadEnvelope(ref r, ref d, wantIdentity, nested: true);
                else r.Skip();
            }
            else
            {
                r.Read();
                r.Skip();
            }
        }
    }

    private static void ReadChoices(ref Utf8JsonReader r, ref WireDocument d, ReadOnlySpan<byte> finishName)
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartArray)
        {
            r.Skip();
            return;
        }

        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.StartObject)
            {
                r.Skip();
                continue;
            }

            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals(finishName))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.String) d.FinishReason = Reason(ref r);
                    else r.Skip();
                }
                else if (r.ValueTextEquals("delta"u8) || r.ValueTextEquals("message"u8) || r.ValueTextEquals("content"u8))
                {
                    r.Read();
                    d.TextBytes += CountText(ref r);
                }
                else
                {
                    r.Read();
                    r.Skip();
                }
            }
        }
    }

    private static void ReadDelta(ref Utf8JsonReader r, ref WireDocument d)
    {
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("stop_reason"u8))
            {
                r.Read();
                if (r.TokenType == JsonTokenType.String) d.FinishReason = Reason(ref r);
                else r.Skip();
            }
            else
            {
                var text = IsTextKey(ref r);
                r.Read();
                if (text && r.TokenType == JsonTokenType.String) d.TextBytes += StringLength(ref r);
                else r.Skip();
            }
        }
    }

    /// <summary>Whether the current property name holds generated text (what an estimate counts).</summary>
    private static bool IsTextKey(ref Utf8JsonReader r) =>
        r.ValueTextEquals("content"u8) || r.ValueTextEquals("text"u8) || r.ValueTextEquals("thinking"u8) || r.ValueTextEquals("partial_json"u8)
        || r.ValueTextEquals("arguments"u8) || r.ValueTextEquals("refusal"u8) || r.ValueTextEquals("reasoning_content"u8) || r.ValueTextEquals("reasoning"u8);

    private static long StringLength(ref Utf8JsonReader r) => r.HasValueSequence ? r.ValueSequence.Length : r.ValueSpan.Length;

    /// <summary>Skips a value, summing the byte length of its string values (the text an estimate is made from).</summary>
    private static long CountText(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.String) return r.HasValueSequence ? r.ValueSequence.Length : r.ValueSpan.Length;
        if (r.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray)) return 0;
        long total = 0;
        var depth = r.CurrentDepth;
        var text = false;
        while (r.Read() && r.CurrentDepth > depth)
        {
            if (r.TokenType == JsonTokenType.PropertyName) text = IsTextKey(ref r);
            else if (r.TokenType == JsonTokenType.String && text) total += StringLength(ref r);
        }

        return total;
    }

    private static void ReadCodeObject(ref Utf8JsonReader r, ref string? target, ReadOnlySpan<byte> name1, ReadOnlySpan<byte> name2 = default)
    {
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var match = r.ValueTextEquals(name1) || (!name2.IsEmpty && r.ValueTextEquals(name2));
            r.Read();
            if (match && r.TokenType == JsonTokenType.String) target ??= Reason(ref r);
            else r.Skip();
        }
    }

    private static void ReadDetails(ref Utf8JsonReader r, ref RawUsage u, ref string? problem, string path, bool input)
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
        {
            r.Skip();
            return;
        }

        var detailPath = input ? path + ".prompt_tokens_details" : path + ".completion_tokens_details";
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (input && r.ValueTextEquals("cached_tokens"u8)) u.CachedTokens = Count(ref r, ref problem, detailPath, "cached_tokens");
            else if (input && r.ValueTextEquals("cache_write_tokens"u8)) u.CacheWriteTokens = Count(ref r, ref problem, detailPath, "cache_write_tokens");
            else if (!input && r.ValueTextEquals("reasoning_tokens"u8)) u.ReasoningTokens = Count(ref r, ref problem, detailPath, "reasoning_tokens");
            else
            {
                r.Read();
                r.Skip();
            }
        }
    }

    private static void ReadCacheCreation(ref Utf8JsonReader r, ref RawUsage u, ref string? problem, string path)
    {
        r.Read();
        if (r.TokenType != JsonTokenType.StartObject)
        {
            r.Skip();
            return;
        }

        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("ephemeral_5m_input_tokens"u8)) u.Ephemeral5m = Count(ref r, ref problem, path + ".cache_creation", "ephemeral_5m_input_tokens");
            else if (r.ValueTextEquals("ephemeral_1h_input_tokens"u8)) u.Ephemeral1h = Count(ref r, ref problem, path + ".cache_creation", "ephemeral_1h_input_tokens");
            else
            {
                r.Read();
                r.Skip();
            }
        }
    }

    /// <summary>Reads a token count: a non-negative integer, or null (absent). Anything else is a problem naming the field.</summary>
    private static long? Count(ref Utf8JsonReader r, ref string? problem, string path, string field)
    {
        r.Read();
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number when r.TryGetInt64(out var value):
                if (value >= 0) return value;
                problem ??= $"{path}.{field} is negative ({value})";
                return null;
            case JsonTokenType.Number:
                problem ??= r.TryGetDecimal(out var d) && d == decimal.Truncate(d)
                    ? $"{path}.{field} overflows a 64-bit count ({d})"
                    : $"{path}.{field} is not a whole number ({Preview(ref r)})";
                return null;
            default:
                problem ??= $"{path}.{field} is not a number (found {Describe(r.TokenType)})";
                r.Skip();
                return null;
        }
    }

    private static decimal? Cost(ref Utf8JsonReader r, ref string? problem, string path)
    {
        r.Read();
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number when r.TryGetDecimal(out var value):
                if (value >= 0) return value;
                problem ??= $"{path}.cost is negative ({value})";
                return null;
            case JsonTokenType.Number:
                problem ??= $"{path}.cost is out of range ({Preview(ref r)})";
                return null;
            default:
                problem ??= $"{path}.cost is not a number (found {Describe(r.TokenType)})";
                r.Skip();
                return null;
        }
    }

    private static DocumentKind KindOf(ref Utf8JsonReader r)
    {
        var v = r.ValueSpan;
        if (r.HasValueSequence || r.ValueIsEscaped) return DocumentKind.Unknown;
        if (v.StartsWith("response."u8))
        {
            if (v.SequenceEqual("response.completed"u8) || v.SequenceEqual("response.incomplete"u8) || v.SequenceEqual("response.failed"u8)) return DocumentKind.ResponseTerminal;
            if (v.SequenceEqual("response.created"u8) || v.SequenceEqual("response.in_progress"u8) || v.SequenceEqual("response.queued"u8)) return DocumentKind.ResponseCreated;
            return DocumentKind.ResponseOther;
        }

        if (v.SequenceEqual("message"u8)) return DocumentKind.Message;
        if (v.SequenceEqual("message_start"u8)) return DocumentKind.MessageStart;
        if (v.SequenceEqual("message_delta"u8)) return DocumentKind.MessageDelta;
        if (v.SequenceEqual("message_stop"u8)) return DocumentKind.MessageStop;
        if (v.SequenceEqual("error"u8)) return DocumentKind.Error;
        if (v.StartsWith("content_block_"u8) || v.SequenceEqual("ping"u8)) return DocumentKind.MessageOther;
        return DocumentKind.Unknown;
    }

    private static readonly string[] KnownReasons =
    [
        "stop", "length", "tool_calls", "content_filter", "function_call", "end_turn", "max_tokens", "tool_use", "stop_sequence",
        "pause_turn", "refusal", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT",
        "MALFORMED_FUNCTION_CALL", "max_output_tokens", "completed", "incomplete", "failed", "in_progress", "queued", "cancelled",
        "default", "standard", "priority", "flex", "scale", "auto", "batch", "error",
    ];

    /// <summary>A short code (finish reason, status, tier, error type): interned when known, so steady streams do not allocate.</summary>
    private static string Reason(ref Utf8JsonReader r)
    {
        if (!r.HasValueSequence && !r.ValueIsEscaped && r.ValueSpan.Length <= 32)
        {
            var span = r.ValueSpan;
            foreach (var known in KnownReasons)
            {
                if (span.Length == known.Length && Matches(span, known)) return known;
            }
        }

        return ShortString(ref r);
    }

    private static bool Matches(ReadOnlySpan<byte> span, string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (span[i] != text[i]) return false;
        }

        return true;
    }

    private static string ShortString(ref Utf8JsonReader r)
    {
        var value = r.GetString() ?? "";
        return value.Length <= MaxShortString ? value : value[..MaxShortString];
    }

    private static string Preview(ref Utf8JsonReader r)
    {
        var span = r.HasValueSequence ? r.ValueSequence.ToArray() : r.ValueSpan.ToArray();
        var text = System.Text.Encoding.UTF8.GetString(span, 0, Math.Min(span.Length, 40));
        return span.Length > 40 ? text + "…" : text;
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Number => "a number",
        JsonTokenType.Null => "null",
        _ => type.ToString(),
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message.TrimEnd('.');
    }
}
