using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// Reports combine per-day totals (whole days) with raw calls (the partial days at a window's edges). This checks the
/// combination against a direct sum over the same calls for windows that start and end mid-day, at midnight, and
/// inside one day.
/// </summary>
public sealed class SqliteLedgerReportWindowTests
{
    private static readonly DateTimeOffset Origin = At("2026-03-01T00:00:00Z");

    private TestLedger _test = null!;
    private CallRecord[] _calls = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _test = TestLedger.Create();
        // One call every 7 h 13 min over ten days: every day has calls, at varying times of day.
        _calls = Enumerable.Range(0, 34).Select(i => new CallRecord
        {
            Id = $"c_{i:D2}",
            Timestamp = Origin.AddMinutes(i * 433),
            Route = (i % 3) switch { 0 => "code-edit", 1 => "search", _ => null },
            Model = i % 2 == 0 ? "gpt-5" : "claude-opus-4-8",
            Provider = i % 2 == 0 ? "openai" : "anthropic",
            Usage = new TokenUsage(100 + i, i, 0, 0, 10 + i),
            CostUsd = i % 5 == 0 ? null : 0.001m * i,
            CostSource = i % 5 == 0 ? CostSource.Unpriced : CostSource.Catalog,
        }).ToArray();
        await _test.Ledger.AppendAsync(new LedgerBatch(_calls, []));
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _test.Dispose();

    [TestCase(null, null)]
    [TestCase("2026-03-03T05:30:00Z", null)]
    [TestCase(null, "2026-03-07T18:00:00Z")]
    [TestCase("2026-03-03T05:30:00Z", "2026-03-07T18:00:00Z")]
    [TestCase("2026-03-03T00:00:00Z", "2026-03-07T00:00:00Z")]
    [TestCase("2026-03-04T01:00:00Z", "2026-03-04T23:00:00Z")]
    [TestCase("2026-03-04T07:13:00Z", "2026-03-05T07:13:00Z")]
    [TestCase("2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z")]
    public async Task ReportAsync_AnyWindow_EqualsTheSumOfTheCallsInsideIt(string? since, string? until)
    {
        var window = new TimeWindow(since is null ? null : At(since), until is null ? null : At(until));
        var inside = _calls.Where(c => window.Contains(c.Timestamp)).ToArray();

        foreach (var dimension in new[] { ReportDimension.Route, ReportDimension.Day, ReportDimension.Model })
        {
            var report = await _test.Ledger.ReportAsync(new ReportQuery(dimension, window));

            var expected = inside
                .GroupBy(c => dimension switch
                {
                    ReportDimension.Route => c.Route ?? SpendReport.NoneKey,
                    ReportDimension.Model => c.Model,
                    _ => c.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                })
                .ToDictionary(g => g.Key, g => (Calls: (long)g.Count(), Input: g.Sum(c => c.Usage.Input), Cost: g.Sum(c => c.CostUsd ?? 0m), Unpriced: (long)g.Count(c => c.CostUsd is null)));
            Assert.That(report.Groups.ToDictionary(g => g.Key, g => (g.Totals.Calls, g.Totals.Input, g.Totals.CostUsd, g.Totals.UnpricedCalls)),
                Is.EquivalentTo(expected), $"{dimension} {since}..{until}");
            Assert.That(report.Total.Calls, Is.EqualTo(inside.Length));
        }
    }
}
