using CageNet.Attribution;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary>
/// <c>cage forecast</c>: now is 2026-06-20T12:00Z, so June has 10.5 days left. The calls: $1 on 05-30 (last month),
/// $1 on 06-05 (this month, before the 7-day run-rate window), $1 each on 06-14, 06-16 and 06-19 (in it; the first of
/// them is 6 days before now). Month to date $4; run-rate $3 / 6 days = $0.50/day; projection 4 + 0.5 × 10.5 = $9.25.
/// </summary>
public sealed class ForecastTests : LedgerTestBase
{
    private async Task SeedAsync()
    {
        var dollar = new TokenUsage(1_000_000); // 1M × $1/M
        await Db.AddAsync(
        [
            Call("m0", "2026-05-30T12:00:00Z", "t", "small", dollar, 1m),
            Call("m1", "2026-06-05T12:00:00Z", "t", "small", dollar, 1m),
            Call("m2", "2026-06-14T12:00:00Z", "t", "small", dollar, 1m),
            Call("m3", "2026-06-16T12:00:00Z", "t", "small", dollar, 1m),
            Call("m4", "2026-06-19T12:00:00Z", "t", "small", dollar, 1m),
        ]);
    }

    [Test]
    public async Task Forecast_NoBudget_ProjectsTheMonthEnd()
    {
        await SeedAsync();

        var f = await Service().ForecastAsync();

        Assert.That(f.MonthStart, Is.EqualTo(At("2026-06-01T00:00:00Z")));
        Assert.That(f.MonthEnd, Is.EqualTo(At("2026-07-01T00:00:00Z")));
        Assert.That(f.MonthToDateUsd, Is.EqualTo(4m));
        Assert.That(f.RunRateDays, Is.EqualTo(6m));
        Assert.That(f.RunRateSpendUsd, Is.EqualTo(3m));
        Assert.That(f.PerDayUsd, Is.EqualTo(0.5m));
        Assert.That(f.DaysLeft, Is.EqualTo(10.5m));
        Assert.That(f.ProjectedMonthUsd, Is.EqualTo(9.25m));
        Assert.That(f.MonthlyBudgetUsd, Is.Null);
        Assert.That(f.BlowsBudget, Is.False);
        Assert.That(f.BlowsOn, Is.Null);
    }

    [Test]
    public async Task Forecast_ProjectionOverTheBudget_BlowsOnTheDayItIsCrossed()
    {
        await SeedAsync();

        var f = await Service().ForecastAsync(new ForecastQuery { MonthlyBudgetUsd = 9m });

        Assert.That(f.BlowsBudget, Is.True);
        Assert.That(f.BlowsOn, Is.EqualTo(new DateOnly(2026, 6, 30)), "(9 − 4) / 0.5 = 10 days after 06-20T12:00");
    }

    [Test]
    public async Task Forecast_ProjectionWithinTheBudget_NoBlowsOn()
    {
        await SeedAsync();

        var f = await Service().ForecastAsync(new ForecastQuery { MonthlyBudgetUsd = 10m });

        Assert.That(f.BlowsBudget, Is.False);
        Assert.That(f.BlowsOn, Is.Null);
    }

    [Test]
    public async Task Forecast_AlreadyOverTheBudget_BlowsToday()
    {
        await SeedAsync();

        var f = await Service().ForecastAsync(new ForecastQuery { MonthlyBudgetUsd = 3m });

        Assert.That(f.BlowsOn, Is.EqualTo(new DateOnly(2026, 6, 20)));
    }

    [Test]
    public async Task Forecast_EmptyLedger_ProjectsZero()
    {
        var f = await Service().ForecastAsync(new ForecastQuery { MonthlyBudgetUsd = 10m });

        Assert.That(f.ProjectedMonthUsd, Is.Zero);
        Assert.That(f.BlowsBudget, Is.False);
    }

    [Test]
    public void Forecast_ZeroRunRateWindow_IsAnAttributionException()
    {
        Assert.ThrowsAsync<AttributionException>(async () => await Service().ForecastAsync(new ForecastQuery { RunRateWindow = TimeSpan.Zero }));
    }
}
