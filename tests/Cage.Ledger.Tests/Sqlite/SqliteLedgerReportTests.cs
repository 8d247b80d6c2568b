using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// Five calls over two UTC days, chosen so every dimension groups differently (expected values worked out by hand):
/// <code>
/// id  ts                        route      model            provider  agent task session category user  cost     notes
/// c1  2026-03-01T10:00:00Z      code-edit  claude-opus-4-8  anthropic a1    t1   s1      main     u1    0.0150   in 1000, cr 200, w5 50, w1 10, out 300 (reasoning 100)
/// c2  2026-03-01T23:59:59.999Z  code-edit  gpt-5            openai    a2    t1   s2      delegate —     0.0300   in 2000, out 500
/// c3  2026-03-02T00:00:00Z      search     mystery-model    acme      a1    t2   s2      —        u2    unpriced in 400, out 40
/// c4  2026-03-02T08:00:00Z      —          llama3           ollama    —     —    —       main     u1    0 local  in 100, out 10
/// c5  2026-03-02T09:00:00Z      search     gpt-5            openai    a2    t2   s1      —        —     null     usage missing
/// </code>
/// </summary>
public sealed class SqliteLedgerReportTests
{
    private TestLedger _test = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _test = TestLedger.Create();
        await _test.Ledger.AppendAsync(Batch(
            Call("c1", "2026-03-01T10:00:00Z", "code-edit", "t1", "s1", "a1", "main", "u1", "anthropic", "claude-opus-4-8",
                new TokenUsage(1000, 200, 50, 10, 300, 100), 0.0150m),
            Call("c2", "2026-03-01T23:59:59.999Z", "code-edit", "t1", "s2", "a2", "delegate", null, "openai", "gpt-5",
                new TokenUsage(2000, Output: 500), 0.0300m),
            Call("c3", "2026-03-02T00:00:00Z", "search", "t2", "s2", "a1", null, "u2", "acme", "mystery-model",
                new TokenUsage(400, Output: 40), null, CostSource.Unpriced),
            Call("c4", "2026-03-02T08:00:00Z", null, null, null, null, "main", "u1", "ollama", "llama3",
                new TokenUsage(100, Output: 10), 0m, CostSource.Local),
            Call("c5", "2026-03-02T09:00:00Z", "search", "t2", "s1", "a2", null, null, "openai", "gpt-5",
                default, null, CostSource.Catalog, UsageStatus.Missing)));
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _test.Dispose();

    [Test]
    public async Task ReportAsync_ByRoute_SumsBucketsAndCountsUnpricedMissingAndLocal()
    {
        var report = await _test.Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));

        Assert.That(report.Dimension, Is.EqualTo(ReportDimension.Route));
        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[] { "code-edit", "(none)", "search" }));
        Assert.That(report.Groups[0].Totals, Is.EqualTo(new SpendTotals
        {
            Calls = 2, Input = 3000, CacheRead = 200, CacheWrite5m = 50, CacheWrite1h = 10, Output = 800, Reasoning = 100, CostUsd = 0.045m,
        }));
        Assert.That(report.Groups[1].Totals, Is.EqualTo(new SpendTotals { Calls = 1, Input = 100, Output = 10, CostUsd = 0m, LocalCalls = 1 }));
        Assert.That(report.Groups[2].Totals, Is.EqualTo(new SpendTotals { Calls = 2, Input = 400, Output = 40, CostUsd = 0m, UnpricedCalls = 1, MissingUsageCalls = 1 }));
        Assert.That(report.Total, Is.EqualTo(new SpendTotals
        {
            Calls = 5, Input = 3500, CacheRead = 200, CacheWrite5m = 50, CacheWrite1h = 10, Output = 850, Reasoning = 100, CostUsd = 0.045m,
            UnpricedCalls = 1, MissingUsageCalls = 1, LocalCalls = 1,
        }));
        Assert.That(report.Total.TokensIn, Is.EqualTo(3760));
    }

    [TestCase(ReportDimension.Model, new[] { "gpt-5", "claude-opus-4-8", "llama3", "mystery-model" }, new[] { 2L, 1, 1, 1 }, new[] { "0.03", "0.015", "0", "0" })]
    [TestCase(ReportDimension.Provider, new[] { "openai", "anthropic", "acme", "ollama" }, new[] { 2L, 1, 1, 1 }, new[] { "0.03", "0.015", "0", "0" })]
    [TestCase(ReportDimension.Day, new[] { "2026-03-01", "2026-03-02" }, new[] { 2L, 3 }, new[] { "0.045", "0" })]
    [TestCase(ReportDimension.Agent, new[] { "a2", "a1", "(none)" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.Task, new[] { "t1", "(none)", "t2" }, new[] { 2L, 1, 2 }, new[] { "0.045", "0", "0" })]
    [TestCase(ReportDimension.Session, new[] { "s2", "s1", "(none)" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.Category, new[] { "delegate", "main", "(none)" }, new[] { 1L, 2, 2 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.User, new[] { "(none)", "u1", "u2" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    public async Task ReportAsync_EachDimension_GroupsSortedByCostThenKey(ReportDimension dimension, string[] keys, long[] calls, string[] costs)
    {
        var report = await _test.Ledger.ReportAsync(new ReportQuery(dimension, TimeWindow.All));

        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(keys));
        Assert.That(report.Groups.Select(g => g.Totals.Calls), Is.EqualTo(calls));
        Assert.That(report.Groups.Select(g => g.Totals.CostUsd), Is.EqualTo(costs.Select(c => decimal.Parse(c, System.Globalization.CultureInfo.InvariantCulture))));
        Assert.That(report.Total.Calls, Is.EqualTo(5));
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.045m));
    }

    [Test]
    public async Task ReportAsync_Since_IncludesTheBoundInstant()
    {
        var window = new TimeWindow(At("2026-03-02T00:00:00Z"), null);

        var report = await _test.Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, window));

        Assert.That(report.Window, Is.SameAs(window));
        Assert.That(report.Groups.Select(g => (g.Key, g.Totals.Calls)), Is.EqualTo(new[] { ("(none)", 1L), ("search", 2L) }));
        Assert.That(report.Total, Is.EqualTo(new SpendTotals { Calls = 3, Input = 500, Output = 50, UnpricedCalls = 1, MissingUsageCalls = 1, LocalCalls = 1 }));
    }

    [Test]
    public async Task ReportAsync_Until_ExcludesTheBoundInstant()
    {
        var report = await _test.Ledger.ReportAsync(new ReportQuery(ReportDimension.Day, new TimeWindow(null, At("2026-03-02T00:00:00Z"))));

        Assert.That(report.Groups.Select(g => (g.Key, g.Totals.Calls)), Is.EqualTo(new[] { ("2026-03-01", 2L) }));
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.045m));
    }

    [Test]
    public async Task ReportAsync_SinceAndUntil_KeepsOnlyTheHalfOpenWindow()
    {
        var window = new TimeWindow(At("2026-03-01T23:59:59.999Z"), At("2026-03-02T00:00:00.001Z"));

        var report = await _test.Ledger.ReportAsync(new ReportQuery(ReportDimension.Model, window));

        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[] { "gpt-5", "mystery-model" }));
        Assert.That(report.Total.Calls, Is.EqualTo(2));
        Assert.That(report.Total.UnpricedCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task ReportAsync_EmptyWindow_HasNoGroupsAndZeroTotals()
    {
        var report = await _test.Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, new TimeWindow(At("2030-01-01T00:00:00Z"), null)));

        Assert.That(report.Groups, Is.Empty);
        Assert.That(report.Total, Is.EqualTo(new SpendTotals()));
    }
}
