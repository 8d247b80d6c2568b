using System.Text.Json;
using CageNet.Budgets;
using CageNet.Ledger;

namespace CageNet.Tests.Substrate;

/// <summary>
/// Public results serialize readably under System.Text.Json's default options (what <c>app.MapGet("/spend", …)</c>
/// returns): enums as their snake_case wire names, the same spellings as the CLI's <c>--json</c> and the JSONL ledger.
/// </summary>
public sealed class JsonEnumTests
{
    [Test]
    public void EveryPublicEnumOfCore_RoundTripsAsItsWireName() =>
        PublicEnumJson.AssertEveryEnumRoundTrips(typeof(CallRecord).Assembly);

    [Test]
    public void ProvenanceEnums_JsonNameIsTheLedgerWireName()
    {
        Assert.Multiple(() =>
        {
            foreach (var v in Enum.GetValues<CostSource>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToWire()}\""));
            foreach (var v in Enum.GetValues<UsageStatus>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToWire()}\""));
            foreach (var v in Enum.GetValues<SavingsMethod>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToWire()}\""));
            foreach (var v in Enum.GetValues<SavingsUnit>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToWire()}\""));
            foreach (var v in Enum.GetValues<TaskOutcome>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToWire()}\""));
            foreach (var v in Enum.GetValues<ReportDimension>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{v.ToString().ToLowerInvariant()}\""), "the CLI's --by names");
            foreach (var v in Enum.GetValues<BudgetPeriod>()) Assert.That(JsonSerializer.Serialize(v), Is.EqualTo($"\"{BudgetPeriods.Name(v)}\""), "the policy's period names");
        });
    }

    [Test]
    public void Deserialize_IntegerOrUnknownName_IntegerAcceptedUnknownRefused()
    {
        Assert.That(JsonSerializer.Deserialize<BudgetPeriod>("\"5h\""), Is.EqualTo(BudgetPeriod.FiveHours));
        Assert.That(JsonSerializer.Deserialize<CostSource>("3"), Is.EqualTo(CostSource.Unpriced));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<CostSource>("\"free\""));
    }

    [Test]
    public async Task Serialize_SpendReport_DefaultOptions_EnumsAreStringsAndTotalsSayLowerBound()
    {
        var ledger = new InMemoryLedger();
        await ledger.AppendAsync(new LedgerBatch(
        [
            new CallRecord { Id = "c1", Timestamp = new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero), Route = "code-edit", Provider = "p", Model = "m", CostUsd = 0.5m, CostSource = CostSource.Catalog },
            new CallRecord { Id = "c2", Timestamp = new DateTimeOffset(2026, 6, 20, 11, 0, 0, TimeSpan.Zero), Route = "code-edit", Provider = "p", Model = "x", CostSource = CostSource.Unpriced },
        ], []));
        var report = await ledger.ReportAsync(ReportQuery.Default);

        var json = JsonSerializer.Serialize(report);

        Assert.That(json, Does.Contain("\"Dimension\":\"route\""));
        Assert.That(json, Does.Contain("\"Key\":\"code-edit\""));
        Assert.That(json, Does.Contain("\"CostUsd\":0.5,\"UnpricedCalls\":1"));
        Assert.That(json, Does.Contain("\"IsLowerBound\":true"));
        Assert.That(JsonSerializer.Serialize(ledger.Calls[1]), Does.Contain("\"CostSource\":\"unpriced\"").And.Contain("\"UsageStatus\":\"reported\""));
    }

    [Test]
    public void Serialize_BudgetStatus_DefaultOptions_PeriodAndActionAreStrings()
    {
        var node = new BudgetNodeStatus("org/team-a", "org/team-a", bound: true, BudgetPeriod.FiveHours, BudgetExceedAction.Block, null, null,
            new BudgetMetricStatus(1.25m, 0m, 5m), new BudgetMetricStatus(0, 0, null), [], unpricedCalls: 1, usdIsLowerBound: true);
        var status = new BudgetStatus(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero), [node]);

        var json = JsonSerializer.Serialize(status);

        Assert.That(json, Does.Contain("\"Period\":\"5h\""));
        Assert.That(json, Does.Contain("\"OnExceed\":\"block\""));
        Assert.That(json, Does.Contain("\"UnpricedCalls\":1,\"UsdIsLowerBound\":true"));
    }
}
