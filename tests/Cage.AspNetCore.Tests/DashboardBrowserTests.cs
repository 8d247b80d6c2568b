using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CageNet.Ledger;
using OpenQA.Selenium;

namespace CageNet.AspNetCore.Tests;

/// <summary>
/// The dashboard as a person sees it: a real <c>cage serve</c> process over a real SQLite ledger (the worked example
/// plus two weeks of calls), loaded in headless Chromium. What the page shows is compared with what the real
/// <c>cage … --json</c> prints over the same ledger file.
/// </summary>
[NonParallelizable]
public sealed class DashboardBrowserTests
{
    private string _folder = "";
    private string _ledger = "";
    private ServeProcess? _serve;
    private Browser? _browser;
    private readonly HttpClient _http = new();

    private Browser Chrome => _browser!;

    private string Url(string page) => new Uri(_serve!.Address, "#/" + page).AbsoluteUri;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = Directory.CreateTempSubdirectory("cage-dashboard-").FullName;
        _ledger = await DashboardLedger.CreateAsync(_folder);
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

        _http.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<string> CliAsync(params string[] args) => CageProcess.OutputAsync(_folder, [.. args, "--ledger", _ledger]);

    private async Task<JsonNode> CliJsonAsync(params string[] args) => JsonNode.Parse(await CliAsync([.. args, "--json"]))!;

    /// <summary>Loads a page and waits until it shows <paramref name="ready"/>; the console must stay free of errors.</summary>
    private void Open(string page, string ready)
    {
        Chrome.Console();
        Chrome.Load(Url(page));
        Chrome.WaitFor(ready);
        AssertNoConsoleErrors();
    }

    private void AssertNoConsoleErrors()
    {
        var errors = Chrome.Console().Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level}: {e.Message}").ToList();
        Assert.That(errors, Is.Empty, "the browser console reported problems");
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#main .error")).Select(e => e.Text), Is.Empty, "the page shows an error");
    }

    /// <summary>The dashboard's money format (app.js <c>usd</c>): $100 and up and whole dollars with cents, else 4 decimals, else 6.</summary>
    private static string Money(decimal? value)
    {
        if (value is not { } v)
        {
            return "unknown";
        }

        var m = Math.Abs(v);
        var sign = v < 0 ? "-" : "";
        if (m >= 100 || m == decimal.Truncate(m))
        {
            return sign + "$" + m.ToString("#,##0.00", CultureInfo.InvariantCulture);
        }

        var four = Math.Round(m, 4, MidpointRounding.AwayFromZero);
        return four != 0 ? sign + "$" + four.ToString("#,##0.0000", CultureInfo.InvariantCulture) : sign + "$" + Math.Round(m, 6).ToString("0.######", CultureInfo.InvariantCulture);
    }

    /// <summary>The headline figures' format (app.js <c>usdBig</c>): whole cents from $1 up, else <see cref="Money"/>.</summary>
    private static string Headline(decimal? value) =>
        value is { } v && Math.Abs(v) >= 1 ? (v < 0 ? "-$" : "$") + Math.Round(Math.Abs(v), 2, MidpointRounding.AwayFromZero).ToString("#,##0.00", CultureInfo.InvariantCulture) : Money(value);

    private static decimal? Usd(JsonNode? node) => node is null ? null : decimal.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static decimal? Shown(IWebElement cell)
    {
        var raw = cell.GetAttribute("data-usd");
        return raw == "null" ? null : decimal.Parse(raw!, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    [TestCase("overview", "#spend-chart rect.seg")]
    [TestCase("breakdown", "#report-table tbody tr")]
    [TestCase("task", "#matrix-table tbody tr")]
    [TestCase("budgets", "#budget-table tbody tr")]
    [TestCase("calls", "#calls-table tbody tr")]
    [TestCase("calls/c_s1call000001", "#why")]
    [TestCase("forecast", "#forecast-chart rect")]
    public void EveryPage_LoadsWithoutConsoleErrors_AndIsCaptured(string page, string ready)
    {
        Open(page, ready);
        Assert.That(Chrome.Driver.FindElement(By.CssSelector("#nav a.active")).GetAttribute("data-page"), Is.EqualTo(page.Split('/')[0]));
        var shot = Chrome.Screenshot(page.Replace('/', '-'));
        Assert.That(new FileInfo(shot).Length, Is.GreaterThan(10_000), "a screenshot of a rendered page");
    }

    [Test]
    public async Task Overview_StacksTheSeriesPerModel_WithLabelledAxes_AndTheCliTotal()
    {
        Open("overview", "#spend-chart rect.seg");
        var series = JsonNode.Parse(await _http.GetStringAsync(new Uri(_serve!.Address, "api/series?bucket=day&by=model")))!;
        var segments = Chrome.Driver.FindElements(By.CssSelector("#spend-chart rect.seg"))
            .Select(r => (Key: r.GetAttribute("data-key")!, Usd: Shown(r)!.Value, Height: double.Parse(r.GetAttribute("height")!, CultureInfo.InvariantCulture)))
            .ToList();
        Assert.That(segments.Where(s => s.Usd > 0).All(s => s.Height >= 1), Is.True, "every segment with spend is drawn");
        foreach (var group in series["series"]!.AsArray())
        {
            var key = group!["key"]!.GetValue<string>();
            var drawn = segments.Where(s => s.Key == key).Sum(s => s.Usd);
            Assert.That(drawn, Is.EqualTo(Usd(group["total_usd"])!.Value).Within(1e-9m), $"the chart's segments of {key}");
        }

        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#legend .legend-item")).Select(e => e.Text),
            Is.EqualTo(series["series"]!.AsArray().Select(g => g!["key"]!.GetValue<string>())), "one legend entry per series, most expensive first");
        var titles = Chrome.Driver.FindElements(By.CssSelector("#spend-chart .axis-title")).Select(e => e.Text).ToList();
        Assert.That(titles, Is.EquivalentTo(new[] { "Spend (USD)", "Day (UTC)" }));
        var ticks = Chrome.Driver.FindElements(By.CssSelector("#spend-chart text.tick.y")).Select(e => e.Text).ToList();
        Assert.That(ticks, Has.Count.GreaterThanOrEqualTo(3).And.All.StartsWith("$"));

        var report = await CliJsonAsync("report", "--by", "model");
        Assert.That(Chrome.Driver.FindElement(By.CssSelector("#kpi-total .value")).Text, Is.EqualTo(Headline(Usd(report["total"]!["usd"]))));

        Chrome.Driver.FindElement(By.CssSelector("[data-control=bucket] [data-value=hour]")).Click();
        Chrome.Until(() => Chrome.Driver.FindElements(By.CssSelector("#spend-chart .axis-title")).Any(e => e.Text == "Hour (UTC)"), "the hourly chart");
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#spend-chart rect.seg")), Is.Not.Empty, "the last 48 hours of data, per hour");
        Chrome.Driver.FindElement(By.CssSelector("[data-control=by] [data-value=route]")).Click();
        Chrome.Until(() => Chrome.Driver.FindElements(By.CssSelector("#legend .legend-item")).Any(e => e.Text == "chat"), "the chart stacked by route");
        AssertNoConsoleErrors();
    }

    [TestCase("model")]
    [TestCase("route")]
    [TestCase("agent")]
    [TestCase("user")]
    [TestCase("session")]
    public async Task Breakdown_ShowsTheNumbersOfCageReportJson(string dimension)
    {
        Open("breakdown", "#report-table tbody tr");
        Chrome.Driver.FindElement(By.CssSelector($"[data-control=dim] [data-value={dimension}]")).Click();
        Chrome.Until(() => Chrome.Driver.FindElements(By.CssSelector("#report-table thead th")).FirstOrDefault()?.Text == dimension, $"the table by {dimension}");
        var report = await CliJsonAsync("report", "--by", dimension);
        var expected = report["groups"]!.AsObject().Select(g => (g.Key, Calls: g.Value!["calls"]!.GetValue<long>(), Usd: Usd(g.Value["usd"]))).ToList();
        var rows = Chrome.Driver.FindElements(By.CssSelector("#report-table tbody tr[data-key]")).Select(r =>
        {
            var cells = r.FindElements(By.TagName("td"));
            return (Key: r.GetAttribute("data-key")!, Calls: long.Parse(cells[1].Text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), Usd: Shown(cells[5]), Text: cells[5].Text, Name: cells[0].Text);
        }).ToList();
        Assert.That(rows.Select(r => (r.Key, r.Calls, r.Usd)), Is.EqualTo(expected), "groups, calls and dollars in the CLI's order");
        Assert.That(rows.Select(r => r.Name), Is.EqualTo(expected.Select(e => e.Key)), "group names shown as text");
        Assert.That(rows.Select(r => r.Text), Is.EqualTo(expected.Select(e => Money(e.Usd))), "dollars shown readably");
        var total = Chrome.Driver.FindElement(By.CssSelector("#report-table tr.total td:nth-child(6)"));
        Assert.That(Shown(total), Is.EqualTo(Usd(report["total"]!["usd"])));
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#report-chart rect.hbar")), Has.Count.EqualTo(Math.Min(12, expected.Count)), "one bar per group");
        AssertNoConsoleErrors();
    }

    [Test]
    public async Task Task_ShowsTheWorkedExample_72PercentMatrix_AndItsAttribution()
    {
        Open("task", "#matrix-table tbody tr");
        Assert.That(Chrome.Driver.FindElement(By.Id("task-name")).Text, Is.EqualTo("fix-handover-bug"));
        Assert.That(Chrome.Driver.FindElement(By.CssSelector("#kpi-cheaper .value")).Text, Is.EqualTo("72% cheaper"));

        var matrix = await CliJsonAsync("matrix", "--task", "fix-handover-bug");
        Assert.That(matrix["cheaper_pct"]!.GetValue<int>(), Is.EqualTo(72));
        var tools = matrix["tools"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        var expectedRows = matrix["rows"]!.AsArray().Select(r => (
            On: string.Join(",", tools.Select(t => r!["on"]![t]!.GetValue<bool>() ? "on" : "off")),
            Usd: Usd(r!["cost_usd"]),
            Source: r["source"]!.GetValue<string>())).ToList();
        var shownRows = Chrome.Driver.FindElements(By.CssSelector("#matrix-table tbody tr")).Select(r =>
        {
            var cells = r.FindElements(By.TagName("td"));
            return (On: string.Join(",", cells.Take(tools.Count).Select(c => c.Text)), Usd: Shown(cells[tools.Count + 1]), Source: cells[tools.Count + 2].Text);
        }).ToList();
        Assert.That(shownRows, Is.EqualTo(expectedRows), "every on/off combination with its cost and how it is known");
        Assert.That(shownRows.Count(r => r.Source == "measured"), Is.EqualTo(1), "only the configuration actually run is measured");

        var attrib = await CliJsonAsync("attrib", "--task", "fix-handover-bug");
        var steps = attrib["steps"]!.AsArray().Select(s => (Tool: s!["tool"]!.GetValue<string>(), Method: s["method"]!.GetValue<string>(), Usd: Usd(s["saved_usd"]))).ToList();
        var shownSteps = Chrome.Driver.FindElements(By.CssSelector("#attrib-table tbody tr[data-tool]")).Select(r =>
        {
            var cells = r.FindElements(By.TagName("td"));
            return (Tool: cells[0].Text, Method: cells[1].Text, Usd: Shown(cells[7]));
        }).ToList();
        Assert.That(shownSteps, Is.EqualTo(steps), "per tool: method and dollars saved");
        Assert.That(Chrome.Driver.FindElement(By.CssSelector("#kpi-saved .value")).Text, Is.EqualTo(Money(Usd(attrib["total_saved_usd"]))));
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#attrib-chart rect.hbar")), Has.Count.EqualTo(steps.Count));
        var residual = Chrome.Driver.FindElement(By.CssSelector("#residual-table tbody tr")).FindElements(By.TagName("td")).Select(c => c.Text).ToList();
        Assert.That(residual.Take(4), Is.EqualTo(new[] { "c_s1call000001", "8,600", "6,600", "2,000" }), "the call's residual: prompt tokens the receipts do not explain");
    }

    [Test]
    public async Task Budgets_ShowEachNodeOfCageBudgetJson()
    {
        Open("budgets", "#budget-table tbody tr");
        var budget = await CliJsonAsync("budget");
        var expected = budget["scopes"]!.AsObject().Select(s => (s.Key, Cap: Usd(s.Value!["cap"]), Spent: Usd(s.Value["spent"]))).ToList();
        Assert.That(expected, Is.Not.Empty, "cage demo's policy has budgets");
        var rows = Chrome.Driver.FindElements(By.CssSelector("#budget-table tbody tr")).Select(r =>
        {
            var cells = r.FindElements(By.TagName("td"));
            return (r.GetAttribute("data-node")!, Cap: Shown(cells[3]), Spent: Shown(cells[2]));
        }).ToList();
        Assert.That(rows, Is.EqualTo(expected));
    }

    [Test]
    public void Calls_OpenTheirProvenance()
    {
        Open("calls", "#calls-table tbody tr");
        Chrome.Driver.FindElement(By.CssSelector("tr[data-call=c_s1call000001]")).Click();
        var why = Chrome.WaitFor("#why");
        Assert.That(why.Text, Does.Contain("graphify").And.Contain("fux").And.Contain("compressor").And.Contain("= 2,000"));
        Assert.That(Chrome.Driver.Url, Does.EndWith("#/calls/c_s1call000001"));
        AssertNoConsoleErrors();
    }

    [Test]
    public async Task TheXssCanary_IsShownAsText_AndNeverRuns()
    {
        Open("overview", "#legend .legend-item");
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#legend .legend-item")).Select(e => e.Text), Does.Contain(DashboardLedger.Canary));
        Chrome.Driver.FindElement(By.CssSelector("[data-control=by] [data-value=route]")).Click();
        Chrome.Until(() => Chrome.Driver.FindElements(By.CssSelector("#legend .legend-item")).Any(e => e.Text == DashboardLedger.CanaryRoute), "the canary route in the legend");
        Open("calls", "#calls-table tbody tr");
        Assert.That(Chrome.Driver.FindElements(By.CssSelector("#calls-table td.key")).Select(e => e.Text), Does.Contain(DashboardLedger.Canary));

        Assert.Throws<NoAlertPresentException>(() => Chrome.Driver.SwitchTo().Alert(), "no alert() ran");
        Assert.That(Chrome.Script("return document.scripts.length;"), Is.EqualTo(1L), "no script element besides app.js");
        Assert.That(Chrome.Script("return document.querySelectorAll('img').length;"), Is.EqualTo(0L), "no image element was injected");
        Assert.That((string)Chrome.Script("return document.getElementById('main').innerHTML;")!, Does.Contain("&lt;script&gt;alert(1)&lt;/script&gt;"), "the name is text, escaped in the markup");
        AssertNoConsoleErrors();
    }

    /// <summary>The calls land on the ledger's last day (not today), so the other pages' ranges stay the same.</summary>
    [Test]
    public async Task ACallMeteredWhileThePageIsOpen_AppearsWithoutAReload()
    {
        Open("calls", "#calls-table tbody tr");
        Chrome.Script("window.cageMarker = 42;");
        var id = "c_live" + Guid.NewGuid().ToString("N")[..10];
        await DashboardLedger.AppendAsync(_ledger, [DashboardLedger.Call(id, DashboardLedger.End.AddMinutes(1), "openai", "gpt-4o", "chat", "codex", "alice", 1.25m)]);
        var row = Chrome.WaitFor($"tr[data-call={id}]", seconds: 20);
        Assert.That(row.Text, Does.Contain("gpt-4o").And.Contain("$1.2500"));
        Assert.That(Chrome.Script("return window.cageMarker;"), Is.EqualTo(42L), "the page was updated in place, not reloaded");

        Open("overview", "#kpi-total");
        Chrome.Script("window.cageMarker = 43;");
        var before = Chrome.Driver.FindElement(By.CssSelector("#kpi-total .value")).Text;
        await DashboardLedger.AppendAsync(_ledger, [DashboardLedger.Call(id + "b", DashboardLedger.End.AddMinutes(2), "openai", "gpt-4o", "chat", "codex", "bob", 2m)]);
        var report = await CliJsonAsync("report", "--by", "model");
        var expected = Headline(Usd(report["total"]!["usd"]));
        Assert.That(expected, Is.Not.EqualTo(before));
        Chrome.Until(() => Chrome.Driver.FindElement(By.CssSelector("#kpi-total .value")).Text == expected, $"the total to become {expected} (was {before})", seconds: 20);
        Assert.That(Chrome.Script("return window.cageMarker;"), Is.EqualTo(43L), "no reload");
        AssertNoConsoleErrors();
    }

    [Test]
    public async Task TheJsonEndpoints_EqualTheCliJson()
    {
        async Task Same(string endpoint, params string[] cli)
        {
            var served = await _http.GetStringAsync(new Uri(_serve!.Address, "api/" + endpoint));
            Assert.That(served, Is.EqualTo(await CliAsync([.. cli, "--json"])), $"api/{endpoint} vs cage {string.Join(' ', cli)} --json");
        }

        foreach (var dimension in new[] { "model", "route", "agent", "user", "session", "provider", "day", "task" })
        {
            await Same("report?by=" + dimension, "report", "--by", dimension);
        }

        await Same("report?by=model&since=2026-06-15&until=2026-06-19", "report", "--by", "model", "--since", "2026-06-15", "--until", "2026-06-19");
        await Same("attrib", "attrib");
        await Same("attrib?task=fix-handover-bug&shapley=true", "attrib", "--task", "fix-handover-bug", "--shapley");
        await Same("matrix?task=fix-handover-bug", "matrix", "--task", "fix-handover-bug");
        await Same("matrix?task=fix-handover-bug&tools=graphify,fux", "matrix", "--task", "fix-handover-bug", "--tools", "graphify,fux");
        await Same("roi", "roi");
        await Same("why/c_s1call000001", "why", "c_s1call000001");

        // Two views read the clock: compare them without the fields that moved between the two requests.
        async Task SameBut(string endpoint, string[] cli, params string[] clockFields)
        {
            var served = JsonNode.Parse(await _http.GetStringAsync(new Uri(_serve!.Address, "api/" + endpoint)))!.AsObject();
            var printed = (await CliJsonAsync(cli)).AsObject();
            foreach (var field in clockFields)
            {
                Assert.That(served.ContainsKey(field) && printed.ContainsKey(field), $"{field} in both");
                served.Remove(field);
                printed.Remove(field);
            }

            Assert.That(served.ToJsonString(), Is.EqualTo(printed.ToJsonString()), $"api/{endpoint} vs cage {string.Join(' ', cli)} --json");
        }

        await SameBut("budget", ["budget"], "as_of");
        await SameBut("forecast", ["forecast"], "days_left");

        using var bad = await _http.GetAsync(new Uri(_serve!.Address, "api/report?by=colour"));
        Assert.That((int)bad.StatusCode, Is.EqualTo(400));
        Assert.That(JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]!.GetValue<string>(), Does.StartWith("by 'colour': use one of route, model"));
        using var missing = await _http.GetAsync(new Uri(_serve!.Address, "api/why/c_nosuchcall"));
        Assert.That((int)missing.StatusCode, Is.EqualTo(404));
    }
}
