using System.Text.Json;
using CageNet.Attribution;
using CageNet.Ledger;

namespace CageNet.Tests;

/// <summary>
/// Attribution results serialize readably under System.Text.Json's default options: verdicts, methods and units as
/// the same snake_case words the CLI's <c>--json</c> prints.
/// </summary>
public sealed class JsonEnumTests : LedgerTestBase
{
    [Test]
    public void EveryPublicEnumOfAttributionAndLedger_RoundTripsAsItsWireName() =>
        PublicEnumJson.AssertEveryEnumRoundTrips(typeof(AttributionService).Assembly, typeof(SqliteLedger).Assembly);

    [Test]
    public void Verdict_JsonNames_AreTheCliSpellings()
    {
        Assert.That(Enum.GetValues<Verdict>().Select(v => JsonSerializer.Serialize(v)), Is.EqualTo(new[] { "\"enable\"", "\"skip\"", "\"no_evidence\"" }));
        Assert.That(JsonSerializer.Deserialize<Verdict>("\"no_evidence\""), Is.EqualTo(Verdict.NoEvidence));
    }

    [Test]
    public async Task Serialize_AttributionResults_DefaultOptions_EnumsAreStrings()
    {
        await MultiModelScenario.SeedAsync(Db);
        var service = Service();

        var recommend = JsonSerializer.Serialize(await service.RecommendAsync());
        var attribution = JsonSerializer.Serialize(await service.AttributeAsync(MultiModelScenario.Task));
        var matrix = JsonSerializer.Serialize(await service.MatrixAsync(MultiModelScenario.Task));
        var roi = JsonSerializer.Serialize(await service.RoiAsync());
        var regression = JsonSerializer.Serialize(await service.RegressionAsync(new RegressionQuery { By = ReportDimension.Model }));
        var spend = JsonSerializer.Serialize(await Ledger.ReportAsync(new ReportQuery(ReportDimension.Model, TimeWindow.All)));

        Assert.That(recommend, Does.Contain("\"Verdict\":\"enable\"").And.Contain("\"Method\":\"measured\""));
        Assert.That(recommend, Does.Contain("\"UnpricedCalls\":0,\"IsLowerBound\":false"));
        Assert.That(attribution, Does.Contain("\"Unit\":\"tokens\"").And.Contain("\"Method\":\"modeled\""));
        Assert.That(matrix, Does.Contain("\"Source\":\"measured\"").And.Contain("\"IsLowerBound\":false"));
        Assert.That(roi, Does.Contain("\"Method\":\"measured\""));
        Assert.That(regression, Does.Contain("\"By\":\"model\""));
        Assert.That(spend, Does.Contain("\"Dimension\":\"model\""));
        Assert.That(string.Concat(recommend, attribution, matrix, roi, regression, spend), Does.Not.Match("\"(Verdict|Method|Unit|Source|By|Dimension)\":[0-9]"));
    }
}
