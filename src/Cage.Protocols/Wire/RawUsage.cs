namespace CageNet.Protocols;

/// <summary>
/// The usage counts a payload carried, under every provider's field names, before normalization. A field stays
/// <see langword="null"/> until a payload sets it; merging keeps the last value of each field (Anthropic's
/// <c>message_delta</c> usage is cumulative; Gemini repeats usage on every chunk).
/// </summary>
internal struct RawUsage
{
    // OpenAI Chat / OpenRouter
    public long? PromptTokens;
    public long? CompletionTokens;
    public long? CacheWriteTokens;     // prompt_tokens_details.cache_write_tokens (OpenRouter)

    // shared: prompt_tokens_details.cached_tokens (Chat) / input_tokens_details.cached_tokens (Responses)
    public long? CachedTokens;

    // shared: completion_tokens_details.reasoning_tokens (Chat) / output_tokens_details.reasoning_tokens (Responses)
    public long? ReasoningTokens;

    // OpenAI Responses / Anthropic
    public long? InputTokens;
    public long? OutputTokens;

    // Anthropic
    public long? CacheReadInputTokens;
    public long? CacheCreationInputTokens;
    public long? Ephemeral5m;
    public long? Ephemeral1h;

    // Gemini usageMetadata
    public long? GeminiPrompt;
    public long? GeminiCandidates;
    public long? GeminiThoughts;
    public long? GeminiCached;
    public long? GeminiToolUsePrompt;

    // OpenRouter usage.cost
    public decimal? Cost;

    // Anthropic puts service_tier inside usage
    public string? ServiceTier;

    /// <summary>Whether a usage object that set at least one count (or a cost) was read.</summary>
    public bool Any;

    /// <summary>Whether any count or the cost is set.</summary>
    public readonly bool HasCounts =>
        PromptTokens is not null || CompletionTokens is not null || CacheWriteTokens is not null || CachedTokens is not null
        || ReasoningTokens is not null || InputTokens is not null || OutputTokens is not null || CacheReadInputTokens is not null
        || CacheCreationInputTokens is not null || Ephemeral5m is not null || Ephemeral1h is not null || GeminiPrompt is not null
        || GeminiCandidates is not null || GeminiThoughts is not null || GeminiCached is not null || GeminiToolUsePrompt is not null
        || Cost is not null;

    public void MergeFrom(in RawUsage o)
    {
        if (!o.Any) return;
        Any = true;
        PromptTokens = o.PromptTokens ?? PromptTokens;
        CompletionTokens = o.CompletionTokens ?? CompletionTokens;
        CacheWriteTokens = o.CacheWriteTokens ?? CacheWriteTokens;
        CachedTokens = o.CachedTokens ?? CachedTokens;
        ReasoningTokens = o.ReasoningTokens ?? ReasoningTokens;
        InputTokens = o.InputTokens ?? InputTokens;
        OutputTokens = o.OutputTokens ?? OutputTokens;
        CacheReadInputTokens = o.CacheReadInputTokens ?? CacheReadInputTokens;
        CacheCreationInputTokens = o.CacheCreationInputTokens ?? CacheCreationInputTokens;
        Ephemeral5m = o.Ephemeral5m ?? Ephemeral5m;
        Ephemeral1h = o.Ephemeral1h ?? Ephemeral1h;
        GeminiPrompt = o.GeminiPrompt ?? GeminiPrompt;
        GeminiCandidates = o.GeminiCandidates ?? GeminiCandidates;
        GeminiThoughts = o.GeminiThoughts ?? GeminiThoughts;
        GeminiCached = o.GeminiCached ?? GeminiCached;
        GeminiToolUsePrompt = o.GeminiToolUsePrompt ?? GeminiToolUsePrompt;
        Cost = o.Cost ?? Cost;
        ServiceTier = o.ServiceTier ?? ServiceTier;
    }

    /// <summary>Which wire format these field names belong to, when the envelope did not say.</summary>
    public readonly WireProtocol Guess()
    {
        if (GeminiPrompt is not null || GeminiCandidates is not null || GeminiThoughts is not null || GeminiCached is not null) return WireProtocol.Gemini;
        if (PromptTokens is not null || CompletionTokens is not null) return Cost is not null || CacheWriteTokens is not null ? WireProtocol.OpenRouter : WireProtocol.OpenAIChat;
        if (CacheReadInputTokens is not null || CacheCreationInputTokens is not null || Ephemeral5m is not null || Ephemeral1h is not null) return WireProtocol.AnthropicMessages;
        if (InputTokens is not null || OutputTokens is not null) return CachedTokens is not null || ReasoningTokens is not null ? WireProtocol.OpenAIResponses : WireProtocol.AnthropicMessages;
        return WireProtocol.Unknown;
    }

    /// <summary>Whether any of the fields <paramref name="protocol"/> bills from is set (OpenRouter's cost counts for it).</summary>
    private readonly bool HasCountsOf(WireProtocol protocol) => protocol switch
    {
        WireProtocol.OpenAIChat or WireProtocol.OpenRouter => PromptTokens is not null || CompletionTokens is not null || Cost is not null,
        WireProtocol.OpenAIResponses => InputTokens is not null || OutputTokens is not null,
        WireProtocol.AnthropicMessages => InputTokens is not null || OutputTokens is not null || CacheReadInputTokens is not null
            || CacheCreationInputTokens is not null || Ephemeral5m is not null || Ephemeral1h is not null,
        WireProtocol.Gemini => GeminiPrompt is not null || GeminiCandidates is not null || GeminiThoughts is not null || GeminiCached is not null
            || GeminiToolUsePrompt is not null,
        _ => false,
    };

    /// <summary>
    /// The protocol's own input or output count that is absent, when one is: a usage object that names cache counts
    /// but neither <c>input_tokens</c> nor <c>output_tokens</c> would otherwise read as a call of zero tokens. Gemini
    /// leaves <c>candidatesTokenCount</c> out when nothing was generated, so only its prompt count is required.
    /// </summary>
    private readonly string? MissingPrimary(WireProtocol protocol) => protocol switch
    {
        WireProtocol.OpenAIChat or WireProtocol.OpenRouter when PromptTokens is null && CompletionTokens is null && Cost is not null => null,
        WireProtocol.OpenAIChat or WireProtocol.OpenRouter => PromptTokens is null ? "usage.prompt_tokens is missing" : CompletionTokens is null ? "usage.completion_tokens is missing" : null,
        WireProtocol.OpenAIResponses or WireProtocol.AnthropicMessages => InputTokens is null ? "usage.input_tokens is missing" : OutputTokens is null ? "usage.output_tokens is missing" : null,
        WireProtocol.Gemini => GeminiPrompt is null ? "usageMetadata.promptTokenCount is missing" : null,
        _ => null,
    };

    /// <summary>Normalizes into exclusive buckets by the rules of SPEC 2.2.</summary>
    /// <returns>A description of an inconsistency (a cached count larger than the prompt…), or null.</returns>
    public readonly string? Normalize(WireProtocol protocol, out TokenUsage usage)
    {
        usage = default;
        if (protocol != WireProtocol.Unknown && !HasCountsOf(protocol))
        {
            // The route said one format and the body carries another's counts (an Anthropic body on a chat/completions
            // route): reading it as this protocol would find no counts and report a call of zero tokens, a $0 never billed.
            var looksLike = Guess();
            return looksLike == WireProtocol.Unknown
                ? $"the usage carries none of the {protocol} token counts"
                : $"the usage carries none of the {protocol} token counts (its fields are {looksLike}'s)";
        }

        if (MissingPrimary(protocol) is { } missing)
        {
            return missing + "; the counts are not complete enough to bill";
        }

        try
        {
            checked
            {
                switch (protocol)
                {
                    case WireProtocol.OpenAIChat:
                    case WireProtocol.OpenRouter:
                    {
                        long prompt = PromptTokens ?? 0, cached = CachedTokens ?? 0, write = CacheWriteTokens ?? 0;
                        var input = prompt - cached - write;
                        if (input < 0) return $"usage.prompt_tokens_details: cached_tokens ({cached}) + cache_write_tokens ({write}) exceed prompt_tokens ({prompt})";
                        usage = new TokenUsage(input, cached, write, 0, CompletionTokens ?? 0, ReasoningTokens);
                        break;
                    }

                    case WireProtocol.OpenAIResponses:
                    {
                        long prompt = InputTokens ?? 0, cached = CachedTokens ?? 0;
                        var input = prompt - cached;
                        if (input < 0) return $"usage.input_tokens_details.cached_tokens ({cached}) exceeds input_tokens ({prompt})";
                        usage = new TokenUsage(input, cached, 0, 0, OutputTokens ?? 0, ReasoningTokens);
                        break;
                    }

                    case WireProtocol.AnthropicMessages:
                    {
                        long w5 = 0, w1 = 0;
                        if (Ephemeral5m is not null || Ephemeral1h is not null)
                        {
                            // Both shapes given: the flat total is authoritative when larger (SPEC 2.2: writes = max(flat, 5m+1h)).
                            w1 = Ephemeral1h ?? 0;
                            var nested = (Ephemeral5m ?? 0) + w1;
                            w5 = Math.Max(CacheCreationInputTokens ?? 0, nested) - w1;
                        }
                        else
                        {
                            w5 = CacheCreationInputTokens ?? 0;
                        }

                        usage = new TokenUsage(InputTokens ?? 0, CacheReadInputTokens ?? 0, w5, w1, OutputTokens ?? 0, null);
                        break;
                    }

                    case WireProtocol.Gemini:
                    {
                        long prompt = (GeminiPrompt ?? 0) + (GeminiToolUsePrompt ?? 0), cached = GeminiCached ?? 0;
                        var input = prompt - cached;
                        if (input < 0) return $"usageMetadata.cachedContentTokenCount ({cached}) exceeds promptTokenCount ({prompt})";

                        // thoughtsTokenCount is NOT inside candidatesTokenCount: both are billed as output.
                        usage = new TokenUsage(input, cached, 0, 0, (GeminiCandidates ?? 0) + (GeminiThoughts ?? 0), GeminiThoughts);
                        break;
                    }

                    default:
                        return "the payload's usage fields match no known wire format";
                }
            }
        }
        catch (OverflowException)
        {
            return "usage counts overflow a 64-bit total";
        }

        if (usage.Reasoning > usage.Output) return $"reasoning tokens ({usage.Reasoning}) exceed output tokens ({usage.Output})";

        // A bucket above what one call can hold is a corrupt count: priced, it would be an absurd cost, and the ledger
        // refuses the record anyway (TokenUsage.Validate).
        return usage.Validation() is { } invalid ? "usage: " + invalid.Message : null;
    }
}
