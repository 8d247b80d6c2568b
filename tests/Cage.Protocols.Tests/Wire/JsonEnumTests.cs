using System.Text.Json;
using CageNet.Tests;

namespace CageNet.Protocols.Tests.Wire;

/// <summary>The protocols' public enums serialize as readable snake_case names under System.Text.Json's default options.</summary>
public sealed class JsonEnumTests
{
    [Test]
    public void EveryPublicEnumOfProtocols_RoundTripsAsItsWireName() =>
        PublicEnumJson.AssertEveryEnumRoundTrips(typeof(WireProtocol).Assembly);

    [Test]
    public void WireProtocol_JsonNames_SpellTheVendorsAsOneWord()
    {
        Assert.That(Enum.GetValues<WireProtocol>().Select(v => JsonSerializer.Serialize(v)), Is.EqualTo(new[]
        {
            "\"unknown\"", "\"openai_chat\"", "\"openai_responses\"", "\"anthropic_messages\"", "\"gemini\"", "\"openrouter\"",
        }));
        Assert.That(Enum.GetValues<AgentLogKind>().Select(v => JsonSerializer.Serialize(v)), Is.EqualTo(new[]
        {
            "\"unknown\"", "\"claude_code\"", "\"codex\"", "\"reference_jsonl\"", "\"captured_response\"",
        }));
    }
}
