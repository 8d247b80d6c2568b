using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json.Nodes;
using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Client;

namespace CageNet.Mcp.Tests;

/// <summary>
/// <c>MapCageMcp()</c> in a real ASP.NET Core host on loopback (Kestrel, 127.0.0.1, a free port), over the host's own
/// Cage services and a real SQLite ledger, called by the SDK's Streamable HTTP client.
/// </summary>
[TestFixture]
[Category("Process")]
public sealed class MapCageMcpTests
{
    [Test]
    public async Task MapCageMcp_OverLoopbackHttp_ServesTheToolsFromTheHostsServices()
    {
        using var folder = new CageFolder();
        await folder.SeedAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddCage(o => o.Tools.Order = ["graphify", "fux", "compressor"])
            .AddSqliteLedger(o => o.Path = folder.LedgerPath)
            .AddAttribution()
            .AddBudgets(o => o.Node("day").CapUsd(25).Every(BudgetPeriod.Day));
        builder.Services.AddMcpServer().WithHttpTransport().WithCageTools();
        await using var app = builder.Build();
        app.MapCageMcp();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(address + "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
        })))
        {
            var tools = await client.ListToolsAsync();
            Assert.That(tools.Select(t => t.Name), Is.EquivalentTo(new[] { "report", "attrib", "matrix", "roi", "budget_status", "why", "forecast", "record_receipt" }));

            var report = await client.CallToolAsync("report", ToolResults.Arguments("""{"by": "model"}"""));
            Assert.That(ToolResults.Text(report), Is.EqualTo(await folder.JsonAsync("report", "--by", "model", "--json")));
            var matrix = await client.CallToolAsync("matrix", ToolResults.Arguments("""{"task": "fix-handover-bug"}"""));
            Assert.That(ToolResults.Text(matrix), Is.EqualTo(await folder.JsonAsync("matrix", "--task", "fix-handover-bug", "--json")));

            var budget = ToolResults.Structured(await client.CallToolAsync("budget_status", ToolResults.Arguments("{}")));
            ToolResults.AssertValid(tools.Single(t => t.Name == "budget_status").ProtocolTool.OutputSchema!.Value, budget, "budget_status");
            Assert.That(budget["scopes"]!["day"]!["cap"]!.GetValue<decimal>(), Is.EqualTo(25m));
            Assert.That(budget["scopes"]!["day"]!["used"]!.GetValue<decimal>(), Is.GreaterThan(0m), "the host's guard rebuilt today's spend from the ledger");

            var receipt = ToolResults.Structured(await client.CallToolAsync("record_receipt", ToolResults.Arguments(
                """{"tool": "http-cache", "raw_alternative": 5000, "actual": 1000, "call": "c_s1call000001", "unit": "tokens"}""")));
            var why = JsonNode.Parse(await folder.JsonAsync("why", "c_s1call000001", "--json"))!;
            Assert.That(why["receipts"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()), Does.Contain(receipt["id"]!.GetValue<string>()),
                "the host's meter wrote the receipt to the ledger file before the tool returned");

            var bad = await client.CallToolAsync("why", ToolResults.Arguments("""{"call_id": "c_nope"}"""));
            Assert.That(bad.IsError, Is.True);
            Assert.That(ToolResults.Text(bad), Does.Contain("argument 'call_id': no call with id 'c_nope'"));
        }

        await app.StopAsync();
    }

    [Test]
    public async Task CallTool_HostWithoutBudgets_SaysWhichRegistrationIsMissing()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddCage().AddInMemoryLedger().AddAttribution();
        builder.Services.AddMcpServer().WithHttpTransport().WithCageTools().WithCageTools();
        await using var app = builder.Build();
        app.MapCageMcp("/agents/mcp");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(address + "/agents/mcp") })))
        {
            Assert.That(await client.ListToolsAsync(), Has.Count.EqualTo(8), "a second WithCageTools() adds nothing");
            var result = await client.CallToolAsync("budget_status", ToolResults.Arguments("{}"));
            Assert.That(result.IsError, Is.True);
            Assert.That(ToolResults.Text(result), Does.Contain("AddBudgets"));
            var tools = await client.ListToolsAsync();
            var report = ToolResults.Structured(await client.CallToolAsync("report", ToolResults.Arguments("{}")));
            Assert.That(report["total"]!["calls"]!.GetValue<long>(), Is.Zero);
            ToolResults.AssertValid(tools.Single(t => t.Name == "report").ProtocolTool.OutputSchema!.Value, report, "report of an empty ledger");
            foreach (var tool in new[] { "attrib", "matrix" })
            {
                var none = ToolResults.Structured(await client.CallToolAsync(tool, ToolResults.Arguments("{}")));
                Assert.That(none.ToJsonString(), Is.EqualTo("""{"task":null}"""), tool);
                ToolResults.AssertValid(tools.Single(t => t.Name == tool).ProtocolTool.OutputSchema!.Value, none, $"{tool} of an empty ledger");
            }

            var forecast = ToolResults.Structured(await client.CallToolAsync("forecast", ToolResults.Arguments("{}")));
            Assert.That(forecast["monthly_cap"], Is.Null, "no budgets, no budget_usd: no cap");
            ToolResults.AssertValid(tools.Single(t => t.Name == "forecast").ProtocolTool.OutputSchema!.Value, forecast, "forecast of an empty ledger");
        }

        await app.StopAsync();
    }

    [Test]
    public async Task MapCageMcp_WithoutTheCageTools_SaysWhatToRegister()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddMcpServer().WithHttpTransport();
        await using var app = builder.Build();

        Assert.That(() => app.MapCageMcp(), Throws.InvalidOperationException.With.Message.Contains("WithCageTools()"));
    }

    [Test]
    public async Task MapCageMcp_RequireAuthorization_RefusesAClientWithoutCredentials()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddCage().AddInMemoryLedger().AddAttribution();
        builder.Services.AddAuthentication(KeyHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, KeyHandler>(KeyHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddMcpServer().WithHttpTransport().WithCageTools();
        await using var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapCageMcp().RequireAuthorization();
        await app.StartAsync();
        var endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/mcp");

        using (var http = new HttpClient())
        {
            using var anonymous = await http.PostAsync(endpoint, new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }

        Assert.That(async () => await (await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }))).DisposeAsync(),
            Throws.Exception, "the SDK client cannot connect without the key");
        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = endpoint,
            AdditionalHeaders = new Dictionary<string, string> { [KeyHandler.Header] = KeyHandler.Key },
        })))
        {
            Assert.That(await client.ListToolsAsync(), Has.Count.EqualTo(8));
        }

        await app.StopAsync();
    }

    /// <summary>A minimal authentication scheme: a request is authenticated when it carries the key header.</summary>
    private sealed class KeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "key";
        public const string Header = "X-Agent-Key";
        public const string Key = "s3cret";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
            Task.FromResult(Request.Headers[Header] == Key
                ? AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "agent")], SchemeName)), SchemeName))
                : AuthenticateResult.NoResult());
    }
}
