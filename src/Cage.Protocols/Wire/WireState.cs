namespace CageNet.Protocols;

/// <summary>What a response has said so far, merged document by document (one for a body, one per event for a stream).</summary>
internal struct WireState
{
    public WireProtocol Protocol;
    public RawUsage Usage;
    public bool UsageSeen;
    public bool TerminalSeen;   // the event that carries final usage (or the end of a non-streaming body)
    public bool DoneSeen;       // data: [DONE]
    public bool EndSeen;        // the stream's own end marker: [DONE], message_stop, a terminal response event, a Gemini finishReason
    public bool Failed;
    public string? Id;
    public string? Model;
    public string? FinishReason;
    public string? ServiceTier;
    public string? Error;
    public string? Problem;
    public bool SecondResponse; // a stream that carries another response after (or beside) the first: the rest is not merged in
    public int Documents;
    public int BadDocuments;
    public long TextBytes;

    public readonly bool WantsIdentity => Id is null || Model is null;

    public void Apply(ref WireDocument d, bool streaming)
    {
        if (SecondResponse)
        {
            return;
        }

        if (streaming && Documents > 0 && StartsAnotherResponse(ref d))
        {
            // Two responses in one stream (two captures concatenated) must never merge into one call.
            SecondResponse = true;
            Problem ??= string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"a second response starts at event {Documents + 1} (after {(EndSeen || DoneSeen ? "the first one ended" : "another response id")}); one stream holds one response");
            return;
        }

        Documents++;
        TextBytes += d.TextBytes;
        if (Protocol == WireProtocol.Unknown)
        {
            Protocol = d.Guess();
        }
        else if (Protocol == WireProtocol.OpenAIChat && d.Usage.Cost is not null)
        {
            Protocol = WireProtocol.OpenRouter; // an OpenAI-compatible gateway that reports its cost
        }

        if (d.Problem is not null)
        {
            Problem ??= d.Problem;
        }

        Id ??= d.Id;
        Model ??= d.Model;
        if (d.FinishReason is not null) FinishReason = d.FinishReason;
        if ((d.ServiceTier ?? d.Usage.ServiceTier) is { } tier) ServiceTier = tier;
        if (d.Kind == DocumentKind.Error || d.Error is not null || d.Status == "failed")
        {
            Failed = true;
            Error ??= d.Error ?? (d.Status == "failed" ? "failed" : "error");
        }

        if (d.Kind is DocumentKind.MessageStop or DocumentKind.ResponseTerminal || (d.GeminiShape && d.FinishReason is not null))
        {
            EndSeen = true;
        }

        if (d.Status == "incomplete" && FinishReason is null)
        {
            FinishReason = "incomplete";
        }

        if (!d.HasUsage)
        {
            return;
        }

        Usage.MergeFrom(d.Usage);
        UsageSeen = true;
        if (!streaming)
        {
            TerminalSeen = true;
            return;
        }

        TerminalSeen |= Protocol switch
        {
            WireProtocol.AnthropicMessages => d.Kind is DocumentKind.MessageDelta or DocumentKind.Message,
            WireProtocol.OpenAIResponses => d.Kind is DocumentKind.ResponseTerminal or DocumentKind.Response,
            WireProtocol.Gemini => FinishReason is not null,
            _ => true, // OpenAI Chat / OpenRouter: the usage chunk is the final one
        };
    }

    /// <summary>
    /// Whether a stream event begins another response: a different response id, a new start event
    /// (<c>message_start</c>, <c>response.created</c>) once one was seen, or any event after the stream's end marker.
    /// </summary>
    private readonly bool StartsAnotherResponse(ref WireDocument d)
    {
        if (d.Id is { Length: > 0 } id && Id is { Length: > 0 } first && !string.Equals(id, first, StringComparison.Ordinal))
        {
            return true;
        }

        if (d.Kind is DocumentKind.MessageStart && (EndSeen || Id is not null))
        {
            return true;
        }

        if (d.Kind is DocumentKind.ResponseCreated && EndSeen)
        {
            return true;
        }

        // After [DONE] or message_stop nothing belongs to the same response (an error event may still follow a stop).
        return (DoneSeen || (EndSeen && Protocol is WireProtocol.AnthropicMessages)) && d.Kind is not DocumentKind.Error
            && (d.HasUsage || d.Kind is DocumentKind.ChatCompletion or DocumentKind.MessageStart or DocumentKind.MessageDelta);
    }

    /// <summary>Builds the result. <paramref name="estimate"/> fills a missing usage from the text bytes seen.</summary>
    public readonly WireUsage Build(bool streaming, bool estimate, string? extraProblem = null)
    {
        var problem = Problem ?? extraProblem;
        var protocol = Protocol;
        TokenUsage usage = default;
        var status = UsageStatus.Missing;
        if (UsageSeen)
        {
            var normalizeProblem = Usage.Normalize(protocol == WireProtocol.Unknown ? Usage.Guess() : protocol, out usage);
            if (protocol == WireProtocol.Unknown) protocol = Usage.Guess();
            if (normalizeProblem is not null)
            {
                problem ??= normalizeProblem;
                usage = default;
            }
            else if (TerminalSeen)
            {
                status = UsageStatus.Reported;
            }
        }

        var truncated = streaming && !TerminalSeen && !EndSeen && !DoneSeen && !Failed;
        if (status == UsageStatus.Missing)
        {
            if (!UsageSeen)
            {
                problem ??= !streaming
                    ? "the response carries no usage"
                    : DoneSeen && protocol is WireProtocol.OpenAIChat or WireProtocol.OpenRouter
                        ? "the stream finished without a usage chunk (request stream_options.include_usage=true)"
                        : "the stream ended before its usage arrived";
            }
            else
            {
                // Counts arrived, but not the event that carries the final ones: a lower bound, and flagged as one.
                problem ??= truncated
                    ? "the stream ended before its final usage; the counts are what was reported before the cut"
                    : "the stream ended without the event that carries its final usage; the counts are what was reported before it";
            }

            if (estimate && TextBytes > 0)
            {
                // About four bytes of UTF-8 text per token: a flagged heuristic, never presented as reported.
                var estimatedOutput = (TextBytes + 3) / 4;
                usage = usage with { Output = Math.Max(usage.Output, estimatedOutput) };
                status = UsageStatus.Estimated;
            }
        }

        return new WireUsage
        {
            Protocol = protocol,
            Provider = ProviderOf(protocol),
            Model = Model ?? "",
            ResponseId = Id,
            Usage = usage,
            Status = status,
            ProviderCost = status == UsageStatus.Reported ? Usage.Cost : null,
            FinishReason = FinishReason,
            ServiceTier = ServiceTier,
            Ok = !Failed,
            Error = Error,
            Truncated = truncated,
            Problem = problem,
            TextBytes = TextBytes,
            HoldsSecondResponse = SecondResponse,
        };
    }

    public static string ProviderOf(WireProtocol protocol) => protocol switch
    {
        WireProtocol.OpenAIChat or WireProtocol.OpenAIResponses => "openai",
        WireProtocol.AnthropicMessages => "anthropic",
        WireProtocol.Gemini => "gemini",
        WireProtocol.OpenRouter => "openrouter",
        _ => "",
    };
}
