using System.Text;
using System.Text.RegularExpressions;

namespace CageNet.Cli.Tests.Output;

/// <summary>
/// Issue 12 C through the real CLI: every table has a header over every column, money follows the one rule, and a
/// large import shows progress on stderr only when stderr is a terminal.
/// </summary>
[TestFixture]
public sealed partial class FormattingTests
{
    private static string CallLine(string id, string ts, string task, long tokensIn, long tokensOut = 0, string model = "claude-opus-4-8", long cachedIn = 0) =>
        $$"""{"id": "{{id}}", "ts": "{{ts}}", "task": "{{task}}", "session": "s-{{task}}", "route": "code-edit", "provider": "anthropic", "model": "{{model}}", "tokens_in": {{tokensIn}}, "tokens_out": {{tokensOut}}, "cached_in": {{cachedIn}}}""";

    [GeneratedRegex(@"^-+(  -+)*$")]
    private static partial Regex Rule();

    [GeneratedRegex("-+")]
    private static partial Regex Dashes();

    /// <summary>Every table (a header line over a dashed rule) names each of its columns; returns how many tables there were.</summary>
    private static int AssertEveryColumnHasAHeader(string output, string what)
    {
        var lines = output.Split('\n');
        var tables = 0;
        for (var i = 1; i < lines.Length; i++)
        {
            if (!Rule().IsMatch(lines[i]))
            {
                continue;
            }

            tables++;
            var header = lines[i - 1].PadRight(lines[i].Length);
            foreach (Match column in Dashes().Matches(lines[i]))
            {
                Assert.That(header.Substring(column.Index, column.Length), Is.Not.Empty.And.Not.Match(@"^\s*$"),
                    $"{what}: the column at {column.Index} has no header:\n{lines[i - 1]}\n{lines[i]}");
            }
        }

        return tables;
    }

    private static async Task<CliHarness> RichLedgerAsync()
    {
        var cli = new CliHarness();
        Assert.That((await cli.RunAsync("demo")).ExitCode, Is.EqualTo(0));
        await cli.RunAsync("outcome", "fix-handover-bug");
        var folder = cli.PathOf("more");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "calls.jsonl"), string.Join("\n",
            CallLine("b1", "2026-06-01T10:00:00Z", "old", 10_000),
            CallLine("n1", "2026-06-19T10:00:00Z", "new", 20_000, 500, cachedIn: 3_000),
            CallLine("u1", "2026-06-19T11:00:00Z", "new", 1_000, model: "no-such-model"),
            """{"id": "l1", "ts": "2026-06-19T12:00:00Z", "task": "new", "route": "local", "provider": "ollama", "model": "ollama/llama3", "tokens_in": 100, "tokens_out": 10}""") + "\n");
        var import = await cli.RunAsync("import", folder);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
        return cli;
    }

    [Test]
    public async Task EveryTable_HasAHeaderOverEveryColumn()
    {
        using var cli = await RichLedgerAsync();
        string[][] commands =
        [
            ["demo"],
            ["report"], ["report", "--by", "model"], ["report", "--by", "provider"], ["report", "--by", "day"], ["report", "--by", "agent"],
            ["report", "--by", "task"], ["report", "--by", "session"], ["report", "--by", "category"], ["report", "--by", "user"],
            ["why", "c_s1call000001"], ["attrib", "--task", "fix-handover-bug"], ["attrib", "--task", "fix-handover-bug", "--shapley"],
            ["matrix", "--task", "fix-handover-bug"], ["roi"], ["recommend"], ["quality"], ["regression"], ["regression", "--by", "model"],
            ["forecast"], ["budget"], ["budget", "--session", "demo"],
        ];

        var tables = 0;
        foreach (var command in commands)
        {
            var run = await cli.RunAsync(command);
            Assert.That(run.ExitCode, Is.EqualTo(0), $"{string.Join(' ', command)}: {run.Err}");
            tables += AssertEveryColumnHasAHeader(run.Out, string.Join(' ', command));
        }

        Assert.That(tables, Is.GreaterThanOrEqualTo(commands.Length), "every command above prints at least one table");
    }

    [Test]
    public async Task Quality_TheNoteColumn_HasAHeader()
    {
        using var cli = await RichLedgerAsync();

        var run = await cli.RunAsync("quality");

        Assert.That(run.Out, Does.Match(@"metric\s+value\s+note\n"));
    }

    [Test]
    public async Task Budget_WholeDollarCaps_ShowCentsNotFourZeros()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var budget = await cli.RunAsync("budget");
        var forecast = await cli.RunAsync("forecast");

        Assert.That(budget.Out, Does.Contain("$25.00").And.Contain("$2.00").And.Not.Contain(".0000 "));
        Assert.That(budget.Out, Does.Not.Match(@"\$\d+\.0000\b"));
        Assert.That(forecast.Out, Does.Contain("$750.00"));
    }

    [Test]
    public async Task Report_SubCentCost_IsNotShownAsZero()
    {
        using var cli = new CliHarness();
        var calls = cli.PathOf("tiny.jsonl");
        // 3 input tokens at $3 / 1M = $0.000009.
        await File.WriteAllTextAsync(calls, CallLine("c_tiny", "2026-06-20T10:00:00Z", "t", 3) + "\n");
        await cli.RunAsync("import", calls);

        var report = await cli.RunAsync("report");
        var why = await cli.RunAsync("why", "c_tiny");

        Assert.That(report.Out, Does.Contain("$0.000009"));
        Assert.That(why.Out, Does.Contain("$0.000009"));
        Assert.That(report.Out, Does.Not.Contain("$0.0000 ").And.Not.Contain("$0.0000\n"));
    }

    // ---- progress ----

    private static async Task<string> LargeReferenceFileAsync(CliHarness cli, int lines = 15_000)
    {
        var path = cli.PathOf("calls.jsonl");
        var text = new StringBuilder();
        for (var i = 0; i < lines; i++)
        {
            text.Append(CallLine($"c_{i:D6}", "2026-06-20T10:00:00Z", "bulk-task-with-a-longer-name-to-make-the-line-longer", 1_000 + i, 100)).Append('\n');
        }

        await File.WriteAllTextAsync(path, text.ToString());
        Assert.That(new FileInfo(path).Length, Is.GreaterThan(1024 * 1024), "a large file");
        return path;
    }

    [Test]
    public async Task Import_LargeReferenceFile_ShowsLinesReadWhenStderrIsATerminal()
    {
        using var cli = new CliHarness { ErrorIsTerminal = true };
        var path = await LargeReferenceFileAsync(cli);

        var run = await cli.RunAsync("import", path);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var updates = Regex.Matches(run.Err, @"\rimport: calls\.jsonl: ([\d,]+) lines read of [\d.]+ MiB");
        Assert.That(updates, Has.Count.GreaterThanOrEqualTo(2), "at least one update while reading, then the total: " + run.Err);
        Assert.That(updates[^1].Groups[1].Value, Is.EqualTo("15,000"));
        Assert.That(run.Err, Does.EndWith("\n"), "the in-place line is ended");
        Assert.That(run.Out, Does.Not.Contain("lines read of"), "progress is never on stdout");
    }

    [Test]
    public async Task Import_LargeReferenceFile_NoProgressWhenStderrIsRedirected()
    {
        using var cli = new CliHarness { ErrorIsTerminal = false };
        var path = await LargeReferenceFileAsync(cli);

        var run = await cli.RunAsync("import", path);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Is.Empty);
    }

    [Test]
    public async Task Import_SmallFile_NoProgressEvenOnATerminal()
    {
        using var cli = new CliHarness { ErrorIsTerminal = true };

        var run = await cli.RunAsync("import", Path.Combine(Fixtures.WorkedExample, "input"));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Is.Empty);
    }

    private static async Task<string> LargeTranscriptAsync(CliHarness cli)
    {
        var lines = await File.ReadAllLinesAsync(Fixtures.Wire("claude_code_session.jsonl"));
        var path = cli.PathOf("big-session.jsonl");
        await File.WriteAllLinesAsync(path, Enumerable.Repeat(lines, 1_200).SelectMany(l => l));
        return path;
    }

    [Test]
    public async Task Import_LargeTranscript_ShowsLinesReadWhenStderrIsATerminal()
    {
        using var cli = new CliHarness { ErrorIsTerminal = true };
        var path = await LargeTranscriptAsync(cli);

        var run = await cli.RunAsync("import", path, "--dry-run");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Contain("\rimport: big-session.jsonl: 10,000 lines read of ").And.Contain(" MiB"));
        Assert.That(run.Err, Does.EndWith("\n"));
    }

    [Test]
    public async Task Import_LargeTranscript_NoProgressWhenStderrIsRedirected()
    {
        using var cli = new CliHarness();
        var path = await LargeTranscriptAsync(cli);

        var run = await cli.RunAsync("import", path, "--dry-run");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Not.Contain("import:"));
    }
}
