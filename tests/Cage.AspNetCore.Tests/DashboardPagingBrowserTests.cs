using System.Globalization;
using System.Text.Json.Nodes;
using CageNet.Ledger;
using OpenQA.Selenium;

namespace CageNet.AspNetCore.Tests;

/// <summary>
/// The Breakdown page over more groups than one page holds: a real <c>cage serve</c> over a SQLite ledger of 250 tasks
/// (with ties in cost and a call without a task), paged through in headless Chromium, against the real
/// <c>cage report --by task --json</c> over the same file.
/// </summary>
[NonParallelizable]
public sealed class DashboardPagingBrowserTests
{
    private const int Tasks = 250;

    private string _folder = "";
    private string _ledger = "";
    private ServeProcess? _serve;
    private Browser? _browser;

    private Browser Chrome => _browser!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = Directory.CreateTempSubdirectory("cage-dashboard-paging-").FullName;
        _ledger = Path.Combine(_folder, "ledger.db");
        var calls = new List<CallRecord>();
        for (var i = 0; i <= Tasks; i++)
        {
            // 40 distinct costs over 250 tasks: each cost is shared by six or seven tasks, so ties are ordered by key;
            // the last call has no task, and its (none) group ranks on the second page, first of the six tasks it ties with.
            calls.Add(DashboardLedger.Call($"c_page{i:D5}", DashboardLedger.End.AddMinutes(-11 * i), "openai", "gpt-4o", "chat", "codex", "alice", 0.01m * (1 + (i % 40)),
                i < Tasks ? $"job-{(i * 7919) % Tasks:D3}" : null));
        }

        await DashboardLedger.AppendAsync(_ledger, calls);
        _serve = await ServeProcess.StartAsync(_folder, "--ledger", _ledger);
        _browser = Browser.Start();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _browser?.Dispose();
        if (_serve is not null)
        {
            await _serve.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    private static decimal? Usd(JsonNode? node) => node is null ? null : decimal.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static decimal? Shown(IWebElement cell) =>
        cell.GetAttribute("data-usd") is var raw && raw == "null" ? null : decimal.Parse(raw!, NumberStyles.Float, CultureInfo.InvariantCulture);

    [Test]
    public async Task PagingThroughEveryTask_ShowsTheRowsOfCageReportByTaskJson()
    {
        var report = JsonNode.Parse(await CageProcess.OutputAsync(_folder, "report", "--by", "task", "--json", "--ledger", _ledger))!;
        var expected = report["groups"]!.AsObject().Select(g => (g.Key, Calls: g.Value!["calls"]!.GetValue<long>(), Usd: Usd(g.Value["usd"]))).ToList();
        Assert.That(expected, Has.Count.EqualTo(Tasks + 1), "250 tasks and the (none) group");

        Chrome.Console();
        Chrome.Load(new Uri(_serve!.Address, "#/breakdown").AbsoluteUri);
        Chrome.WaitFor("#report-table tbody tr");
        Chrome.Driver.FindElement(By.CssSelector("[data-control=dim] [data-value=task]")).Click();
        Chrome.Until(() => Chrome.Driver.FindElements(By.CssSelector("#report-table thead th")).FirstOrDefault()?.Text == "task", "the table by task");

        var shown = new List<(string Key, long Calls, decimal? Usd)>();
        var ranges = new List<string>();
        for (var page = 0; ; page++)
        {
            Assert.That(page, Is.LessThan(10), "the pages end");
            var range = Chrome.WaitFor("#report-range").Text;
            ranges.Add(range);
            var rows = Chrome.Driver.FindElements(By.CssSelector("#report-table tbody tr[data-key]")).Select(r =>
            {
                var cells = r.FindElements(By.TagName("td"));
                Assert.That(cells[0].Text, Is.EqualTo(r.GetAttribute("data-key")), "the key shown as text");
                return (Key: r.GetAttribute("data-key")!, Calls: long.Parse(cells[1].Text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), Usd: Shown(cells[5]));
            }).ToList();
            shown.AddRange(rows);
            var total = Chrome.Driver.FindElements(By.CssSelector("#report-table tr.total td"));
            Assert.That(long.Parse(total[1].Text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), Is.EqualTo(report["total"]!["calls"]!.GetValue<long>()), $"page {page + 1}: the TOTAL counts every group");
            Assert.That(Shown(total[5]), Is.EqualTo(Usd(report["total"]!["usd"])), $"page {page + 1}: the TOTAL's dollars");

            var next = Chrome.Driver.FindElement(By.Id("report-next"));
            if (next.GetAttribute("disabled") is not null)
            {
                break;
            }

            next.Click();
            Chrome.Until(() => Chrome.Driver.FindElements(By.Id("report-range")).FirstOrDefault() is { } r && r.Text != range ? r : null, $"page {page + 2}");
        }

        Assert.That(ranges, Is.EqualTo(new[]
        {
            "Groups 1–100 of 251, most expensive first; the TOTAL counts them all.",
            "Groups 101–200 of 251, most expensive first; the TOTAL counts them all.",
            "Groups 201–251 of 251, most expensive first; the TOTAL counts them all.",
        }));
        Assert.That(shown, Is.EqualTo(expected), "every group once, with its calls and dollars, in the CLI's order");

        // Back to the first page, and the last page straight from there.
        Chrome.Driver.FindElement(By.Id("report-first")).Click();
        Chrome.Until(() => Chrome.Driver.FindElement(By.Id("report-range")).Text.StartsWith("Groups 1–100", StringComparison.Ordinal) ? "" : null, "the first page");
        Assert.That(Chrome.Driver.FindElement(By.Id("report-prev")).GetAttribute("disabled"), Is.Not.Null, "no page before the first");
        Chrome.Driver.FindElement(By.Id("report-last")).Click();
        Chrome.Until(() => Chrome.Driver.FindElement(By.Id("report-range")).Text.StartsWith("Groups 201–251", StringComparison.Ordinal) ? "" : null, "the last page");
        Assert.That(Chrome.Driver.FindElement(By.CssSelector("#report-table tbody tr[data-key]")).GetAttribute("data-key"), Is.EqualTo(expected[200].Key));
        Chrome.Screenshot("breakdown-task-last-page");

        var errors = Chrome.Console().Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level}: {e.Message}").ToList();
        Assert.That(errors, Is.Empty, "the browser console reported problems");
    }
}
