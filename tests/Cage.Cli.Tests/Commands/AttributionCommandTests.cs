using System.Text.Json;
using System.Text.RegularExpressions;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// The attribution commands run in-process over a real SQLite ledger file: the worked example against the reference
/// output, exit codes, <c>--json</c> shapes, <c>outcome</c> then <c>quality</c>, and <c>forecast</c> with and without a
/// budget. Prices: anthropic/claude-opus-4-8 at $3 in / $15 out per 1M tokens (the built-in reference table).
/// </summary>
[TestFixture]
public sealed partial class AttributionCommandTests
{
    private static string FixtureInput => Path.Combine(Fixtures.WorkedExample, "input");

    private static async Task<CliHarness> WorkedExampleAsync()
    {
        var cli = new CliHarness();
        var init = await cli.RunAsync("init");
        Assert.That(init.ExitCode, Is.EqualTo(0), init.Err);
        var import = await cli.RunAsync("import", FixtureInput);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
        return cli;
    }

    /// <summary>Writes reference JSONL lines into a folder of the harness and imports them.</summary>
    private static async Task ImportAsync(CliHarness cli, string[] calls, string[]? receipts = null)
    {
        var folder = cli.PathOf("in-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "calls.jsonl"), string.Join("\n", calls) + "\n");
        if (receipts is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "receipts.jsonl"), string.Join("\n", receipts) + "\n");
        }

        var run = await cli.RunAsync("import", folder);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
    }

    private static string CallLine(string id, string ts, string task, long tokensIn, long tokensOut = 0, string route = "code-edit", string model = "claude-opus-4-8") =>
        $$"""{"id": "{{id}}", "ts": "{{ts}}", "task": "{{task}}", "route": "{{route}}", "provider": "anthropic", "model": "{{model}}", "tokens_in": {{tokensIn}}, "tokens_out": {{tokensOut}}}""";

    private static string ReceiptLine(string id, string call, string task, string tool, decimal raw, decimal actual, string unit = "tokens", string method = "modeled") =>
        $$"""{"id": "{{id}}", "ts": "2026-06-20T10:00:00Z", "call": "{{call}}", "task": "{{task}}", "tool": "{{tool}}", "unit": "{{unit}}", "raw_alternative": {{raw}}, "actual": {{actual}}, "method": "{{method}}"}""";

    // ---- The worked example against the reference output ----

    [Test]
    public async Task AttribJson_WorkedExampleImported_MatchesTheFixtureOnEveryField()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("attrib", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("attrib.json"), run.Json());
    }

    [Test]
    public async Task MatrixJson_WorkedExampleImported_MatchesTheFixtureOnEveryField()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("matrix", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("matrix.json"), run.Json());
        Assert.That(run.Json().GetProperty("cheaper_pct").GetDecimal(), Is.EqualTo(72m), "(0.1725 − 0.0483) / 0.1725 = 72.00%");
    }

    [Test]
    public async Task Matrix_WorkedExampleImported_TextEqualsTheFixtureExactly()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("matrix");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Is.EqualTo(Fixtures.Output("matrix.txt")));
    }

    [Test]
    public async Task Matrix_AfterDemo_TextEqualsTheFixtureExactly()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("matrix", "--task", "fix-handover-bug");

        Assert.That(run.Out, Is.EqualTo(Fixtures.Output("matrix.txt")));
    }

    [Test]
    public async Task RoiJson_WorkedExampleImported_MatchesTheFixtureOnEveryField()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("roi", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("roi.json"), run.Json());
    }

    [Test]
    public async Task RecommendJson_WorkedExampleImported_EnablesAllThreeAtTheReferencesNumbers()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("recommend", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var route = run.Json().GetProperty("routes")[0];
        Assert.That(route.GetProperty("route").GetString(), Is.EqualTo("code-edit"));
        var tools = route.GetProperty("tools").EnumerateArray()
            .Select(t => (t.GetProperty("tool").GetString(), t.GetProperty("verdict").GetString(), t.GetProperty("saved_usd").GetDecimal(), t.GetProperty("net_usd").GetDecimal()))
            .ToList();
        Assert.That(tools, Is.EqualTo(new (string?, string?, decimal, decimal)[]
        {
            ("graphify", "enable", 0.081m, 0.081m),
            ("compressor", "enable", 0.024m, 0.024m),
            ("fux", "enable", 0.0192m, 0.0192m),
        }));
        Assert.That(route.GetProperty("enable").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "graphify", "compressor", "fux" }));
        Assert.That(route.GetProperty("skip").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task OutcomeThenQuality_WorkedExample_MatchesTheFixture()
    {
        using var cli = await WorkedExampleAsync();

        var outcome = await cli.RunAsync("outcome", "fix-handover-bug");
        var quality = await cli.RunAsync("quality", "--json");

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Err);
        Assert.That(outcome.Out, Is.EqualTo(Fixtures.Output("outcome_fix-handover-bug.txt")));
        Assert.That(quality.ExitCode, Is.EqualTo(0), quality.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("quality.json"), quality.Json());
    }

    [Test]
    public async Task Regression_WorkedExample_NotEnoughHistoryMessage()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("regression");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Is.EqualTo(Fixtures.Output("regression.txt")));
    }

    [Test]
    public async Task ForecastJson_WorkedExample_BudgetFromThePolicysDayBudget()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("forecast", "--json");

        // init's policy: Day.Usd 25 × 30 days of June = $750. Month to date $0.0483 (one call, 2h ago → 1 day of run-rate),
        // 10.5 days left: 0.0483 + 0.0483 × 10.5 = 0.55545.
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var json = run.Json();
        Assert.That(json.GetProperty("monthly_cap").GetDecimal(), Is.EqualTo(750m));
        Assert.That(json.GetProperty("month_to_date_usd").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(json.GetProperty("per_day").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(json.GetProperty("days_left").GetDecimal(), Is.EqualTo(10.5m));
        Assert.That(json.GetProperty("projected_month_usd").GetDecimal(), Is.EqualTo(0.55545m));
        Assert.That(json.GetProperty("blows_budget").GetBoolean(), Is.False);
        Assert.That(json.GetProperty("blows_on").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task Forecast_BudgetOptionBelowTheProjection_BlowsOnTheDayItIsCrossed()
    {
        using var cli = await WorkedExampleAsync();

        var json = (await cli.RunAsync("forecast", "--budget", "0.5", "--json")).Json();
        var text = await cli.RunAsync("forecast", "--budget", "0.5");

        // (0.5 − 0.0483) / 0.0483 = 9.35 days after 06-20T12:00 → 06-29.
        Assert.That(json.GetProperty("monthly_cap").GetDecimal(), Is.EqualTo(0.5m));
        Assert.That(json.GetProperty("blows_budget").GetBoolean(), Is.True);
        Assert.That(json.GetProperty("blows_on").GetString(), Is.EqualTo("2026-06-29"));
        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.Contain("crossed on 2026-06-29"));
    }

    [Test]
    public async Task Forecast_PolicyWithoutBudgets_SaysSoAndExits0()
    {
        using var cli = new CliHarness();
        // (A reference import into a folder with no policy writes the bundled one, budgets included: give one without.)
        Directory.CreateDirectory(Path.GetDirectoryName(cli.PolicyPath)!);
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { "Tools": { "Order": [] } } }""");
        await ImportAsync(cli, [CallLine("c1", "2026-06-20T10:00:00Z", "t", 10_000)]);

        var text = await cli.RunAsync("forecast");
        var json = await cli.RunAsync("forecast", "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.Contain("no monthly budget configured"));
        Assert.That(json.Json().GetProperty("monthly_cap").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(json.Json().GetProperty("blows_budget").GetBoolean(), Is.False);
    }

    // ---- Scenarios through the CLI ----

    [Test]
    public async Task Matrix_FooterComparesAllOffWithAllOn_NotTheDearestWithTheCheapest()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        // 10,000 in × $3/M = $0.03. compressor saved 4,000 (+$0.012 when off), verbose made it 2,000 bigger (−$0.006 when off).
        // all-off 0.036, all-on 0.030: (0.036 − 0.030) / 0.036 = 17%. Dearest (0.042) vs cheapest (0.024) would be 43%.
        await ImportAsync(cli,
            [CallLine("c1", "2026-06-20T10:00:00Z", "t", 10_000)],
            [ReceiptLine("r1", "c1", "t", "compressor", 5_000, 1_000), ReceiptLine("r2", "c1", "t", "verbose", 1_000, 3_000)]);

        var run = await cli.RunAsync("matrix");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("full stack vs all-off: 17% cheaper ($0.0360 → $0.0300)"));
        Assert.That(run.Out, Does.Not.Contain("43%"));
    }

    [Test]
    public async Task Attrib_OverClaimUnpricedAndMs_ShownPlainly()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await ImportAsync(cli,
            [
                CallLine("c1", "2026-06-20T10:00:00Z", "t", 1_000),
                CallLine("c2", "2026-06-20T10:05:00Z", "t", 1_000, model: "no-such-model-xyz"),
            ],
            [
                ReceiptLine("r1", "c1", "t", "compressor", 5_000, 800),
                ReceiptLine("r2", "c1", "t", "graphify", 4_000, 700),
                ReceiptLine("r3", "c2", "t", "fux", 3_000, 100),
                ReceiptLine("r4", "c1", "t", "router", 900, 100, unit: "ms"),
            ]);

        var text = await cli.RunAsync("attrib");
        var json = await cli.RunAsync("attrib", "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.Contain("OVER-CLAIM"), "c1: 1,000 prompt-side − 1,500 actual");
        Assert.That(text.Out, Does.Contain("—"), "fux on an unknown model is unpriced");
        Assert.That(text.Out, Does.Contain("never priced"));
        var root = json.Json();
        var fux = root.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("tool").GetString() == "fux");
        Assert.That(fux.GetProperty("saved_usd").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(root.GetProperty("unpriced_receipts").GetInt32(), Is.EqualTo(1));
        var c1 = root.GetProperty("residuals").EnumerateArray().Single(r => r.GetProperty("call").GetString() == "c1");
        Assert.That(c1.GetProperty("residual").GetDecimal(), Is.EqualTo(-500m));
        Assert.That(c1.GetProperty("over_claim").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("over_claims").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("total_saved_tokens").GetDecimal(), Is.EqualTo(10_400m), "4,200 + 3,300 + 2,900; the 800 ms are not tokens");
        Assert.That(root.GetProperty("total_saved_usd").GetDecimal(), Is.EqualTo(0.0225m), "(4,200 + 3,300) × $3/M");
    }

    [Test]
    public async Task AttribShapley_WorkedExample_AuditAgreesWithFixedOrder()
    {
        using var cli = await WorkedExampleAsync();

        var text = await cli.RunAsync("attrib", "--shapley");
        var json = await cli.RunAsync("attrib", "--shapley", "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.Contain("Shapley audit").And.Contain("the two agree"));
        var shapley = json.Json().GetProperty("shapley");
        Assert.That(shapley.GetProperty("total_usd").GetDecimal(), Is.EqualTo(0.1242m));
        Assert.That(shapley.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("shapley_usd").GetDecimal()), Is.EqualTo(new[] { 0.081m, 0.0192m, 0.024m }));
    }

    [Test]
    public async Task Attrib_UnknownTask_SaysItHasNoReceiptsAndExits0()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("attrib", "--task", "nope");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("No savings receipts for task 'nope'"));
    }

    [Test]
    public async Task Attrib_NoTaskArgument_OnlyTheLatestCallsTask()
    {
        using var cli = await WorkedExampleAsync();
        await ImportAsync(cli,
            [CallLine("c_new", "2026-06-20T11:00:00Z", "other", 10_000)],
            [ReceiptLine("r_new", "c_new", "other", "compressor", 2_000, 1_000)]);

        var json = (await cli.RunAsync("attrib", "--json")).Json();

        Assert.That(json.GetProperty("task").GetString(), Is.EqualTo("other"));
        Assert.That(json.GetProperty("steps").GetArrayLength(), Is.EqualTo(1));
        Assert.That(json.GetProperty("total_saved_tokens").GetDecimal(), Is.EqualTo(1_000m));
    }

    // ---- Exit codes ----

    [TestCase("attrib")]
    [TestCase("matrix")]
    [TestCase("roi")]
    [TestCase("recommend")]
    [TestCase("quality")]
    [TestCase("regression")]
    [TestCase("forecast")]
    public async Task Command_EmptyLedger_Exits0WithAMessage(string command)
    {
        using var cli = new CliHarness();
        Assert.That((await cli.RunAsync("init")).ExitCode, Is.EqualTo(0), "an empty ledger (a missing one is exit 2)");

        var text = await cli.RunAsync(command);
        var json = await cli.RunAsync(command, "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Is.Not.Empty);
        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        Assert.That(() => json.Json(), Throws.Nothing, "--json is JSON even with no data");
    }

    [Test]
    public async Task Attrib_EmptyLedger_SaysThereIsNoTask()
    {
        using var cli = new CliHarness();
        Assert.That((await cli.RunAsync("init")).ExitCode, Is.EqualTo(0));

        var text = await cli.RunAsync("attrib");
        var json = await cli.RunAsync("attrib", "--json");

        Assert.That(text.Out, Does.Contain("no task"));
        Assert.That(json.Json().GetProperty("task").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [TestCase("attrib", "--json")]
    [TestCase("matrix", "--json")]
    [TestCase("roi", "--json")]
    [TestCase("recommend", "--json")]
    [TestCase("quality", "--json")]
    [TestCase("regression", "--json")]
    [TestCase("forecast", "--json")]
    public async Task Command_WithData_Exits0AndJsonIsSnakeCase(string command, string json)
    {
        using var cli = await WorkedExampleAsync();
        await cli.RunAsync("outcome", "fix-handover-bug");

        var text = await cli.RunAsync(command);
        var run = await cli.RunAsync(command, json);

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        AssertSnakeCase(run.Json(), "$");
    }

    [TestCase("roi", "--since", "yesterday-ish")]
    [TestCase("recommend", "--since", "7x")]
    [TestCase("quality", "--since", "not-a-date")]
    [TestCase("regression", "--since", "bogus")]
    [TestCase("regression", "--baseline", "2026-01-01")]
    [TestCase("regression", "--tolerance", "-1")]
    [TestCase("regression", "--tolerance", "abc")]
    [TestCase("regression", "--by", "task")]
    [TestCase("forecast", "--since", "bogus")]
    [TestCase("forecast", "--budget", "-5")]
    [TestCase("matrix", "--tools", "nope")]
    [TestCase("matrix", "--tools", ",")]
    [TestCase("outcome", "fix-handover-bug", "--redo", "--failed")]
    public async Task Command_BadArgument_Exits2(string command, string option, string value, string? extra = null)
    {
        using var cli = await WorkedExampleAsync();

        var run = extra is null ? await cli.RunAsync(command, option, value) : await cli.RunAsync(command, option, value, extra);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Out + run.Err);
        Assert.That(run.Err, Is.Not.Empty);
    }

    [Test]
    public async Task Matrix_UnknownTool_Exits2NamingItAndTheToolsThereAre()
    {
        using var cli = await WorkedExampleAsync();

        var run = await cli.RunAsync("matrix", "--tools", "graphify,nope");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("nope").And.Contain("graphify, fux, compressor"));
    }

    [Test]
    public async Task Matrix_ToolsSubset_OnlyThoseColumns()
    {
        using var cli = await WorkedExampleAsync();

        var json = (await cli.RunAsync("matrix", "--tools", "compressor,graphify", "--json")).Json();

        // compressor and graphify off: 8,600 + 8,000 + 27,000 = 43,600 in × $3/M + $0.0225 out = $0.1533.
        Assert.That(json.GetProperty("tools").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "graphify", "compressor" }));
        Assert.That(json.GetProperty("rows").GetArrayLength(), Is.EqualTo(4));
        Assert.That(json.GetProperty("all_off").GetProperty("cost_usd").GetDecimal(), Is.EqualTo(0.1533m));
        Assert.That(json.GetProperty("all_off").GetProperty("input_tok").GetDecimal(), Is.EqualTo(43_600m));
    }

    [Test]
    public async Task Matrix_SeventeenTools_Exits2NamingTools_AndShapleyToo()
    {
        using var cli = new CliHarness();
        var receipts = Enumerable.Range(1, 17).Select(i => ReceiptLine($"r{i:00}", "c1", "t", $"tool{i:00}", 2_000, 1_000)).ToArray();
        await ImportAsync(cli, [CallLine("c1", "2026-06-20T10:00:00Z", "t", 100_000)], receipts);

        var matrix = await cli.RunAsync("matrix");
        var shapley = await cli.RunAsync("attrib", "--shapley");
        var plain = await cli.RunAsync("attrib");

        Assert.That(matrix.ExitCode, Is.EqualTo(2));
        Assert.That(matrix.Err, Does.Contain("--tools"));
        Assert.That(shapley.ExitCode, Is.EqualTo(2));
        Assert.That(shapley.Err, Does.Contain("--tools"));
        Assert.That(plain.ExitCode, Is.EqualTo(0), plain.Err);
    }

    // ---- outcome then quality, persisted in the ledger file ----

    [Test]
    public async Task OutcomeThenQuality_RedoAndFailed_ChargedToTheSuccess()
    {
        using var cli = new CliHarness();
        // $3/M: 10,000 → $0.03, 20,000 → $0.06, 30,000 → $0.09.
        await ImportAsync(cli,
        [
            CallLine("a", "2026-06-20T08:00:00Z", "ta", 10_000),
            CallLine("b", "2026-06-20T08:01:00Z", "tb", 20_000),
            CallLine("c", "2026-06-20T08:02:00Z", "tc", 30_000),
        ]);

        var ok = await cli.RunAsync("outcome", "ta");
        var redo = await cli.RunAsync("outcome", "tb", "--redo");
        var failed = await cli.RunAsync("outcome", "tc", "--failed", "--json");
        var quality = await cli.RunAsync("quality", "--json");
        var text = await cli.RunAsync("quality");

        Assert.That((ok.ExitCode, redo.ExitCode, failed.ExitCode), Is.EqualTo((0, 0, 0)), ok.Err + redo.Err + failed.Err);
        Assert.That(failed.Json().GetProperty("outcome").GetString(), Is.EqualTo("failed"));
        Assert.That(failed.Json().GetProperty("calls").GetInt32(), Is.EqualTo(1));
        var q = quality.Json();
        Assert.That(q.GetProperty("total_usd").GetDecimal(), Is.EqualTo(0.18m));
        Assert.That(q.GetProperty("tasks").GetInt32(), Is.EqualTo(3));
        Assert.That(q.GetProperty("ok").GetInt32(), Is.EqualTo(1));
        Assert.That(q.GetProperty("redo").GetInt32(), Is.EqualTo(1));
        Assert.That(q.GetProperty("failed").GetInt32(), Is.EqualTo(1));
        Assert.That(q.GetProperty("unlabeled").GetInt32(), Is.EqualTo(0));
        Assert.That(q.GetProperty("per_task").GetDecimal(), Is.EqualTo(0.06m));
        Assert.That(q.GetProperty("per_success").GetDecimal(), Is.EqualTo(0.18m));
        Assert.That(text.Out, Does.Contain("$0.1800"));
    }

    [Test]
    public async Task Outcome_TaskWithoutCalls_IsKeptWithAWarning()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("outcome", "later-task");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Contain("no calls for task 'later-task'"));
    }

    // ---- regression through the CLI ----

    [Test]
    public async Task RegressionJson_MoreTokensPerCall_RegressedWithTheCause()
    {
        using var cli = new CliHarness();
        await ImportAsync(cli,
        [
            CallLine("b1", "2026-06-01T10:00:00Z", "b", 10_000),
            CallLine("n1", "2026-06-19T10:00:00Z", "n", 20_000),
        ]);

        var json = await cli.RunAsync("regression", "--json");
        var text = await cli.RunAsync("regression");
        var byModel = await cli.RunAsync("regression", "--by", "model", "--json");

        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        var root = json.Json();
        Assert.That(root.GetProperty("regressed").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("drift").GetDecimal(), Is.EqualTo(1m), "$0.06 / $0.03 − 1");
        Assert.That(root.GetProperty("base_mean").GetDecimal(), Is.EqualTo(0.03m));
        Assert.That(root.GetProperty("recent_mean").GetDecimal(), Is.EqualTo(0.06m));
        Assert.That(text.Out, Does.Contain("REGRESSED").And.Contain("more tokens per call"));
        Assert.That(byModel.ExitCode, Is.EqualTo(0), byModel.Err);
        Assert.That(byModel.Json().GetProperty("groups")[0].GetProperty("key").GetString(), Is.EqualTo("claude-opus-4-8"));
    }

    private static void AssertSnakeCase(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    // Tool names are data, not field names: the keys of roi's "tools" and of a matrix row's "on".
                    var isData = path.EndsWith(".tools", StringComparison.Ordinal) && element.EnumerateObject().All(p => p.Value.ValueKind == JsonValueKind.Object)
                        || path.EndsWith(".on", StringComparison.Ordinal);
                    if (!isData)
                    {
                        Assert.That(SnakeCase().IsMatch(property.Name), Is.True, $"{path}.{property.Name} is not snake_case");
                    }

                    AssertSnakeCase(property.Value, $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    AssertSnakeCase(item, $"{path}[{i++}]");
                }

                break;
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
    private static partial Regex SnakeCase();
}
