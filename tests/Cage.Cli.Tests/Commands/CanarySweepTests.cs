using System.Text;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// Issue 13, item 5: secrets planted in every free-text field an import reads (error text, tags, receipt metadata,
/// fields that get rejected, an outcomes file, a transcript's prompt and thinking) reach no sink: not the ledger
/// file, its WAL or shared-memory file, stdout, stderr, <c>--json</c>, <c>why</c> nor <c>export</c>.
/// </summary>
[TestFixture]
public sealed class CanarySweepTests
{
    private static readonly string[] Canaries =
    [
        "sk-ant-api03-CANARYabcdefghijklmnop0123",
        "sk-proj-CANARYabcdefghijklmnopqrstu0123",
        "ghp_CANARYabcdefghijklmnopqrstuvwx0123",
        "AKIACANARY2ABCDEFGHI",
        "xoxb-CANARY-0123456789-abcdef",
        "canary.person@example.com",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJlQ0FOQVJZ",
        "CANARY-PROMPT-never-store-this",
    ];

    private static string Ref(int i) => Canaries[i];

    private static void WriteInputs(CliHarness cli)
    {
        var ledger = cli.PathOf("ref", ".cage", "ledger");
        Directory.CreateDirectory(ledger);
        File.WriteAllLines(Path.Combine(ledger, "calls.jsonl"),
        [
            // A failed call whose error text quotes the request and names a key, a user and a token.
            $$$"""{"id": "c_fail", "ts": "2026-06-20T10:00:00Z", "session": "demo", "task": "t", "route": "r", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 100, "tokens_out": 0, "cached_in": 0, "ok": false, "error": "401 for key {{{Ref(0)}}} (user {{{Ref(5)}}}): «{{{Ref(7)}}}»", "tags": {"who": "{{{Ref(2)}}}", "jwt": "{{{Ref(6)}}}"}}""",
            // Rejected fields: a key where the time goes, one where the usage status goes.
            $$"""{"id": "c_badts", "ts": "{{Ref(1)}}", "model": "claude-opus-4-8", "tokens_in": 1, "tokens_out": 1}""",
            $$"""{"id": "c_badstatus", "ts": "2026-06-20T10:00:00Z", "model": "claude-opus-4-8", "tokens_in": 1, "tokens_out": 1, "usage_status": "{{Ref(3)}}"}""",
        ]);
        File.WriteAllLines(Path.Combine(ledger, "receipts.jsonl"),
        [
            $$$"""{"id": "r_1", "ts": "2026-06-20T10:00:00Z", "call": "c_fail", "task": "t", "tool": "fux", "unit": "tokens", "raw_alternative": 10, "actual": 5, "meta": {"slack": "{{{Ref(4)}}}", "auth": "token={{{Ref(2)}}}"}}""",
            $$"""{"id": "r_2", "ts": "2026-06-20T10:00:00Z", "task": "t", "tool": "fux", "unit": "{{Ref(5)}}", "raw_alternative": 10, "actual": 5}""",
        ]);
        File.WriteAllText(cli.PathOf("ref", ".cage", "outcomes.json"), $$"""{"t": "{{Ref(1)}}"}""");

        // A Claude Code transcript whose prompt and thinking carry the prompt canary.
        var logs = cli.PathOf("logs");
        Directory.CreateDirectory(logs);
        var session = File.ReadAllText(Fixtures.Wire("claude_code_session.jsonl"))
            .Replace("list the files", Canaries[7], StringComparison.Ordinal)
            .Replace("Need to run ls.", Canaries[7] + " " + Canaries[0], StringComparison.Ordinal);
        Assert.That(session, Does.Contain(Canaries[7]), "the canary is in the transcript");
        File.WriteAllText(Path.Combine(logs, "session.jsonl"), session);
    }

    [Test]
    public async Task ImportAndEveryReadCommand_NoSecretReachesAnySink()
    {
        using var cli = new CliHarness();
        WriteInputs(cli);
        var output = new StringBuilder();
        async Task<CliRun> Run(params string[] args)
        {
            var run = await cli.RunAsync(args);
            output.Append(run.Out).Append('\n').Append(run.Err).Append('\n');
            return run;
        }

        var dry = await Run("import", "ref", "--dry-run", "--json");
        var imported = await Run("import", "ref", "--json");
        await Run("import", "ref");
        var logs = await Run("import", "logs", "--json");
        await Run("import", "logs", "--dry-run");
        await Run("report", "--json");
        await Run("report", "--by", "task");
        var why = await Run("why", "c_fail", "--json");
        await Run("why", "c_fail");
        await Run("attrib", "--task", "t", "--json");
        var export = await Run("export", "out");

        Assert.That(imported.ExitCode, Is.EqualTo(2), "the rejected lines make it exit 2");
        Assert.That(dry.ExitCode, Is.EqualTo(2));
        Assert.That(logs.ExitCode, Is.EqualTo(0), logs.Err);
        Assert.That(why.ExitCode, Is.EqualTo(0), why.Err);
        Assert.That(export.ExitCode, Is.EqualTo(0), export.Err);
        Assert.That(imported.Err, Does.Contain("calls.jsonl:2: ts: ").And.Contain("calls.jsonl:3: usage_status: ").And.Contain("receipts.jsonl:2: unit: "),
            "the rejections are reported, only without the values");
        Assert.That(why.Out, Does.Contain("[redacted]"), "the error text was kept, scrubbed");

        var sinks = new Dictionary<string, string>(StringComparer.Ordinal) { ["stdout and stderr"] = output.ToString() };
        foreach (var file in Directory.EnumerateFiles(cli.PathOf(".cage")).Concat(Directory.EnumerateFiles(cli.PathOf("out"))))
        {
            sinks[file] = Encoding.UTF8.GetString(File.ReadAllBytes(file));
        }

        Assert.That(sinks.Keys, Has.Some.EndsWith("ledger.db"));
        Assert.That(sinks.Keys, Has.Some.EndsWith("calls.jsonl"));
        Assert.That(sinks[cli.PathOf("out", "calls.jsonl")], Does.Contain("c_fail"), "the export holds the failed call");
        Assert.Multiple(() =>
        {
            foreach (var (sink, text) in sinks)
            {
                foreach (var canary in Canaries)
                {
                    Assert.That(text, Does.Not.Contain(canary), $"{canary} reached {sink}");
                }

                Assert.That(text, Does.Not.Contain("CANARY"), $"part of a canary reached {sink}");
            }
        });
    }

    [Test]
    public async Task Import_WhileTheLedgerIsOpen_TheWalHoldsNoSecret()
    {
        using var cli = new CliHarness();
        WriteInputs(cli);
        await cli.RunAsync("import", "ref");
        await cli.RunAsync("import", "logs");

        // A reader holding the file open keeps the WAL from being folded in and removed by the writer's close.
        await using var reader = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={cli.LedgerPath};Mode=ReadOnly;Pooling=False");
        await reader.OpenAsync();
        await using (var begin = reader.CreateCommand())
        {
            begin.CommandText = "BEGIN; SELECT count(*) FROM calls;";
            await begin.ExecuteScalarAsync();
        }

        await cli.RunAsync("import", "logs"); // a write while the reader holds its snapshot
        var files = Directory.EnumerateFiles(cli.PathOf(".cage")).ToArray();
        Assert.That(files, Has.Some.EndsWith("ledger.db-wal"), "the WAL is there to be read");
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var canary in Canaries)
            {
                Assert.That(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(canary)), Is.EqualTo(-1), $"{canary} in {file}");
            }
        }
    }
}
