namespace CageNet.Http;

/// <summary>The budget check the handler runs before sending a metered request (adapted over the Core budget guard).</summary>
internal interface IHttpBudgetGate
{
    /// <summary>Reserves for the exchange; throws <see cref="HttpBudgetRefusedException"/> when the budget refuses.</summary>
    ValueTask<IHttpBudgetLease?> AdmitAsync(MeteredExchange exchange, CancellationToken cancellationToken);
}

internal interface IHttpBudgetLease
{
    /// <summary>Settles to what was billed, or releases when <paramref name="billed"/> is null.</summary>
    void Settle(TokenUsage? billed, decimal? costUsd);
}

/// <summary>Receives subscription-window utilization samples for the budget estimator.</summary>
internal interface IUtilizationSink
{
    void Sample(UtilizationSample sample, TokenUsage? billed, string? model);
}

/// <summary>Placeholder for the budget refusal until the Core budget guard lands.</summary>
#pragma warning disable CA1064, CA1032 // internal placeholder
internal sealed class HttpBudgetRefusedException(string message) : Exception(message);
#pragma warning restore CA1064, CA1032

internal static class WireProviders
{
    public static string Name(CageNet.Protocols.WireProtocol protocol) => protocol switch
    {
        CageNet.Protocols.WireProtocol.OpenAIChat or CageNet.Protocols.WireProtocol.OpenAIResponses => "openai",
        CageNet.Protocols.WireProtocol.AnthropicMessages => "anthropic",
        CageNet.Protocols.WireProtocol.Gemini => "gemini",
        CageNet.Protocols.WireProtocol.OpenRouter => "openrouter",
        _ => "unknown",
    };
}
