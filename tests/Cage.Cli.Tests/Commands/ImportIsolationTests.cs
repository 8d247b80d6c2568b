using System.Text.Json;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// <c>cage import</c> never lets one bad file sink the rest: each problem is listed as <c>file:line: field: message</c>,
/// what was good is committed, the summary counts files and lines, warnings keep exit 0 and rejections make it 2, and
/// <c>--dry-run</c> checks everything the real import checks. Against a real SQLite ledger.
/// </summary>
[TestFixture]
public sealed class ImportIsolationTests
{
    private static string Session => File.ReadAllText(Fixtures.Wire("claude_code_session.jsonl"));

    private static string FirstUsageLine => Session.Split('\n').First(l => l.Contains("\"usage\"", StringComparison.Ordinal));

    /// <summary>A folder with the fixture session, a transcript with invalid UTF-8 in a string and one dated year 1.</summary>
    private static string FolderWithBadFiles(CliHarness cli)
    {
        var folder = cli.PathOf("logs");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "good.jsonl"), Session);
        var badUtf8 = FirstUsageLine.Replace("msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01BADUTF8", StringComparison.Ordinal).Split("\"claude-opus-4-6\"");
        Assert.That(badUtf8, Has.Length.EqualTo(2), "the fixture names its model once per line");
        File.WriteAllBytes(Path.Combine(folder, "bad-utf8.jsonl"),
            [.. System.Text.Encoding.UTF8.GetBytes(badUtf8[0] + "\"claude-"), 0xFF, 0xFE, (byte)'"', .. System.Text.Encoding.UTF8.GetBytes(badUtf8[1] + "\n")]);
        var yearOne = System.Text.RegularExpressions.Regex.Replace(
            FirstUsageLine.Replace("msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01YEARONE", StringComparison.Ordinal),
            "\"timestamp\":\"[^\"]*\"", "\"timestamp\":\"0001-01-01T00:00:00Z\"");
        File.WriteAllText(Path.Combine(folder, "year-one.jsonl"), yearOne + "\n");
        return folder;
    }

    [Test]
    public async Task Import_FolderWithBadFiles_CommitsTheGoodFileAndNamesEachBadLine()
    {
        using var cli = new CliHarness();
        var folder = FolderWithBadFiles(cli);

        var run = await cli.RunAsync("import", folder, "--json");
        var report = await cli.RunAsync("report", "--json");

        Assert.That(run.Err, Does.Not.Contain("unexpected error"));
        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(Path.Combine(folder, "bad-utf8.jsonl") + ":1: ").And.Contain("invalid UTF-8"));
        Assert.That(run.Err, Does.Contain(Path.Combine(folder, "year-one.jsonl") + ":1: ts: ").And.Contain("outside the ledger's range"));
        var json = run.Json();
        Assert.That(json.GetProperty("calls_added").GetInt32(), Is.EqualTo(2), "the good transcript's two responses");
        Assert.That(json.GetProperty("calls_rejected").GetInt32(), Is.EqualTo(1), "the year-one response");
        Assert.That(json.GetProperty("files_read").GetInt32(), Is.EqualTo(3));
        Assert.That(json.GetProperty("files_imported").GetInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("files_rejected").GetInt32(), Is.EqualTo(2));
        Assert.That(json.GetProperty("lines_rejected").GetInt32(), Is.EqualTo(2));
        var errors = json.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("file").GetString(), e.GetProperty("line").GetInt32())).ToArray();
        Assert.That(errors, Is.EquivalentTo(new[] { (Path.Combine(folder, "bad-utf8.jsonl"), 1), (Path.Combine(folder, "year-one.jsonl"), 1) }));
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(2), "what was good is committed");
    }

    [Test]
    public async Task Import_TextSummary_CountsFilesAndLinesAddedAndRejected()
    {
        using var cli = new CliHarness();
        var folder = FolderWithBadFiles(cli);

        var run = await cli.RunAsync("import", folder);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Out, Does.Contain("calls     2 added, 0 already there, 1 rejected"));
        Assert.That(run.Out, Does.Contain("files     3 read: 1 imported, 2 rejected"));
        Assert.That(run.Out, Does.Contain("lines     11 read, 2 rejected"));
    }

    [Test]
    public async Task Import_DryRun_ReportsTheSameProblemsAndExitCodeAndWritesNothing()
    {
        using var cli = new CliHarness();
        var folder = FolderWithBadFiles(cli);

        var dry = await cli.RunAsync("import", folder, "--dry-run", "--json");

        Assert.That(File.Exists(cli.LedgerPath), Is.False, "a dry run writes no ledger");
        var real = await cli.RunAsync("import", folder, "--json");
        Assert.That(dry.ExitCode, Is.EqualTo(real.ExitCode));
        Assert.That(dry.Err, Is.EqualTo(real.Err), "the same problems, in the same words");
        Assert.That(dry.Json().GetProperty("calls").GetArrayLength(), Is.EqualTo(2), "the calls the real import stores, not the rejected one");
        Assert.That(dry.Json().GetProperty("calls_rejected").GetInt32(), Is.EqualTo(real.Json().GetProperty("calls_rejected").GetInt32()));
    }

    [Test]
    public async Task Import_DryRunOfReferenceLedger_ChecksReceiptsToo()
    {
        using var cli = new CliHarness();
        var ledger = cli.PathOf("reference", "ledger");
        Directory.CreateDirectory(ledger);
        File.WriteAllText(Path.Combine(ledger, "calls.jsonl"),
            """{"id": "c_ok1", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 8600, "tokens_out": 1500, "est_cost_usd": 0.0483}""" + "\n");
        File.WriteAllText(Path.Combine(ledger, "receipts.jsonl"),
            """{"id": "r_1", "ts": "2026-06-20T10:00:01Z", "call_id": "c_ok1", "tool": "fux", "unit": "tokens", "raw_alternative": -5, "actual": 0}""" + "\n");

        var dry = await cli.RunAsync("import", ledger, "--dry-run");
        var real = await cli.RunAsync("import", ledger);

        Assert.That(dry.ExitCode, Is.EqualTo(2), dry.Err);
        Assert.That(dry.Err, Does.Contain(Path.Combine(ledger, "receipts.jsonl") + ":1: raw_alternative: "));
        Assert.That(real.ExitCode, Is.EqualTo(dry.ExitCode));
        Assert.That(real.Err, Does.Contain(Path.Combine(ledger, "receipts.jsonl") + ":1: raw_alternative: "));
    }

    [Test]
    public async Task Import_InterruptedStream_IsStoredFlaggedAsAWarningWithExitZero()
    {
        using var cli = new CliHarness();
        var folder = cli.PathOf("captures");
        Directory.CreateDirectory(folder);
        var stream = File.ReadAllText(Fixtures.Wire("anthropic_messages_stream.sse"));
        var cut = stream.IndexOf("event: message_delta", StringComparison.Ordinal);
        Assert.That(cut, Is.GreaterThan(0));
        File.WriteAllText(Path.Combine(folder, "interrupted.sse"), stream[..cut].Replace("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "msg_interrupted", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(folder, "complete.sse"), stream);

        var run = await cli.RunAsync("import", folder, "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Contain(Path.Combine(folder, "interrupted.sse") + ": warning: "));
        var json = run.Json();
        Assert.That(json.GetProperty("errors").GetArrayLength(), Is.EqualTo(0));
        Assert.That(json.GetProperty("warnings").EnumerateArray().Select(w => w.GetProperty("file").GetString()), Is.EqualTo(new[] { Path.Combine(folder, "interrupted.sse") }));
        Assert.That(json.GetProperty("calls_added").GetInt32(), Is.EqualTo(2), "the interrupted stream is recorded too, flagged");
    }

    [Test]
    public async Task Import_TranscriptReadWhileStreaming_IsUpgradedInPlaceByTheNextImport()
    {
        using var cli = new CliHarness();
        var lines = Session.Split('\n');
        var firstUsage = Array.FindIndex(lines, l => l.Contains("\"usage\"", StringComparison.Ordinal));
        var file = cli.PathOf("session.jsonl");
        File.WriteAllText(file, string.Join('\n', lines[..(firstUsage + 1)]) + "\n"); // the response's first line: output 2 so far

        var partial = await cli.RunAsync("import", file, "--json");
        var before = await cli.RunAsync("report", "--json");
        File.WriteAllText(file, Session); // the session as it was finally written
        var finished = await cli.RunAsync("import", file, "--json");
        var after = await cli.RunAsync("report", "--json");
        var again = await cli.RunAsync("import", file, "--json");

        Assert.That(partial.ExitCode, Is.EqualTo(0), partial.Err);
        Assert.That(Total(before, "calls"), Is.EqualTo(1));
        Assert.That(Total(before, "tokens_out"), Is.EqualTo(2));
        Assert.That(finished.ExitCode, Is.EqualTo(0), finished.Err);
        Assert.That(finished.Json().GetProperty("calls_updated").GetInt32(), Is.EqualTo(1), "response A now reports its final usage");
        Assert.That(finished.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(1), "response B is new");
        Assert.That(Total(after, "calls"), Is.EqualTo(2), "upgraded in place, not duplicated");
        Assert.That(Total(after, "tokens_out"), Is.EqualTo(184 + 58));
        Assert.That(again.Json().GetProperty("calls_updated").GetInt32(), Is.EqualTo(0));
        Assert.That(again.Json().GetProperty("calls_skipped").GetInt32(), Is.EqualTo(2));
        await AssertSameIdAsync(cli);
    }

    private static long Total(CliRun report, string field) => report.Json().GetProperty("total").GetProperty(field).GetInt64();

    /// <summary>The stored call keeps its id, and the totals the report reads agree with the calls themselves.</summary>
    private static async Task AssertSameIdAsync(CliHarness cli)
    {
        var export = cli.PathOf("export");
        var run = await cli.RunAsync("export", export);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var calls = File.ReadAllLines(Path.Combine(export, "calls.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.That(calls.Select(c => c.GetProperty("request_id").GetString()), Is.EquivalentTo(new[] { "msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01BBBBBBBBBBBBBBBBBBBBBB" }));
        Assert.That(calls.Sum(c => c.GetProperty("output").GetInt64()), Is.EqualTo(184 + 58));
    }
}
