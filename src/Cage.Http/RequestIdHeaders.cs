using CageNet.Protocols;
using System.Net.Http.Headers;

namespace CageNet.Http;

/// <summary>The provider's request id header, when the body carries no response id.</summary>
internal static class RequestIdHeaders
{
    private static readonly string[] Names = ["x-request-id", "request-id", "x-goog-request-id", "openai-request-id"];

    public static string? From(HttpResponseHeaders headers)
    {
        foreach (var name in Names)
        {
            if (headers.TryGetValues(name, out var values))
            {
                foreach (var value in values)
                {
                    if (!string.IsNullOrWhiteSpace(value) && value.Length <= 200)
                    {
                        return value;
                    }
                }
            }
        }

        return null;
    }
}

/// <summary>The provider name a route implies, before the response names one (for the budget estimate).</summary>
internal static class WireProviders
{
    public static string Name(WireProtocol protocol) => protocol switch
    {
        WireProtocol.OpenAIChat or WireProtocol.OpenAIResponses => "openai",
        WireProtocol.AnthropicMessages => "anthropic",
        WireProtocol.Gemini => "gemini",
        WireProtocol.OpenRouter => "openrouter",
        _ => "unknown",
    };
}
