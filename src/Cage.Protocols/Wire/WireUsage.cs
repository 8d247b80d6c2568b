namespace CageNet.Protocols;

/// <summary>
/// What one provider response (a JSON body or a whole stream) says about its usage, normalized into Cage's exclusive
/// buckets (SPEC 2.2). Holds counts, ids and short codes only: never prompt or completion text.
/// </summary>
public sealed class WireUsage
{
    /// <summary>The wire format the response was read as (inferred when it was not given).</summary>
    public WireProtocol Protocol { get; init; }

    /// <summary>The provider name used for pricing: <c>openai</c>, <c>anthropic</c>, <c>gemini</c>, <c>openrouter</c>, or empty when unknown.</summary>
    public string Provider { get; init; } = "";

    /// <summary>The model that actually served the response (<c>model</c>, <c>message.model</c>, <c>modelVersion</c>); empty when the payload did not say.</summary>
    public string Model { get; init; } = "";

    /// <summary>The provider's response id (<c>id</c>, <c>message.id</c>, <c>response.id</c>, <c>responseId</c>), when present.</summary>
    public string? ResponseId { get; init; }

    /// <summary>
    /// The exclusive token buckets. With <see cref="UsageStatus.Reported"/> they are the provider's final figures; with
    /// <see cref="UsageStatus.Missing"/> they hold what the provider reported before the stream was cut (a lower bound,
    /// often zero); with <see cref="UsageStatus.Estimated"/> the output is estimated from the text bytes seen.
    /// </summary>
    public TokenUsage Usage { get; init; }

    /// <summary>How <see cref="Usage"/> is known: reported, missing (the final usage never arrived) or estimated.</summary>
    public UsageStatus Status { get; init; }

    /// <summary>A cost the provider reported (OpenRouter <c>usage.cost</c>), which wins over the catalog; otherwise <see langword="null"/>.</summary>
    public decimal? ProviderCost { get; init; }

    /// <summary>The finish / stop reason (<c>stop</c>, <c>end_turn</c>, <c>STOP</c>, <c>max_output_tokens</c>…), when the payload carried one.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The service tier the provider reported (<c>default</c>, <c>standard</c>, <c>priority</c>, <c>flex</c>…), when present.</summary>
    public string? ServiceTier { get; init; }

    /// <summary><see langword="false"/> when the provider reported a failure (an error body or event, <c>response.failed</c>). Incomplete responses are billed and stay <see langword="true"/>.</summary>
    public bool Ok { get; init; } = true;

    /// <summary>The provider's error type or code for a failed response (never its message text).</summary>
    public string? Error { get; init; }

    /// <summary><see langword="true"/> when a stream ended before its terminal event (no usage chunk, no <c>message_delta</c>, no final Gemini chunk…).</summary>
    public bool Truncated { get; init; }

    /// <summary>
    /// A description of what was wrong with the input, when something was (a malformed event, an oversized event, an
    /// invalid count); <see langword="null"/> for a clean parse. A record with a problem is a flagged record.
    /// </summary>
    public string? Problem { get; init; }

    /// <summary>UTF-8 bytes of generated text seen (content, reasoning, tool arguments): what an estimate of the output counts.</summary>
    internal long TextBytes { get; init; }

    /// <summary>The stream carried a second response, left out of these figures (a captured file must hold one).</summary>
    internal bool HoldsSecondResponse { get; init; }
}
