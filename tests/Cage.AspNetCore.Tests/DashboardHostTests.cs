using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using CageNet.Ledger;
using CageNet.Views;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CageNet.AspNetCore.Tests;

/// <summary><c>app.MapCageDashboard("/cage")</c> in a host's own Kestrel app on loopback, over the host's ledger.</summary>
public sealed class DashboardHostTests
{
    private static async Task<WebApplication> HostAsync(Action<IServiceCollection> services, Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        services(builder.Services);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");

    private static async Task<ILedgerReader> SeedAsync(IServiceProvider services)
    {
        await services.GetRequiredService<ILedgerStore>().AppendAsync(new LedgerBatch(
        [
            DashboardLedger.Call("c_host000001", DashboardLedger.End, "openai", "gpt-4o", "chat", "codex", "alice", 0.25m),
            DashboardLedger.Call("c_host000002", DashboardLedger.End.AddHours(1), "anthropic", "claude-sonnet-4-5", "search", "codex", "bob", 1.5m),
        ], []));
        return services.GetRequiredService<ILedgerReader>();
    }

    [Test]
    public async Task TheReturnedBuilder_TakesRequireAuthorization_ForEveryEndpointOfTheDashboard()
    {
        await using var app = await HostAsync(
            s =>
            {
                s.AddCage().AddAttribution();
                s.AddAuthentication(HeaderAuthentication.Name).AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.Name, null);
                s.AddAuthorization(o => o.AddPolicy("finops", p => p.RequireClaim("team", "finops")));
            },
            a =>
            {
                a.UseAuthentication();
                a.UseAuthorization();
                a.MapCageDashboard("/cage").RequireAuthorization("finops");
            });
        var reader = await SeedAsync(app.Services);
        using var http = new HttpClient { BaseAddress = Address(app) };
        foreach (var path in new[] { "cage/", "cage/app.js", "cage/app.css", "cage/api/report?by=model", "cage/api/series", "cage/api/calls", "cage/api/events", "cage/api/why/c_host000001" })
        {
            using var anonymous = await http.GetAsync(path);
            Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), path);
            using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "X-Team", "sales" } } };
            using var outsider = await http.SendAsync(request);
            Assert.That(outsider.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), path);
        }

        using var allowed = new HttpRequestMessage(HttpMethod.Get, "cage/api/report?by=model") { Headers = { { "X-Team", "finops" } } };
        using var response = await http.SendAsync(allowed);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo(CageViews.Json(await reader.ReportAsync(new ReportQuery(ReportDimension.Model, TimeWindow.All)))));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task AReportWithoutTop_OverMoreGroupsThanItListsInFull_AnswersWithTheFirstPage(bool sqlite)
    {
        var folder = Directory.CreateTempSubdirectory("cage-dashboard-unpaged-").FullName;
        try
        {
            await using var app = await HostAsync(
                s =>
                {
                    var cage = s.AddCage();
                    if (sqlite) cage.AddSqliteLedger(o => o.Path = Path.Combine(folder, "ledger.db"));
                    cage.AddAttribution();
                },
                a => a.MapCageDashboard("/cage"));
            var tasks = DashboardApi.MaxUnpaged + 5;
            var calls = Enumerable.Range(0, tasks).Select(i => DashboardLedger.Call(
                "c_unpaged" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), DashboardLedger.End.AddMinutes(-i), "openai", "gpt-4o",
                "chat", "codex", "alice", 0.001m * (i % 97 + 1), task: "t" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture))).ToList();
            await app.Services.GetRequiredService<ILedgerStore>().AppendAsync(new LedgerBatch(calls, []));
            var reader = app.Services.GetRequiredService<ILedgerReader>();
            using var http = new HttpClient { BaseAddress = Address(app) };

            var unpaged = await http.GetStringAsync("cage/api/report?by=task");
            var page = await http.GetStringAsync($"cage/api/report?by=task&top={DashboardApi.MaxTop}");
            Assert.That(unpaged, Is.EqualTo(page), "past MaxUnpaged groups, a request without top is the first page");
            Assert.That(unpaged, Does.Contain($"\"top\": {DashboardApi.MaxTop},\n  \"offset\": 0,\n  \"omitted\": {tasks - DashboardApi.MaxTop},"));

            // At most MaxUnpaged groups: the CLI's --json listing, whole.
            Assert.That(await http.GetStringAsync("cage/api/report?by=model"), Is.EqualTo(CageViews.Json(await reader.ReportAsync(new ReportQuery(ReportDimension.Model, TimeWindow.All)))));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task TheDashboard_ServesItsPageAndTheViewsOfTheHostsLedger_AndRefusesBadArguments()
    {
        await using var app = await HostAsync(s => s.AddCage().AddAttribution(), a => a.MapCageDashboard("/ops/cage", o => o.Title = "Acme <LLM> spend"));
        var reader = await SeedAsync(app.Services);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Address(app) };

        using var bare = await http.GetAsync("ops/cage?x=1");
        Assert.That(bare.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(bare.Headers.Location!.OriginalString, Is.EqualTo("/ops/cage/?x=1"), "the page's relative URLs resolve under the prefix");

        using var page = await http.GetAsync("ops/cage/");
        var html = await page.Content.ReadAsStringAsync();
        Assert.That(page.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/html"));
        Assert.That(html, Does.Contain("<title>Acme &lt;LLM&gt; spend · spend</title>"), "the title is HTML-encoded");
        Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("https://"), "no CDN, no external asset");
        Assert.That(page.Headers.GetValues("Content-Security-Policy").Single(), Does.Contain("script-src 'self'"));
        var script = await http.GetStringAsync("ops/cage/app.js");
        Assert.That(script.Replace("\"http://www.w3.org/2000/svg\"", "", StringComparison.Ordinal), Does.Not.Contain("innerHTML =").And.Not.Contain("http://").And.Not.Contain("https://"), "nothing but the SVG namespace names a URL");

        Assert.That(await http.GetStringAsync("ops/cage/api/report?by=route"), Is.EqualTo(CageViews.Json(await reader.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All)))));
        var top = await http.GetStringAsync("ops/cage/api/report?by=route&top=1");
        Assert.That(top, Does.Contain("\"search\": {").And.Not.Contain("\"chat\"").And.Contain("\"top\": 1,\n  \"offset\": 0,\n  \"omitted\": 1,"));
        Assert.That(top, Does.Contain("\"calls\": 2,\n    \"usd\": 1.75"), "the total counts the groups left out");
        var second = await http.GetStringAsync("ops/cage/api/report?by=route&top=1&offset=1");
        Assert.That(second, Does.Contain("\"chat\": {").And.Not.Contain("\"search\"").And.Contain("\"top\": 1,\n  \"offset\": 1,\n  \"omitted\": 1,"));
        Assert.That(second, Does.Contain("\"calls\": 2,\n    \"usd\": 1.75"), "every page's total counts every group");
        var past = await http.GetStringAsync("ops/cage/api/report?by=route&top=5&offset=2");
        Assert.That(past, Does.Contain("\"groups\": {},").And.Contain("\"offset\": 2,\n  \"omitted\": 2,"), "a page past the last group is empty");
        var call = (await reader.FindCallAsync("c_host000002"))!;
        Assert.That(await http.GetStringAsync("ops/cage/api/why/c_host000002"), Is.EqualTo(CageViews.Json(call, await reader.ReceiptsForCallAsync("c_host000002"))));
        var calls = await http.GetStringAsync("ops/cage/api/calls?limit=1");
        Assert.That(calls, Does.Contain("\"id\": \"c_host000002\"").And.Not.Contain("c_host000001"), "the newest call only");
        var series = await http.GetStringAsync("ops/cage/api/series?bucket=hour&by=route");
        Assert.That(series, Does.Contain("\"key\": \"search\"").And.Contain("\"total_usd\": 1.5"));

        foreach (var (query, message) in new[]
        {
            ("report?by=colour", "by 'colour'"),
            ("report?since=yesterdayish", "since/until"),
            ("series?bucket=week", "bucket 'week'"),
            ("series?bucket=hour&since=2020-01-01", "bucket 'hour' covers at most 14 days"),
            ("calls?limit=0", "limit '0'"),
            ("report?by=task&top=0", "top '0'"),
            ("report?by=task&top=251", "top '251': give a whole number from 1 to 250"),
            ("report?by=task&top=100&offset=-1", "offset '-1'"),
            ("report?by=task&offset=100", "offset '100' pages the groups: give top too"),
            ("series?bucket=hour&by=user&since=7d", "by 'user' per hour covers at most 48 hours"),
            ("series?bucket=hour&by=session&since=2020-01-01", "bucket 'hour' covers at most 14 days"),
            ("forecast?since=2026-01-01", "since '2026-01-01' is not a span"),
            ("attrib?shapley=maybe", "shapley 'maybe'"),
        })
        {
            using var bad = await http.GetAsync("ops/cage/api/" + query);
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), query);
            Assert.That(await bad.Content.ReadAsStringAsync(), Does.Contain(message), query);
        }
    }

    [Test]
    public async Task TheLiveFeed_AnnouncesNewCalls()
    {
        await using var app = await HostAsync(s => s.AddCage().AddAttribution(), a => a.MapCageDashboard("/cage", o => o.RefreshInterval = TimeSpan.FromMilliseconds(100)));
        await SeedAsync(app.Services);
        using var http = new HttpClient { BaseAddress = Address(app) };
        using var stream = new StreamReader(await http.GetStreamAsync("cage/api/events"));
        Assert.That(await NextEventAsync(stream), Is.EqualTo("{\"calls\":2,\"usd\":1.75}"));
        await app.Services.GetRequiredService<ILedgerStore>().AppendAsync(new LedgerBatch([DashboardLedger.Call("c_host000003", DashboardLedger.End, "openai", "gpt-4o", "chat", "codex", "alice", 0.5m)], []));
        Assert.That(await NextEventAsync(stream), Is.EqualTo("{\"calls\":3,\"usd\":2.25}"));
    }

    private static async Task<string> NextEventAsync(StreamReader stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await stream.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }

        throw new EndOfStreamException("the event stream ended");
    }

    [Test]
    public void Mapping_WithoutTheAttributionService_SaysWhatToRegister()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddCage();
        using var app = builder.Build();
        var ex = Assert.Throws<InvalidOperationException>(() => app.MapCageDashboard());
        Assert.That(ex!.Message, Does.Contain("AddAttribution()"));
    }

    /// <summary>A test scheme: the caller's team comes from the <c>X-Team</c> header; no header, no identity.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Name = "Header";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue("X-Team", out var team))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim("team", team.ToString())], Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
        }
    }
}
