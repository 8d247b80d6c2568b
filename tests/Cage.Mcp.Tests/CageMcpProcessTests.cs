using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;

namespace CageNet.Mcp.Tests;

/// <summary>
/// The real <c>cage mcp</c> process over a real SQLite ledger (the worked example plus two calls of the last hours),
/// driven by the official SDK's <see cref="McpClient"/> over stdio. Every tool's structured result is compared with the
/// real <c>cage … --json</c> over the same ledger and checked against the output schema the tool declares.
/// </summary>
[TestFixture]
[Category("Process")]
[NonParallelizable]
public sealed class CageMcpProcessTests
{
    private static readonly string[] ToolNames = ["report", "attrib", "matrix", "roi", "budget_status", "why", "forecast", "record_receipt"];

    private CageFolder _folder = null!;
    private McpClient _client = null!;
    private IList<McpClientTool> _tools = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _folder = new CageFolder();
        await _folder.SeedAsync();
        _client = await _folder.StartMcpAsync();
        _tools = await _client.ListToolsAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        _folder?.Dispose();
    }

    [Test]
    public void ListTools_ServesAllEight_EachWithAnInputAndASpecificOutputSchema()
    {
        Assert.That(_tools.Select(t => t.Name), Is.EquivalentTo(ToolNames));
        foreach (var tool in _tools.Select(t => t.ProtocolTool))
        {
            Assert.That(tool.Description, Is.Not.Empty, tool.Name);
            Assert.That(tool.InputSchema.GetProperty("type").GetString(), Is.EqualTo("object"), tool.Name);
            Assert.That(tool.InputSchema.GetProperty("additionalProperties").GetBoolean(), Is.False, tool.Name);
            Assert.That(tool.OutputSchema, Is.Not.Null, tool.Name);
            var output = tool.OutputSchema!.Value;
            Assert.That(output.GetProperty("type").GetString(), Is.EqualTo("object"), tool.Name);
            Assert.That(output.TryGetProperty("properties", out _) || output.TryGetProperty("anyOf", out _), Is.True, $"{tool.Name}: the output schema names no fields");
            Assert.That(tool.Annotations?.ReadOnlyHint, Is.EqualTo(tool.Name != "record_receipt"), tool.Name);
        }

        var why = _tools.Single(t => t.Name == "why").ProtocolTool;
        Assert.That(why.InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "call_id" }));
        var report = _tools.Single(t => t.Name == "report").ProtocolTool;
        Assert.That(report.InputSchema.GetProperty("properties").GetProperty("by").GetProperty("enum").EnumerateArray().Select(e => e.GetString()),
            Does.Contain("model").And.Contain("route").And.Contain("user").And.Contain("route,task").And.Contain("task,route").And.Not.Contain("route,route"));
        Assert.That(report.InputSchema.GetProperty("properties").TryGetProperty("session", out _), Is.True);
    }

    // The tool's arguments, then the same view's command line.
    private static IEnumerable<TestCaseData> SameAsTheCli()
    {
        yield return new TestCaseData("report", "{}", new[] { "report", "--json" }).SetName("report");
        yield return new TestCaseData("report", """{"by": "model"}""", new[] { "report", "--by", "model", "--json" }).SetName("report by model");
        yield return new TestCaseData("report", """{"by": "session", "since": "7d"}""", new[] { "report", "--by", "session", "--since", "7d", "--json" }).SetName("report by session since 7d");
        yield return new TestCaseData("report", """{"by": "day", "since": "2026-06-01", "until": "2026-06-30"}""", new[] { "report", "--by", "day", "--since", "2026-06-01", "--until", "2026-06-30", "--json" }).SetName("report by day in June");
        yield return new TestCaseData("report", """{"by": "route,task"}""", new[] { "report", "--by", "route,task", "--json" }).SetName("report by route and task");
        yield return new TestCaseData("report", """{"by": "model,category", "since": "2026-06-01"}""", new[] { "report", "--by", "model,category", "--since", "2026-06-01", "--json" }).SetName("report by model and category since a date");
        yield return new TestCaseData("report", """{"session": "s-mcp"}""", new[] { "report", "--session", "s-mcp", "--json" }).SetName("report of a session");
        yield return new TestCaseData("report", """{"session": "s-none", "by": "model"}""", new[] { "report", "--session", "s-none", "--by", "model", "--json" }).SetName("report of a session with no calls");
        yield return new TestCaseData("attrib", """{"task": "fix-handover-bug"}""", new[] { "attrib", "--task", "fix-handover-bug", "--json" }).SetName("attrib of the worked example");
        yield return new TestCaseData("attrib", """{"task": "fix-handover-bug", "shapley": true}""", new[] { "attrib", "--task", "fix-handover-bug", "--shapley", "--json" }).SetName("attrib with shapley");
        yield return new TestCaseData("attrib", "{}", new[] { "attrib", "--json" }).SetName("attrib of the latest task");
        yield return new TestCaseData("matrix", """{"task": "fix-handover-bug"}""", new[] { "matrix", "--task", "fix-handover-bug", "--json" }).SetName("matrix of the worked example");
        yield return new TestCaseData("matrix", """{"task": "fix-handover-bug", "tools": ["graphify", "fux"]}""", new[] { "matrix", "--task", "fix-handover-bug", "--tools", "graphify,fux", "--json" }).SetName("matrix of two tools");
        yield return new TestCaseData("roi", "{}", new[] { "roi", "--json" }).SetName("roi");
        yield return new TestCaseData("roi", """{"since": "2026-06-01"}""", new[] { "roi", "--since", "2026-06-01", "--json" }).SetName("roi since a date");
        yield return new TestCaseData("why", """{"call_id": "c_s1call000001"}""", new[] { "why", "c_s1call000001", "--json" }).SetName("why");
        yield return new TestCaseData("budget_status", "{}", new[] { "budget", "--json" }).SetName("budget_status");
        yield return new TestCaseData("budget_status", """{"session": "s-mcp"}""", new[] { "budget", "--session", "s-mcp", "--json" }).SetName("budget_status of a session");
        yield return new TestCaseData("budget_status", """{"scope": "day"}""", new[] { "budget", "--scope", "day", "--json" }).SetName("budget_status of a scope");
        yield return new TestCaseData("forecast", "{}", new[] { "forecast", "--json" }).SetName("forecast with the policy's budget");
        yield return new TestCaseData("forecast", """{"since": "2d", "budget_usd": 1.5}""", new[] { "forecast", "--since", "2d", "--budget", "1.5", "--json" }).SetName("forecast with a budget");
    }

    /// <summary>Fields that hold the current instant (or follow from it to the second): the tool and the command run a moment apart.</summary>
    private static readonly Dictionary<string, string[]> Instant = new(StringComparer.Ordinal)
    {
        ["budget_status"] = ["as_of"],
        ["forecast"] = ["days_left", "projected_month_usd", "blows_budget", "blows_on"],
    };

    [TestCaseSource(nameof(SameAsTheCli))]
    public async Task CallTool_EqualsTheCliJson_AndMatchesItsOutputSchema(string tool, string arguments, string[] cli)
    {
        var result = await _client.CallToolAsync(tool, ToolResults.Arguments(arguments));
        var expected = await _folder.JsonAsync(cli);

        var structured = ToolResults.Structured(result);
        ToolResults.AssertValid(_tools.Single(t => t.Name == tool).ProtocolTool.OutputSchema!.Value, structured, tool);
        if (Instant.TryGetValue(tool, out var volatileFields))
        {
            var cliJson = JsonNode.Parse(expected)!.AsObject();
            var ours = structured.DeepClone().AsObject();
            foreach (var field in volatileFields)
            {
                Assert.That(ours.ContainsKey(field), Is.True, field);
                ours.Remove(field);
                cliJson.Remove(field);
            }

            Assert.That(JsonNode.DeepEquals(ours, cliJson), Is.True, $"structuredContent:\n{ours}\ncage {string.Join(' ', cli)}:\n{cliJson}");
        }
        else
        {
            Assert.That(ToolResults.Text(result), Is.EqualTo(expected), "the text content is the command's --json, byte for byte");
            Assert.That(JsonNode.DeepEquals(structured, JsonNode.Parse(expected)), Is.True, $"structuredContent:\n{structured}\ncage {string.Join(' ', cli)}:\n{expected}");
        }
    }

    [Test]
    public async Task Matrix_WorkedExample_ShowsTheFullStack72PercentCheaper()
    {
        var matrix = ToolResults.Structured(await _client.CallToolAsync("matrix", ToolResults.Arguments("""{"task": "fix-handover-bug"}""")));

        Assert.That(matrix["tools"]!.AsArray().Select(t => t!.GetValue<string>()), Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
        Assert.That(matrix["rows"]!.AsArray(), Has.Count.EqualTo(8));
        Assert.That(matrix["cheaper_pct"]!.GetValue<decimal>(), Is.EqualTo(72m));
    }

    [Test]
    public async Task BudgetStatus_RecentCalls_CountAgainstTheDayAndTheirSession()
    {
        var status = ToolResults.Structured(await _client.CallToolAsync("budget_status", ToolResults.Arguments("""{"session": "s-mcp"}""")));

        var day = status["scopes"]!["day"]!;
        Assert.That(day["cap"]!.GetValue<decimal>(), Is.EqualTo(25m));
        Assert.That(day["used"]!.GetValue<decimal>(), Is.GreaterThan(0m), "the two calls just made");
        Assert.That(status["scopes"]!["session/s-mcp"]!["used"]!.GetValue<decimal>(), Is.EqualTo(day["used"]!.GetValue<decimal>()));
    }

    private static IEnumerable<TestCaseData> BadArguments()
    {
        yield return new TestCaseData("report", """{"by": "colour"}""", "argument 'by': 'colour' is not one of route, model").SetName("report: bad dimension");
        yield return new TestCaseData("report", """{"by": "route,route"}""", "argument 'by': 'route,route' is not one of route, model").SetName("report: the same dimension twice");
        yield return new TestCaseData("report", """{"session": 42}""", "argument 'session' must be a string (got a number)").SetName("report: session not a string");
        yield return new TestCaseData("report", """{"since": "yesterday"}""", "argument 'since' 'yesterday' is not a window").SetName("report: bad since");
        yield return new TestCaseData("report", """{"since": "7d", "until": "30d"}""", "'since' 7d is not before 'until' 30d").SetName("report: empty window");
        yield return new TestCaseData("report", """{"colour": "red"}""", "unknown argument 'colour': report takes by, since, until").SetName("report: unknown argument");
        yield return new TestCaseData("roi", """{"since": 7}""", "argument 'since' must be a string (got a number)").SetName("roi: since of the wrong type");
        yield return new TestCaseData("attrib", """{"shapley": "yes"}""", "argument 'shapley' must be true or false (got a string)").SetName("attrib: shapley not a boolean");
        yield return new TestCaseData("matrix", """{"task": "fix-handover-bug", "tools": ["nope"]}""", "nope").SetName("matrix: a tool without receipts");
        yield return new TestCaseData("matrix", """{"tools": []}""", "argument 'tools': name at least one").SetName("matrix: no tools");
        yield return new TestCaseData("why", """{"call_id": "c_nope"}""", "argument 'call_id': no call with id 'c_nope' in the ledger").SetName("why: unknown call id");
        yield return new TestCaseData("why", "{}", "argument 'call_id' is required").SetName("why: no call id");
        yield return new TestCaseData("budget_status", """{"scope": "nowhere/at/all"}""", "argument 'scope'").SetName("budget_status: unknown scope");
        yield return new TestCaseData("forecast", """{"since": "2026-01-01"}""", "argument 'since': '2026-01-01' is not a span").SetName("forecast: since not a span");
        yield return new TestCaseData("forecast", """{"budget_usd": -1}""", "argument 'budget_usd' must be >= 0 (got -1)").SetName("forecast: negative budget");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "actual": 1}""", "argument 'raw_alternative' is required").SetName("record_receipt: missing raw_alternative");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": "100", "actual": 1}""", "argument 'raw_alternative' must be a number (got a string)").SetName("record_receipt: raw_alternative a string");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": -1}""", "argument 'actual' must be >= 0 (got -1)").SetName("record_receipt: negative actual");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 2000000000, "actual": 1}""", "argument 'raw_alternative': raw_alternative 2E+09 is above the 1,000,000,000 tokens").SetName("record_receipt: absurd amount");
        yield return new TestCaseData("record_receipt", """{"tool": " ", "raw_alternative": 10, "actual": 1}""", "argument 'tool': a receipt needs a tool name").SetName("record_receipt: blank tool");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "call": "c_nope"}""", "argument 'call': no call with id 'c_nope' in the ledger").SetName("record_receipt: unknown call");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "unit": "bytes"}""", "argument 'unit': 'bytes' is not one of tokens, usd, ms, gco2").SetName("record_receipt: bad unit");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "method": "guessed"}""", "argument 'method': 'guessed' is not one of measured, modeled, estimated").SetName("record_receipt: bad method");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "confidence": 2}""", "argument 'confidence' must be between 0 and 1 (got 2)").SetName("record_receipt: confidence above 1");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "meta": {"tool_cost_usd": -1}}""", "argument 'meta.tool_cost_usd': meta.tool_cost_usd must be >= 0").SetName("record_receipt: negative tool cost");
        yield return new TestCaseData("record_receipt", """{"tool": "x", "raw_alternative": 10, "actual": 1, "meta": {"nested": {"a": 1}}}""", "argument 'meta.nested' must be a string, number or boolean (got an object)").SetName("record_receipt: nested meta");
    }

    [TestCaseSource(nameof(BadArguments))]
    public async Task CallTool_BadArguments_IsAToolErrorNamingTheArgument_AndNothingIsWritten(string tool, string arguments, string message)
    {
        var before = await _folder.JsonAsync("roi", "--json");

        var result = await _client.CallToolAsync(tool, ToolResults.Arguments(arguments));

        Assert.That(result.IsError, Is.True, ToolResults.Text(result));
        Assert.That(ToolResults.Text(result), Does.Contain(message));
        Assert.That(result.StructuredContent, Is.Null);
        Assert.That(await _folder.JsonAsync("roi", "--json"), Is.EqualTo(before), "no receipt was recorded");
        Assert.That(await _client.ListToolsAsync(), Has.Count.EqualTo(8), "the server is still up");
    }

    [Test]
    public async Task RecordReceipt_AgainstACall_IsInTheLedgerForWhyAndAttrib()
    {
        var result = await _client.CallToolAsync("record_receipt", ToolResults.Arguments("""
            {"tool": "mcp-cache", "raw_alternative": 40000, "actual": 25000, "call": "c_recent000001", "method": "measured",
             "confidence": 0.9, "meta": {"tool_cost_usd": 0.002, "source": "agent"}}
            """));

        var receipt = ToolResults.Structured(result);
        ToolResults.AssertValid(_tools.Single(t => t.Name == "record_receipt").ProtocolTool.OutputSchema!.Value, receipt, "record_receipt");
        Assert.That(receipt["tool"]!.GetValue<string>(), Is.EqualTo("mcp-cache"));
        Assert.That(receipt["task"]!.GetValue<string>(), Is.EqualTo("mcp-task"), "the task defaults to the call's");
        Assert.That(receipt["saved"]!.GetValue<decimal>(), Is.EqualTo(15000m));

        var why = JsonNode.Parse(await _folder.JsonAsync("why", "c_recent000001", "--json"))!;
        var filed = why["receipts"]!.AsArray().Single(r => r!["id"]!.GetValue<string>() == receipt["id"]!.GetValue<string>())!;
        Assert.That(JsonNode.DeepEquals(filed, receipt), Is.True, $"cage why lists:\n{filed}\nrecord_receipt returned:\n{receipt}");
        Assert.That(filed["meta"]!["tool_cost_usd"]!.GetValue<decimal>(), Is.EqualTo(0.002m));
        Assert.That(why["residual"]!["tokens"]!.GetValue<decimal>(), Is.EqualTo(120_000m - 25_000m));

        var attrib = JsonNode.Parse(await _folder.JsonAsync("attrib", "--task", "mcp-task", "--json"))!;
        Assert.That(attrib["steps"]!.AsArray().Select(s => s!["tool"]!.GetValue<string>()), Does.Contain("mcp-cache"));
        var viaMcp = ToolResults.Structured(await _client.CallToolAsync("why", ToolResults.Arguments("""{"call_id": "c_recent000001"}""")));
        Assert.That(JsonNode.DeepEquals(viaMcp, why), Is.True);
    }

    [Test]
    public async Task CageMcp_RawStdio_WritesOnlyJsonRpcToStdout_AndExits0WhenStdinCloses()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _folder.Path,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CageFolder.CageDll);
        start.ArgumentList.Add("mcp");
        start.Environment.Remove("CAGE_LEDGER");
        start.Environment.Remove("CAGE_PRICES");
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync("""
            {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}
            {"jsonrpc":"2.0","method":"notifications/initialized"}
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"why","arguments":{"call_id":"c_s1call000001"}}}

            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        await process.StandardInput.FlushAsync();

        // The two answers, then end of input: the server stops, and nothing else ever reached stdout.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var lines = new List<string>();
        while (lines.Count < 2 && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            lines.Add(line);
        }

        process.StandardInput.Close();
        var rest = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.That(process.ExitCode, Is.EqualTo(0), await stderr);
        Assert.That(rest, Is.Empty, "stdout after the answers");
        Assert.That(lines, Has.Count.EqualTo(2));
        foreach (var line in lines)
        {
            using var message = JsonDocument.Parse(line);
            Assert.That(message.RootElement.GetProperty("jsonrpc").GetString(), Is.EqualTo("2.0"), line);
        }

        var answer = lines.Select(l => JsonNode.Parse(l)!).Single(m => m["id"]!.GetValue<int>() == 2);
        Assert.That(answer["result"]!["structuredContent"]!["call"]!["id"]!.GetValue<string>(), Is.EqualTo("c_s1call000001"));
    }

    [Test]
    public async Task CageMcp_NoLedger_Exits2NamingThePath_WithNothingOnStdout()
    {
        using var empty = new CageFolder();

        var run = await empty.RunAsync("mcp", "--ledger", "missing.db");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain("no ledger at").And.Contain("missing.db"));
        Assert.That(run.Out, Is.Empty);
        Assert.That(File.Exists(Path.Combine(empty.Path, "missing.db")), Is.False, "nothing was created");
    }
}
