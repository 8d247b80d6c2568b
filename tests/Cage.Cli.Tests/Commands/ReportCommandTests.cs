namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class ReportCommandTests
{
    [Test]
    public async Task Report_SinceBogus_Exits2NamingSince()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--since", "bogus");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("--since"));
        Assert.That(run.Out, Is.Empty);
    }

    [Test]
    public async Task Report_UntilBogus_Exits2NamingUntil()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("report", "--until", "yesterday-ish");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("--until"));
    }

    [Test]
    public async Task Report_UntilBeforeSince_Exits2()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--since", "2026-06-21", "--until", "2026-06-01");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("--since").And.Contain("--until"));
    }

    [Test]
    public async Task Report_Since7dAtFixtureTime_IncludesTheCall()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--since", "7d", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Json().GetProperty("since").GetString(), Is.EqualTo("7d"));
        Assert.That(run.Json().GetProperty("groups").TryGetProperty("code-edit", out _), Is.True);
    }

    [Test]
    public async Task Report_Since7dMonthsLater_HasNoGroupsAndExits0()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        cli.Time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero));

        var json = await cli.RunAsync("report", "--since", "7d", "--json");
        var text = await cli.RunAsync("report", "--since", "7d");

        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        Assert.That(json.Json().GetProperty("groups").EnumerateObject().Count(), Is.EqualTo(0));
        Assert.That(json.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(0));
        Assert.That(json.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(0m));
        Assert.That(text.ExitCode, Is.EqualTo(0));
        Assert.That(text.Out, Does.Contain("No calls in this window."));
    }

    [Test]
    public async Task Report_UntilADate_IncludesThatWholeDay()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var through = await cli.RunAsync("report", "--until", "2026-06-20", "--json");
        var before = await cli.RunAsync("report", "--until", "2026-06-19", "--json");

        Assert.That(through.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(1));
        Assert.That(through.Json().GetProperty("until").GetString(), Is.EqualTo("2026-06-20"));
        Assert.That(before.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(0));
    }

    [Test]
    public async Task Report_NoLedgerYet_Exits2NamingThePathAndCreatesNothing()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("report");

        Assert.That(run.ExitCode, Is.EqualTo(2), "a missing ledger is not an empty one");
        Assert.That(run.Out, Is.Empty);
        Assert.That(run.Err, Does.Contain(cli.LedgerPath).And.Contain("no ledger"));
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False);
    }

    [Test]
    public async Task Report_EmptyLedger_ReportsNoData()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        var run = await cli.RunAsync("report");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Is.EqualTo("Ledger by route\n\nNo calls recorded.\n"));
    }

    [Test]
    public async Task Report_UnknownDimension_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("report", "--by", "color");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("color"));
    }

    [Test]
    public async Task Report_UnpricedAndLocalCalls_AreCountedNeverShownAsZeroDollars()
    {
        using var cli = new CliHarness();
        var calls = cli.PathOf("calls.jsonl");
        await File.WriteAllLinesAsync(calls,
        [
            """{"id": "c_cloud", "ts": "2026-06-20T10:00:00Z", "route": "chat", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 8600, "tokens_out": 1500}""",
            """{"id": "c_mystery", "ts": "2026-06-20T10:01:00Z", "route": "chat", "provider": "acme", "model": "mystery-model-9", "tokens_in": 100, "tokens_out": 10}""",
            """{"id": "c_local", "ts": "2026-06-20T10:02:00Z", "route": "local-chat", "provider": "ollama", "model": "llama3", "tokens_in": 50, "tokens_out": 5}""",
        ]);
        var import = await cli.RunAsync("import", calls);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);

        var text = await cli.RunAsync("report", "--by", "model");
        var json = await cli.RunAsync("report", "--by", "model", "--json");

        Assert.That(text.Out, Does.Contain("1 unpriced call (cost unknown, not $0)"));
        Assert.That(text.Out, Does.Contain("1 local call (free by policy)"));
        Assert.That(text.Out, Does.Match(@"llama3\s+1\s+50\s+5\s+\(local\)"));
        Assert.That(text.Out, Does.Match(@"mystery-model-9\s+1\s+100\s+10\s+—\s+1"));
        var groups = json.Json().GetProperty("groups");
        Assert.That(groups.GetProperty("mystery-model-9").GetProperty("usd").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
        Assert.That(groups.GetProperty("mystery-model-9").GetProperty("unpriced_calls").GetInt64(), Is.EqualTo(1));
        Assert.That(groups.GetProperty("llama3").GetProperty("local_calls").GetInt64(), Is.EqualTo(1));
        Assert.That(groups.GetProperty("llama3").GetProperty("usd").GetDecimal(), Is.EqualTo(0m));
        Assert.That(json.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(json.Json().GetProperty("total").GetProperty("unpriced_calls").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public async Task Report_Groups_AreSortedByCostDescendingThenKey()
    {
        using var cli = new CliHarness();
        var calls = cli.PathOf("calls.jsonl");
        await File.WriteAllLinesAsync(calls,
        [
            """{"id": "c_1", "ts": "2026-06-20T10:00:00Z", "route": "b-small", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 100, "tokens_out": 10}""",
            """{"id": "c_2", "ts": "2026-06-20T10:01:00Z", "route": "z-big", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 10000, "tokens_out": 1000}""",
            """{"id": "c_3", "ts": "2026-06-20T10:02:00Z", "route": "a-small", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 100, "tokens_out": 10}""",
        ]);
        await cli.RunAsync("import", calls);

        var json = await cli.RunAsync("report", "--json");

        var keys = json.Json().GetProperty("groups").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.That(keys, Is.EqualTo(new[] { "z-big", "a-small", "b-small" }));
    }

    [Test]
    public async Task ReportJson_EmptyLedger_IsAnEmptyReportAndExits0()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        var run = await cli.RunAsync("report", "--by", "day", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Json().GetProperty("dim").GetString(), Is.EqualTo("day"));
        Assert.That(run.Json().GetProperty("groups").EnumerateObject().Any(), Is.False);
        Assert.That(run.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(0));
    }

    [Test]
    public async Task Report_CacheReads_AddACachedColumn()
    {
        using var cli = new CliHarness();
        var calls = cli.PathOf("calls.jsonl");
        await File.WriteAllTextAsync(calls,
            """{"id": "c_cached", "ts": "2026-06-20T10:00:00Z", "route": "code-edit", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 8600, "tokens_out": 1500, "cached_in": 3200}""" + "\n");
        await cli.RunAsync("import", calls);

        var text = await cli.RunAsync("report");
        var json = await cli.RunAsync("report", "--json");

        Assert.That(text.Out, Does.Contain("route      calls  tok in  tok out  cached     cost"));
        Assert.That(text.Out, Does.Match(@"code-edit\s+1\s+8,600\s+1,500\s+3,200\s+\$"));
        var group = json.Json().GetProperty("groups").GetProperty("code-edit");
        Assert.That(group.GetProperty("cached_in").GetInt64(), Is.EqualTo(3200));
        Assert.That(group.GetProperty("cache_read").GetInt64(), Is.EqualTo(3200));
        Assert.That(group.GetProperty("input").GetInt64(), Is.EqualTo(5400));
    }

    [Test]
    public async Task Report_Session_PrintsTheSeedSummaryAndDetail_TextAndJson()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var text = await cli.RunAsync("report", "--session", "demo");
        var json = await cli.RunAsync("report", "--session", "demo", "--json");
        var none = await cli.RunAsync("report", "--session", "no-such-session");

        // The worked example's one call: 8,600 in / 1,500 out on claude-opus-4-8, $0.0483 (SPEC 12).
        Assert.That(text.ExitCode, Is.Zero, text.Err);
        Assert.That(text.Out, Is.EqualTo(
            "Session demo: 1 call, prompt=8,600 / completion=1,500 tokens, cost=$0.048300 (cloud only; local: 0 calls)\n" +
            "  claude-opus-4-8 main: 1 call, 8,600/1,500 tokens, $0.048300\n"));
        var root = json.Json();
        Assert.That(root.GetProperty("cost_usd").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(root.GetProperty("prompt_tokens").GetInt64(), Is.EqualTo(8600));
        Assert.That(root.GetProperty("detail")[0].GetProperty("model").GetString(), Is.EqualTo("claude-opus-4-8"));
        Assert.That(none.ExitCode, Is.Zero);
        Assert.That(none.Out, Does.StartWith("Session no-such-session: 0 calls"));
    }

    [Test]
    public async Task Report_ByTwoDimensions_GroupsByEachPair_TextAndJson()
    {
        using var cli = new CliHarness();
        var folder = cli.PathOf("ref");
        Directory.CreateDirectory(folder);
        string Line(string id, string model, string category, int output) =>
            $$"""{"id": "{{id}}", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "{{model}}", "category": "{{category}}", "tokens_in": 1000, "tokens_out": {{output}}, "cached_in": 0}""";
        await File.WriteAllLinesAsync(Path.Combine(folder, "calls.jsonl"),
        [
            Line("c_1", "claude-opus-4-8", "main", 100),
            Line("c_2", "claude-opus-4-8", "delegate", 200),
            Line("c_3", "claude-opus-4-8", "main", 300),
            Line("c_4", "claude-sonnet-4-6", "main", 400),
        ]);
        Assert.That((await cli.RunAsync("import", folder)).ExitCode, Is.Zero);

        var text = await cli.RunAsync("report", "--by", "model,category");
        var json = await cli.RunAsync("report", "--by", "model,category", "--json");
        var bad = await cli.RunAsync("report", "--by", "model,model");

        Assert.That(text.ExitCode, Is.Zero, text.Err);
        Assert.That(text.Out, Does.StartWith("Ledger by model × category\n"));
        Assert.That(text.Out, Does.Match(@"claude-opus-4-8\s+main\s+2\s+2,000\s+400\s"));
        Assert.That(text.Out, Does.Match(@"claude-opus-4-8\s+delegate\s+1\s+1,000\s+200\s"));
        Assert.That(text.Out, Does.Match(@"claude-sonnet-4-6\s+main\s+1\s+1,000\s+400\s"));
        Assert.That(text.Out, Does.Match(@"TOTAL\s+4\s+4,000\s+1,000\s"));
        var groups = json.Json().GetProperty("groups");
        Assert.That(json.Json().GetProperty("dim").GetString(), Is.EqualTo("model,category"));
        Assert.That(groups.GetProperty("claude-opus-4-8").GetProperty("main").GetProperty("calls").GetInt32(), Is.EqualTo(2));
        Assert.That(groups.GetProperty("claude-opus-4-8").GetProperty("delegate").GetProperty("output").GetInt64(), Is.EqualTo(200));
        Assert.That(groups.GetProperty("claude-sonnet-4-6").GetProperty("main").GetProperty("calls").GetInt32(), Is.EqualTo(1));
        Assert.That(json.Json().GetProperty("total").GetProperty("calls").GetInt32(), Is.EqualTo(4));
        Assert.That(bad.ExitCode, Is.EqualTo(2));
        Assert.That(bad.Err, Does.StartWith("cage: --by 'model,model': "));
    }
}
