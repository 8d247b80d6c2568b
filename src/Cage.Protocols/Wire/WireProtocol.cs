using System.Text.Json.Serialization;

namespace CageNet.Protocols;

/// <summary>The wire formats Cage reads usage from.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<WireProtocol>))]
public enum WireProtocol
{
    /// <summary>Not known yet: the parsers infer it from the payload's shape.</summary>
    Unknown = 0,

    /// <summary>OpenAI Chat Completions (<c>/v1/chat/completions</c>) and compatible servers.</summary>
    [JsonStringEnumMemberName("openai_chat")]
    OpenAIChat = 1,

    /// <summary>OpenAI Responses (<c>/v1/responses</c>).</summary>
    [JsonStringEnumMemberName("openai_responses")]
    OpenAIResponses = 2,

    /// <summary>Anthropic Messages (<c>/v1/messages</c>).</summary>
    AnthropicMessages = 3,

    /// <summary>Gemini <c>generateContent</c> / <c>streamGenerateContent</c>.</summary>
    Gemini = 4,

    /// <summary>OpenRouter chat completions: OpenAI Chat plus a provider-reported <c>usage.cost</c>.</summary>
    [JsonStringEnumMemberName("openrouter")]
    OpenRouter = 5,
}
