using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Importers;

/// <summary>A captured response that carries no usage is stored as usage missing with an unknown cost, never as a free call.</summary>
public sealed class CapturedWithoutUsageTests
{
    private const string Body = """{"id":"chatcmpl-nousage","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]USAGE}""";

    [TestCase(",\"usage\":null", TestName = "usage is null")]
    [TestCase("", TestName = "usage is absent")]
    public void Read_CapturedResponseWithoutUsage_IsMissingUsageWithANullCost(string usage)
    {
        using var folder = new TempFolder();
        var file = folder.Write("response.json", Body.Replace("USAGE", usage, StringComparison.Ordinal));

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        var call = result.Calls.Single();
        Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
        Assert.That(call.CostUsd, Is.Null, "an unknown cost, not $0");
        Assert.That(call.Usage.TotalTokens, Is.Zero);
    }
}
