using System.Text;
using System.Text.Json;
using CageNet.Protocols;

namespace CageNet.Http.Tests;

public sealed class RequestInspectorTests
{
    [Test]
    public void Read_ChatRequest_FindsModelStreamAndOutputCap()
    {
        var facts = RequestInspector.Read("""{"messages":[{"role":"user","content":"{\"model\":\"fake\"}"}],"model":"gpt-4o-mini","max_completion_tokens":256,"stream":true}"""u8);

        Assert.Multiple(() =>
        {
            Assert.That(facts.Model, Is.EqualTo("gpt-4o-mini"), "only the top-level model counts");
            Assert.That(facts.Stream, Is.True);
            Assert.That(facts.HasStreamOptions, Is.False);
            Assert.That(facts.MaxOutputTokens, Is.EqualTo(256));
        });
    }

    [Test]
    public void Read_StreamOptionsPresent_ReportsIncludeUsage()
    {
        var facts = RequestInspector.Read("""{"model":"m","stream":true,"stream_options":{"include_usage":false}}"""u8);

        Assert.Multiple(() =>
        {
            Assert.That(facts.HasStreamOptions, Is.True);
            Assert.That(facts.IncludeUsage, Is.False);
            Assert.That(RequestInspector.NeedsUsageOption(WireProtocol.OpenAIChat, facts), Is.False);
        });
    }

    [Test]
    public void Read_MalformedJson_KeepsWhatWasReadAndDoesNotThrow()
    {
        var facts = RequestInspector.Read("""{"model":"gpt-4.1","stream":tru"""u8);

        Assert.That(facts.Model, Is.EqualTo("gpt-4.1"));
    }

    [TestCase(WireProtocol.OpenAIChat, true)]
    [TestCase(WireProtocol.OpenRouter, true)]
    [TestCase(WireProtocol.AnthropicMessages, false)]
    [TestCase(WireProtocol.OpenAIResponses, false)]
    public void NeedsUsageOption_OnlyOpenAIChatStreams(WireProtocol protocol, bool expected)
    {
        var facts = RequestInspector.Read("""{"model":"m","stream":true}"""u8);

        Assert.That(RequestInspector.NeedsUsageOption(protocol, facts), Is.EqualTo(expected));
    }

    [TestCase("""{"model":"m","stream":true}""")]
    [TestCase("""  {  "stream" : true }  """)]
    [TestCase("""{}""")]
    [TestCase("""{ }""")]
    public void WithUsageOption_ProducesValidJsonWithEveryOriginalProperty(string original)
    {
        var rewritten = Encoding.UTF8.GetString(RequestInspector.WithUsageOption(Encoding.UTF8.GetBytes(original)));

        using var doc = JsonDocument.Parse(rewritten);
        using var before = JsonDocument.Parse(original);
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean(), Is.True);
            Assert.That(doc.RootElement.EnumerateObject().Count(), Is.EqualTo(before.RootElement.EnumerateObject().Count() + 1));
        });
    }

    [TestCase("/v1beta/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro")]
    [TestCase("/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:streamGenerateContent", "gemini-2.5-flash")]
    [TestCase("/v1/chat/completions", null)]
    public void ModelFromPath_GeminiRoutes(string path, string? expected) =>
        Assert.That(RequestInspector.ModelFromPath(path), Is.EqualTo(expected));
}
