using CageNet.Attribution;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary>
/// One meaning of money in every view that sums call costs: the priced sum, the count of unpriced calls, and whether the
/// sum is a lower bound. Calls (all on route code-edit, task t, in June): p1 $0.01 and p2 $0.02 priced, u1 unpriced.
/// </summary>
public sealed class UnpricedTotalsTests : LedgerTestBase
{
    private async Task SeedAsync(bool withUnpriced)
    {
        var calls = new List<CallRecord>
        {
            Call("p1", "2026-06-19T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m),
            Call("p2", "2026-06-19T11:00:00Z", "t", "small", new TokenUsage(20_000), 0.02m),
        };
        if (withUnpriced)
        {
            calls.Add(Call("u1", "2026-06-19T12:00:00Z", "t", "mystery", new TokenUsage(5_000), null));
        }

        await Db.AddAsync(calls, [Receipt("r1", "fux", 3_000, 1_000, "p1", "t")]);
    }

    [TestCase(true, 1L, true)]
    [TestCase(false, 0L, false)]
    public async Task EveryView_PricedSumUnpricedCountAndLowerBound(bool withUnpriced, long unpriced, bool lowerBound)
    {
        await SeedAsync(withUnpriced);
        var service = Service();

        var report = await Ledger.ReportAsync(CageNet.Ledger.ReportQuery.Default);
        Assert.That((report.Total.CostUsd, report.Total.UnpricedCalls, report.Total.IsLowerBound), Is.EqualTo((0.03m, unpriced, lowerBound)));

        var quality = await service.QualityAsync();
        Assert.That((quality.TotalUsd, quality.UnpricedCalls, quality.IsLowerBound), Is.EqualTo((0.03m, unpriced, lowerBound)));

        var forecast = await service.ForecastAsync();
        Assert.That((forecast.MonthToDateUsd, forecast.UnpricedCalls, forecast.IsLowerBound), Is.EqualTo((0.03m, unpriced, lowerBound)));

        var route = (await service.RecommendAsync()).Routes.Single();
        Assert.That((route.UnpricedCalls, route.IsLowerBound), Is.EqualTo((unpriced, lowerBound)));

        var matrix = (await service.MatrixAsync("t"))!;
        Assert.That((matrix.AllOn.CostUsd, (long)matrix.UnpricedCalls, matrix.IsLowerBound), Is.EqualTo(((decimal?)0.03m, unpriced, lowerBound)));
    }
}
