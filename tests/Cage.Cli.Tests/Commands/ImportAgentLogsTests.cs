namespace CageNet.Cli.Tests.Commands;

/// <summary><c>cage import</c> of agent logs and captured responses, against a real SQLite ledger.</summary>
[TestFixture]
public sealed class ImportAgentLogsTests
{
    private static string Wire(string name) => Fixtures.Wire(name);

    private static string SamplePrices => Wire("litellm_prices_sample.json");

    /// <summary>A transcript folder: the shared session, a fork repeating one of its lines, and a subagent file.</summary>
    private static string TranscriptFolder(CliHarness cli)
    {
        var root = cli.PathOf("claude", "projects", "demo");
        Directory.CreateDirectory(Path.Combine(root, "s1", "subagents"));
        var session = File.ReadAllText(Wire("claude_code_session.jsonl"));
        File.WriteAllText(Path.Combine(root, "s1.jsonl"), session);
        var repeated = session.Split('\n').Single(l => l.Contains("\"uuid\":\"a-0003\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(root, "s2-fork.jsonl"), repeated + "\n");
        var sub = repeated.Replace("msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01SUBAGENTAAAAAAAAAAAAA", StringComparison.Ordinal)
            .Replace("\"isSidechain\":false", "\"isSidechain\":true", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(root, "s1", "subagents", "agent-a1.jsonl"), sub + "\n");
        return Path.Combine(cli.Folder, "claude");
    }

    [Test]
    public async Task Import_TranscriptFolderTwice_RecordsEachResponseOnce()
    {
        using var cli = new CliHarness();
        var folder = TranscriptFolder(cli);

        var first = await cli.RunAsync("import", folder, "--json", "--prices", SamplePrices);
        var second = await cli.RunAsync("import", folder, "--json", "--prices", SamplePrices);
        var report = await cli.RunAsync("report", "--json", "--prices", SamplePrices);

        Assert.That(first.ExitCode, Is.EqualTo(0), first.Err);
        Assert.That(first.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(3), "A, B and the subagent's response");
        Assert.That(second.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(0));
        Assert.That(second.Json().GetProperty("calls_skipped").GetInt32(), Is.EqualTo(3));
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(3));
    }

    [Test]
    public async Task Import_DryRunJson_PrintsNormalizedCallsAndWritesNothing()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("import", Wire("claude_code_session.jsonl"), "--dry-run", "--json", "--prices", SamplePrices);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(cli.LedgerPath), Is.False, "a dry run must not create or write the ledger");
        var calls = run.Json().GetProperty("calls").EnumerateArray().ToArray();
        Assert.That(calls, Has.Length.EqualTo(2));
        var a = calls[0];
        foreach (var field in new[] { "id", "ts", "session", "task", "agent", "route", "category", "user", "provider", "model", "input", "cache_read",
                     "cache_write_5m", "cache_write_1h", "output", "reasoning", "cost_usd", "cost_source", "usage_status", "latency_ms", "ok", "retries",
                     "attempt", "request_id", "tags" })
        {
            Assert.That(a.TryGetProperty(field, out _), Is.True, field);
        }

        Assert.That(a.GetProperty("cache_write_1h").GetInt64(), Is.EqualTo(2285));
        Assert.That(a.GetProperty("output").GetInt64(), Is.EqualTo(184));
        Assert.That(a.GetProperty("request_id").GetString(), Is.EqualTo("msg_01AAAAAAAAAAAAAAAAAAAAAA"));
        Assert.That(calls.Sum(c => c.GetProperty("cost_usd").GetDecimal()), Is.EqualTo(0.0534195m), "priced with --prices");
    }

    [Test]
    public async Task Import_CodexRolloutDryRun_ListsDeltasAndRateLimitSamples()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("import", Wire("codex_rollout.jsonl"), "--dry-run", "--json");

        var json = run.Json();
        var calls = json.GetProperty("calls").EnumerateArray().ToArray();
        Assert.That(calls.Select(c => c.GetProperty("input").GetInt64()), Is.EqualTo(new[] { 2838L, 3162L }));
        Assert.That(calls.Select(c => c.GetProperty("reasoning").GetInt64()), Is.EqualTo(new[] { 53L, 247L }));
        var limits = json.GetProperty("rate_limits").EnumerateArray().ToArray();
        Assert.That(limits[^2].GetProperty("used_percent").GetDouble(), Is.EqualTo(9.0));
        Assert.That(limits[^1].GetProperty("window_minutes").GetInt32(), Is.EqualTo(10080));
    }

    [Test]
    public async Task Import_CapturedResponses_RecordsThemAndSkipsThemTheSecondTime()
    {
        using var cli = new CliHarness();
        var folder = cli.PathOf("captures");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "openai_chat_stream_include_usage.sse", "openai_responses_nonstream.json", "openrouter_chat_usage.json" })
        {
            File.Copy(Wire(name), Path.Combine(folder, name));
        }

        var first = await cli.RunAsync("import", folder, "--json", "--prices", SamplePrices);
        var second = await cli.RunAsync("import", folder, "--json", "--prices", SamplePrices);

        Assert.That(first.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(3), first.Err);
        Assert.That(second.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(0));
    }

    [Test]
    public async Task Import_LargeFolder_ReportsProgressOnStderrWhenItIsATerminal()
    {
        using var cli = new CliHarness { ErrorIsTerminal = true };
        var folder = cli.PathOf("many");
        Directory.CreateDirectory(folder);
        for (var i = 0; i < 30; i++)
        {
            File.Copy(Wire("claude_code_session.jsonl"), Path.Combine(folder, $"session-{i:D2}.jsonl"));
        }

        var run = await cli.RunAsync("import", folder, "--dry-run", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Contain("import: 30/30 files"));
        Assert.That(run.Json().GetProperty("calls").GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public async Task Import_MalformedTranscriptLine_IsReportedWithFileAndLineAndTheRestImports()
    {
        using var cli = new CliHarness();
        var file = cli.PathOf("bad.jsonl");
        var lines = File.ReadAllLines(Wire("claude_code_session.jsonl")).ToList();
        lines.Insert(3, "{\"type\":\"assistant\",\"sessionId\":\"x\",\"parentUuid\":null,\"message\":{\"id\":\"msg_bad\",\"model\":\"claude-opus-4-6\",\"usage\":{\"input_tokens\":-5,\"output_tokens\":1}}}");
        lines.Insert(4, "{\"type\":\"assistant\",\"message\":{\"usage\":{\"input_tok");
        File.WriteAllLines(file, lines);

        var run = await cli.RunAsync("import", file, "--json");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("bad.jsonl:4: message.usage: message.usage.input_tokens is negative (-5)"));
        Assert.That(run.Err, Does.Contain("bad.jsonl:5: malformed JSON"));
        Assert.That(run.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public async Task Import_DryRunOfReferenceLedger_ListsItsCallsWithoutWriting()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("import", Path.Combine(Fixtures.WorkedExample, "input"), "--dry-run", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
        Assert.That(run.Json().GetProperty("calls").EnumerateArray().Select(c => c.GetProperty("id").GetString()), Does.Contain("c_s1call000001"));
    }

    [Test]
    public async Task Import_CodexRolloutWithRestartingTotals_RecordsEverySnapshotOnceAndNothingTheSecondTime()
    {
        using var cli = new CliHarness();
        var file = cli.PathOf("rollout.jsonl");
        File.WriteAllText(file, string.Join('\n',
            """{"timestamp":"2026-04-16T10:00:00.000Z","type":"session_meta","payload":{"id":"s1"}}""",
            """{"timestamp":"2026-04-16T10:00:01.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}}""",
            """{"timestamp":"2026-04-16T10:00:02.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":50,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0,"total_tokens":55}}}}""",
            """{"timestamp":"2026-04-16T10:00:03.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}}""") + "\n");

        var first = await cli.RunAsync("import", file, "--json", "--prices", SamplePrices);
        var second = await cli.RunAsync("import", file, "--json", "--prices", SamplePrices);

        // 110 (line 2), a restart to 55 (line 3), 110 again (line 4): three calls, where the old id codex:s1:110 kept two.
        Assert.That(first.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(3), first.Err);
        Assert.That(second.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(0), second.Err);
    }
}
