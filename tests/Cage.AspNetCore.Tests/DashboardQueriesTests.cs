using CageNet.Ledger;

namespace CageNet.AspNetCore.Tests;

/// <summary>
/// The spend series over a SQLite ledger (summed by SQLite from the per-day and per-hour totals and the calls) against the same
/// series over an in-memory ledger holding the same calls (summed call by call from its reports and reads).
/// </summary>
public sealed class DashboardQueriesTests
{
    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static LedgerBatch Calls()
    {
        var calls = new List<CallRecord>();
        for (var i = 0; i < 400; i++)
        {
            // Every 37 minutes over ten days, some with no route or agent and one in ten unpriced.
            var unpriced = i % 10 == 0;
            calls.Add(DashboardLedger.Call($"c_series{i:D5}", DashboardLedger.End.AddMinutes(-37 * i), i % 3 == 0 ? "openai" : "anthropic",
                i % 3 == 0 ? "gpt-4o" : "claude-sonnet-4-5", unpriced ? null : i % 5 == 0 ? "" : i % 11 == 0 ? "(none)" : "route-" + (i % 4), i % 7 == 0 ? "" : "agent-" + (i % 2),
                "u" + (i % 23), unpriced ? null : 0.001m * (i % 13) + 0.0000001m));
        }

        return new LedgerBatch(calls, []);
    }

    [Test]
    public async Task TheTopGroupsOfASqliteLedger_AreTheFirstGroupsOfTheWholeReport()
    {
        var folder = Directory.CreateTempSubdirectory("cage-top-");
        try
        {
            var sqlite = SqliteLedger.Open(Path.Combine(folder.FullName, "ledger.db"));
            await using (sqlite)
            {
                await sqlite.AppendAsync(Calls());
                var clock = new Clock(DashboardLedger.End.AddHours(3));
                var queries = new DashboardQueries(sqlite, clock);
                foreach (var (by, window, top) in new (ReportDimension, TimeWindow, int)[]
                {
                    (ReportDimension.User, TimeWindow.All, 5),
                    (ReportDimension.Route, TimeWindow.All, 2),
                    (ReportDimension.User, TimeWindow.Parse("2026-06-13T05:30:00Z", "2026-06-19T17:00:00Z", clock), 7),
                    (ReportDimension.Agent, TimeWindow.Parse("2026-06-17T05:30:00Z", "2026-06-17T17:10:00Z", clock), 1),
                    (ReportDimension.Route, TimeWindow.Parse("7d", null, clock), 100),
                })
                {
                    var whole = await sqlite.ReportAsync(new ReportQuery(by, window));
                    var (shown, count) = await queries.ReportTopAsync(by, window, top, 0, CancellationToken.None);
                    var what = $"top {top} by {by} over {window}";
                    Assert.That(count, Is.EqualTo(whole.Groups.Count), what);
                    Assert.That(shown.Groups, Is.EqualTo(whole.Groups.Take(top).ToList()), what);
                    Assert.That(shown.Total, Is.EqualTo(whole.Total), what);
                    Assert.That(shown.Groups, Is.Not.Empty, what);

                    // Page by page, every group once, in the report's order (the (none) group where it ranks).
                    var paged = new List<SpendGroup>();
                    for (var offset = 0; offset <= count; offset += top)
                    {
                        var (page, pageCount) = await queries.ReportTopAsync(by, window, top, offset, CancellationToken.None);
                        Assert.That(pageCount, Is.EqualTo(count), $"{what}, offset {offset}");
                        Assert.That(page.Total, Is.EqualTo(whole.Total), $"{what}, offset {offset}");
                        paged.AddRange(page.Groups);
                    }

                    Assert.That(paged, Is.EqualTo(whole.Groups), $"{what}, every page");
                }

                // Pages of 3 of the 23 users (eight pages, the last short), and of the routes and agents one at a time,
                // with their (none) groups (no value, and for routes also a literal "(none)") wherever they rank.
                foreach (var (by, top) in new[] { (ReportDimension.User, 3), (ReportDimension.Route, 1), (ReportDimension.Agent, 1) })
                {
                    var whole = await sqlite.ReportAsync(new ReportQuery(by, TimeWindow.All));
                    Assert.That(whole.Groups.Count, Is.GreaterThan(2 * top), $"{by} has pages to turn");
                    var paged = new List<SpendGroup>();
                    for (var offset = 0; offset < whole.Groups.Count; offset += top)
                    {
                        paged.AddRange((await queries.ReportTopAsync(by, TimeWindow.All, top, offset, CancellationToken.None)).Report.Groups);
                    }

                    Assert.That(paged, Is.EqualTo(whole.Groups), $"pages of {top} by {by}");
                }
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Test]
    public async Task TheSeriesOfASqliteLedger_EqualTheSeriesSummedCallByCall()
    {
        var folder = Directory.CreateTempSubdirectory("cage-series-");
        try
        {
            var batch = Calls();
            var memory = new InMemoryLedger();
            await memory.AppendAsync(batch);
            var sqlite = SqliteLedger.Open(Path.Combine(folder.FullName, "ledger.db"));
            await using (sqlite)
            {
                await sqlite.AppendAsync(batch);
                var clock = new Clock(DashboardLedger.End.AddHours(3));
                var fromSqlite = new DashboardQueries(sqlite, clock);
                var fromMemory = new DashboardQueries(memory, clock);
                var windows = new (bool Hourly, ReportDimension By, TimeWindow Window)[]
                {
                    (false, ReportDimension.Model, TimeWindow.All),
                    (false, ReportDimension.Route, TimeWindow.All),
                    (false, ReportDimension.Agent, TimeWindow.Parse("2026-06-13T05:30:00Z", "2026-06-19T17:00:00Z", clock)),
                    (false, ReportDimension.Model, TimeWindow.Parse("7d", null, clock)),
                    (true, ReportDimension.Model, TimeWindow.All),
                    (true, ReportDimension.Route, TimeWindow.Parse("2026-06-17T05:30:00Z", "2026-06-19T17:10:00Z", clock)),
                    (true, ReportDimension.Agent, TimeWindow.Parse("24h", null, clock)),
                    // Whole hours only (call_totals_hour alone), and a dimension not summed per hour (the calls alone).
                    (true, ReportDimension.Model, TimeWindow.Parse("2026-06-17T05:00:00Z", "2026-06-19T17:00:00Z", clock)),
                    (true, ReportDimension.Route, TimeWindow.Parse("7d", null, clock)),
                    (true, ReportDimension.User, TimeWindow.Parse("24h", null, clock)),
                };
                foreach (var (hourly, by, window) in windows)
                {
                    var expected = DashboardJson.Series(await fromMemory.SeriesAsync(hourly, by, window, CancellationToken.None));
                    var actual = DashboardJson.Series(await fromSqlite.SeriesAsync(hourly, by, window, CancellationToken.None));
                    Assert.That(actual, Is.EqualTo(expected), $"{(hourly ? "hour" : "day")} by {by} over {window}");
                    Assert.That(actual, Does.Contain("\"usd\": ["), "the series are not empty");
                }
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Test]
    public async Task ASeriesOfMoreCellsThanItHolds_IsRefusedNamingBy_WhileTheFewSeriesOfTheSameCallsAnswer()
    {
        // 210 users, two calls a day from 7 March to 20 June: 210 series × 106 days is 22,260 cells, over the 20,000 a series holds.
        var memory = new InMemoryLedger();
        var start = DashboardLedger.End.AddDays(-105);
        await memory.AppendAsync(new LedgerBatch(
            [.. Enumerable.Range(0, 210).Select(i => DashboardLedger.Call($"c_cells{i:D4}", start.AddHours(12 * i), "openai", "gpt-4o", "chat", "codex", $"user-{i:D3}", 0.01m))], []));
        var queries = new DashboardQueries(memory, new Clock(DashboardLedger.End));

        var refused = Assert.ThrowsAsync<FormatException>(async () => await queries.SeriesAsync(false, ReportDimension.User, TimeWindow.All, CancellationToken.None));
        Assert.That(refused!.Message, Does.StartWith("by 'user': 210 series × 106 days is more than the 20,000 cells a series holds"));
        var byModel = await queries.SeriesAsync(false, ReportDimension.Model, TimeWindow.All, CancellationToken.None);
        Assert.That(byModel.Groups.Single().Calls.Sum(), Is.EqualTo(210), "one series, every call");
        Assert.That(byModel.Buckets, Has.Count.EqualTo(106));
        var lastWeek = await queries.SeriesAsync(false, ReportDimension.User, TimeWindow.Parse("2026-06-13T00:00:00Z", null, new Clock(DashboardLedger.End)), CancellationToken.None);
        Assert.That(lastWeek.Groups, Has.Count.EqualTo(15), "a week of users is few enough");
    }
}
