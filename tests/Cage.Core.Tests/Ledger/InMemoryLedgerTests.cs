using CageNet.Ledger;

namespace CageNet.Tests.Ledger;

public class InMemoryLedgerTests
{
    private static CallRecord Call(string id, string route, string model, decimal? cost, CostSource source = CostSource.Catalog, string? requestId = null, DateTimeOffset? at = null, UsageStatus status = UsageStatus.Reported) => new()
    {
        Id = id,
        Timestamp = at ?? new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero),
        Route = route,
        Provider = "p",
        Model = model,
        Usage = new TokenUsage(100, CacheRead: 50, Output: 10),
        CostUsd = cost,
        CostSource = source,
        RequestId = requestId,
        UsageStatus = status,
    };

    [Test]
    public async Task AppendAsync_DuplicateIdOrRequestId_IsSkipped()
    {
        var ledger = new InMemoryLedger();
        var first = await ledger.AppendAsync(new LedgerBatch([Call("c1", "a", "m", 1m, requestId: "req-1")], []));
        var again = await ledger.AppendAsync(new LedgerBatch([Call("c1", "a", "m", 1m), Call("c2", "a", "m", 1m, requestId: "req-1")], []));
        Assert.That(first, Is.EqualTo(new AppendResult(1, 0, 0, 0)));
        Assert.That(again, Is.EqualTo(new AppendResult(0, 2, 0, 0)));
    }

    [Test]
    public async Task ReportAsync_ByRoute_SortsByCostThenKeyAndCountsUnpricedMissingLocal()
    {
        var ledger = new InMemoryLedger();
        await ledger.AppendAsync(new LedgerBatch(
        [
            Call("c1", "b", "m1", 1.5m),
            Call("c2", "a", "m1", 1.5m),
            Call("c3", "c", "m2", 3m),
            Call("c4", "c", "unknown", null, CostSource.Unpriced),
            Call("c5", "", "llama", 0m, CostSource.Local, status: UsageStatus.Missing),
        ], []));
        var report = await ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));
        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[] { "c", "a", "b", SpendReport.NoneKey }));
        Assert.That(report.Groups[0].Totals.UnpricedCalls, Is.EqualTo(1));
        Assert.That(report.Groups[0].Totals.CostUsd, Is.EqualTo(3m));
        Assert.That(report.Total.Calls, Is.EqualTo(5));
        Assert.That(report.Total.CostUsd, Is.EqualTo(6m));
        Assert.That(report.Total.TokensIn, Is.EqualTo(750));
        Assert.That(report.Total.CachedIn, Is.EqualTo(250));
        Assert.That(report.Total.LocalCalls, Is.EqualTo(1));
        Assert.That(report.Total.MissingUsageCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task TotalCostUsd_SomeCallsUnpriced_IsThePricedSumAndALowerBoundLikeTheReport()
    {
        var ledger = new InMemoryLedger();
        await ledger.AppendAsync(new LedgerBatch([Call("c1", "a", "m", 1.5m), Call("c2", "a", "mystery", null, CostSource.Unpriced)], []));
        var report = await ledger.ReportAsync(ReportQuery.Default);

        Assert.That((ledger.TotalCostUsd, ledger.UnpricedCalls, ledger.IsLowerBound), Is.EqualTo((1.5m, 1L, true)));
        Assert.That(ledger.Totals, Is.EqualTo(report.Total));
        Assert.That((report.Total.CostUsd, report.Total.UnpricedCalls, report.Total.IsLowerBound), Is.EqualTo((1.5m, 1L, true)));
    }

    [Test]
    public async Task TotalCostUsd_AllCallsPriced_IsExact()
    {
        var ledger = new InMemoryLedger();
        await ledger.AppendAsync(new LedgerBatch([Call("c1", "a", "m", 1.5m), Call("c2", "a", "llama", 0m, CostSource.Local)], []));

        Assert.That((ledger.TotalCostUsd, ledger.UnpricedCalls, ledger.IsLowerBound), Is.EqualTo((1.5m, 0L, false)));
    }

    [Test]
    public async Task ReportAsync_Window_FiltersHalfOpen()
    {
        var ledger = new InMemoryLedger();
        var day = new DateTimeOffset(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);
        await ledger.AppendAsync(new LedgerBatch([Call("c1", "a", "m", 1m, at: day.AddHours(-1)), Call("c2", "a", "m", 2m, at: day), Call("c3", "a", "m", 4m, at: day.AddDays(1))], []));
        var report = await ledger.ReportAsync(new ReportQuery(ReportDimension.Day, new TimeWindow(day, day.AddDays(1))));
        Assert.That(report.Groups.Single().Key, Is.EqualTo("2026-06-20"));
        Assert.That(report.Total.CostUsd, Is.EqualTo(2m));
    }
}
