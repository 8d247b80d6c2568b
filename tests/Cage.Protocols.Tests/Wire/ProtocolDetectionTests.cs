namespace CageNet.Protocols.Tests.Wire;

public sealed class ProtocolDetectionTests
{
    [TestCase("https://api.openai.com/v1/chat/completions", WireProtocol.OpenAIChat)]
    [TestCase("https://my.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-10-21", WireProtocol.OpenAIChat)]
    [TestCase("http://localhost:11434/v1/chat/completions", WireProtocol.OpenAIChat)]
    [TestCase("https://openrouter.ai/api/v1/chat/completions", WireProtocol.OpenRouter)]
    [TestCase("https://api.openai.com/v1/responses", WireProtocol.OpenAIResponses)]
    [TestCase("https://api.openai.com/v1/responses/resp_123", WireProtocol.OpenAIResponses)]
    [TestCase("https://api.anthropic.com/v1/messages", WireProtocol.AnthropicMessages)]
    [TestCase("https://api.anthropic.com/v1/messages/count_tokens", WireProtocol.Unknown)]
    [TestCase("https://api.anthropic.com/v1/messages/batches", WireProtocol.Unknown)]
    [TestCase("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent", WireProtocol.Gemini)]
    [TestCase("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", WireProtocol.Gemini)]
    [TestCase("https://api.openai.com/v1/embeddings", WireProtocol.Unknown)]
    [TestCase("https://api.openai.com/v1/models", WireProtocol.Unknown)]
    public void DetectProtocol_Route_RecognizesTheEndpoint(string uri, WireProtocol expected) =>
        Assert.That(WireParser.DetectProtocol(new Uri(uri)), Is.EqualTo(expected));

    [Test]
    public void DetectProtocol_RelativeUri_UsesThePath() =>
        Assert.That(WireParser.DetectProtocol(new Uri("/v1/messages?beta=true", UriKind.Relative)), Is.EqualTo(WireProtocol.AnthropicMessages));

    [Test]
    public void IsStreamingRoute_GeminiStreamPath_IsTrue()
    {
        Assert.That(WireParser.IsStreamingRoute("/v1beta/models/gemini-2.5-pro:streamGenerateContent"), Is.True);
        Assert.That(WireParser.IsStreamingRoute("/v1beta/models/gemini-2.5-pro:generateContent"), Is.False);
    }

    [TestCase("openai_chat_nonstream.json", WireProtocol.OpenAIChat)]
    [TestCase("openai_chat_stream_include_usage.sse", WireProtocol.OpenAIChat)]
    [TestCase("openai_responses_nonstream.json", WireProtocol.OpenAIResponses)]
    [TestCase("anthropic_messages_nonstream.json", WireProtocol.AnthropicMessages)]
    [TestCase("anthropic_messages_stream.sse", WireProtocol.AnthropicMessages)]
    [TestCase("gemini_generate_content_thinking.json", WireProtocol.Gemini)]
    [TestCase("openrouter_chat_usage.json", WireProtocol.OpenRouter)]
    public void DetectProtocol_Body_RecognizesTheShape(string file, WireProtocol expected) =>
        Assert.That(WireParser.DetectProtocol(Fixtures.SharedBytes(file)), Is.EqualTo(expected));

    [Test]
    public void DetectProtocol_UnrelatedJson_IsUnknown() =>
        Assert.That(WireParser.DetectProtocol("{\"hello\":\"world\"}"u8), Is.EqualTo(WireProtocol.Unknown));
}
