using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CageNet.Cli.Tests.Commands;

/// <summary><c>cage hooks install|uninstall|status</c>: the tools' settings files merged, real files in a temp folder.</summary>
[TestFixture]
public sealed class HooksCommandTests
{
    private const string ClaudeSettings = """
        {
          "model": "opus",
          "permissions": { "allow": ["Bash(npm test)"] },
          "hooks": {
            "PreToolUse": [
              { "matcher": "Bash", "hooks": [ { "type": "command", "command": "./check.sh", "timeout": 5 } ] }
            ],
            "SessionEnd": [
              { "matcher": "clear", "hooks": [ { "type": "command", "command": "echo bye" } ] }
            ]
          }
        }
        """;

    private static string Settings(CliHarness cli) => cli.PathOf(".claude", "settings.json");

    private static void WriteSettings(CliHarness cli, string text, string? path = null)
    {
        path ??= Settings(cli);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static JsonNode Parse(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>Every handler under an event whose command is Cage's.</summary>
    private static List<JsonNode> CageHandlers(JsonNode settings, string eventName, string tool) =>
        [.. (settings["hooks"]?[eventName]?.AsArray() ?? [])
            .SelectMany(g => g!["hooks"]!.AsArray())
            .Where(h => ((string?)h!["command"])?.EndsWith("hooks run " + tool, StringComparison.Ordinal) == true)
            .Select(h => h!)];

    [Test]
    public async Task Install_IntoSettingsWithOtherKeysAndHooks_KeepsThemAndAddsOneEntry()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, ClaudeSettings);

        var run = await cli.RunAsync("hooks", "install", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("Added a SessionEnd hook to " + Settings(cli)).And.Contain("cage hooks run claude-code"));
        var after = Parse(Settings(cli));
        var cage = CageHandlers(after, "SessionEnd", "claude-code");
        Assert.That(cage, Has.Count.EqualTo(1));
        Assert.That((string?)cage[0]["command"], Is.EqualTo("cage hooks run claude-code"));
        Assert.That((string?)cage[0]["type"], Is.EqualTo("command"));
        Assert.That((int)cage[0]["timeout"]!, Is.EqualTo(30), "raises Claude Code's 1.5 s session-end budget");

        // Everything else is as it was: remove Cage's group and the document is the original.
        var sessionEnd = after["hooks"]!["SessionEnd"]!.AsArray();
        Assert.That(sessionEnd, Has.Count.EqualTo(2), "the user's SessionEnd group stays, Cage's is a group of its own");
        sessionEnd.RemoveAt(1);
        Assert.That(JsonNode.DeepEquals(after, JsonNode.Parse(ClaudeSettings)), Is.True, after.ToJsonString());
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.True, "the project's .cage/ folder is made for the ledger");
    }

    [Test]
    public async Task Install_Twice_KeepsOneEntryAndLeavesTheFileAlone()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, ClaudeSettings);

        await cli.RunAsync("hooks", "install", "claude-code");
        var once = File.ReadAllText(Settings(cli));
        var again = await cli.RunAsync("hooks", "install", "claude-code");

        Assert.That(again.ExitCode, Is.EqualTo(0), again.Err);
        Assert.That(again.Out, Does.Contain("already in"));
        Assert.That(File.ReadAllText(Settings(cli)), Is.EqualTo(once));
        Assert.That(CageHandlers(Parse(Settings(cli)), "SessionEnd", "claude-code"), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Install_WithAnotherCagePath_ReplacesCagesEntryInsteadOfAddingOne()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("hooks", "install", "claude-code");

        var run = await cli.RunAsync("hooks", "install", "claude-code", "--cage-path", "/opt/my tools/cage.dll");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.StartWith("Updated Cage's SessionEnd hook"));
        var cage = CageHandlers(Parse(Settings(cli)), "SessionEnd", "claude-code");
        Assert.That(cage, Has.Count.EqualTo(1));
        var expected = OperatingSystem.IsWindows() ? "dotnet \"/opt/my tools/cage.dll\" hooks run claude-code" : "dotnet '/opt/my tools/cage.dll' hooks run claude-code";
        Assert.That((string?)cage[0]["command"], Is.EqualTo(expected));
    }

    [Test]
    public async Task Uninstall_AfterInstall_LeavesTheOriginalSettings()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, ClaudeSettings);
        await cli.RunAsync("hooks", "install", "claude-code");

        var run = await cli.RunAsync("hooks", "uninstall", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.StartWith("Removed Cage's SessionEnd hook from " + Settings(cli)));
        Assert.That(JsonNode.DeepEquals(Parse(Settings(cli)), JsonNode.Parse(ClaudeSettings)), Is.True, File.ReadAllText(Settings(cli)));

        var again = await cli.RunAsync("hooks", "uninstall", "claude-code");
        Assert.That(again.ExitCode, Is.EqualTo(0), again.Err);
        Assert.That(again.Out, Does.StartWith("No Cage hook in"));
    }

    [Test]
    public async Task Uninstall_OfASettingsFileInstallCreated_DeletesIt()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("hooks", "install", "claude-code", "--scope", "local");
        var local = cli.PathOf(".claude", "settings.local.json");
        Assert.That(File.Exists(local), Is.True);

        var run = await cli.RunAsync("hooks", "uninstall", "claude-code", "--scope", "local");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(local), Is.False, run.Out);
    }

    [Test]
    public async Task DryRun_Install_ShowsTheDiffAndWritesNothing()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, ClaudeSettings);

        var run = await cli.RunAsync("hooks", "install", "claude-code", "--dry-run");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.ReadAllText(Settings(cli)), Is.EqualTo(ClaudeSettings));
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False, "a dry run makes no .cage/ folder either");
        Assert.That(run.Out, Does.Contain("Would add a SessionEnd hook to " + Settings(cli)));
        Assert.That(run.Out, Does.Contain("--- " + Settings(cli)).And.Contain("+++ " + Settings(cli)).And.Contain("@@ "));
        Assert.That(run.Out, Does.Contain("+            \"command\": \"cage hooks run claude-code\","));
        Assert.That(run.Out, Does.Contain("Nothing was written (--dry-run)."));
    }

    [Test]
    public async Task DryRun_Uninstall_ShowsTheRemovalAndWritesNothing()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, ClaudeSettings);
        await cli.RunAsync("hooks", "install", "claude-code");
        var installed = File.ReadAllText(Settings(cli));

        var run = await cli.RunAsync("hooks", "uninstall", "claude-code", "--dry-run");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.ReadAllText(Settings(cli)), Is.EqualTo(installed));
        Assert.That(run.Out, Does.Contain("-            \"command\": \"cage hooks run claude-code\","));
        Assert.That(run.Out, Does.Contain("Nothing was written (--dry-run)."));
    }

    [Test]
    public async Task Install_MalformedSettings_Exit2NamingFileAndLine_FileUntouched()
    {
        using var cli = new CliHarness();
        const string Broken = "{\n  \"model\": \"opus\",\n  \"hooks\": { \"SessionEnd\": [ }\n}\n";
        WriteSettings(cli, Broken);

        var run = await cli.RunAsync("hooks", "install", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.StartWith($"cage: {Settings(cli)}:3: not valid JSON"));
        Assert.That(File.ReadAllText(Settings(cli)), Is.EqualTo(Broken));
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False);
    }

    [Test]
    public async Task Install_SettingsWithComments_Exit2BecauseARewriteWouldLoseThem()
    {
        using var cli = new CliHarness();
        const string Commented = "{\n  // my model\n  \"model\": \"opus\"\n}\n";
        WriteSettings(cli, Commented);

        var run = await cli.RunAsync("hooks", "install", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(Settings(cli) + ":2: has comments or trailing commas"));
        Assert.That(File.ReadAllText(Settings(cli)), Is.EqualTo(Commented));
    }

    [Test]
    public async Task Install_HooksOfTheWrongShape_Exit2()
    {
        using var cli = new CliHarness();
        WriteSettings(cli, """{ "hooks": { "SessionEnd": { "command": "x" } } }""");

        var run = await cli.RunAsync("hooks", "install", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("\"hooks.SessionEnd\" is not an array"));
    }

    [Test]
    public async Task Install_UserScope_WritesTheHomeSettingsAndMakesNoCageFolder()
    {
        using var cli = new CliHarness();
        var home = cli.PathOf("home");
        cli.Environment["HOME"] = home;

        var run = await cli.RunAsync("hooks", "install", "claude-code", "--scope", "user");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var settings = Path.Combine(home, ".claude", "settings.json");
        Assert.That(CageHandlers(Parse(settings), "SessionEnd", "claude-code"), Has.Count.EqualTo(1));
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False, "a user-wide hook imports only into projects that have a .cage/ folder");
        Assert.That(File.Exists(Settings(cli)), Is.False);
    }

    [Test]
    public async Task InstallCodex_Project_AddsAStopHookToCodexHooksJson_KeepingOtherHooks()
    {
        using var cli = new CliHarness();
        var hooks = cli.PathOf(".codex", "hooks.json");
        const string Existing = """{ "hooks": { "Stop": [ { "hooks": [ { "type": "command", "command": "notify-send done" } ] } ] } }""";
        WriteSettings(cli, Existing, hooks);

        var run = await cli.RunAsync("hooks", "install", "codex");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("Added a Stop hook to " + hooks).And.Contain("reviewed and trusted"));
        var after = Parse(hooks);
        Assert.That(CageHandlers(after, "Stop", "codex"), Has.Count.EqualTo(1));
        Assert.That((string?)after["hooks"]!["Stop"]![0]!["hooks"]![0]!["command"], Is.EqualTo("notify-send done"));

        await cli.RunAsync("hooks", "install", "codex");
        Assert.That(CageHandlers(Parse(hooks), "Stop", "codex"), Has.Count.EqualTo(1), "idempotent");

        var removed = await cli.RunAsync("hooks", "uninstall", "codex");
        Assert.That(removed.ExitCode, Is.EqualTo(0), removed.Err);
        Assert.That(JsonNode.DeepEquals(Parse(hooks), JsonNode.Parse(Existing)), Is.True, File.ReadAllText(hooks));
    }

    [Test]
    public async Task InstallCodex_UserScope_UsesCodexHome_AndWarnsWhenConfigTurnsHooksOff()
    {
        using var cli = new CliHarness();
        var codexHome = cli.PathOf("codex-home");
        Directory.CreateDirectory(codexHome);
        File.WriteAllText(Path.Combine(codexHome, "config.toml"), "model = \"gpt-5\"\n\n[features]\nhooks = false\n");
        cli.Environment["CODEX_HOME"] = codexHome;

        var run = await cli.RunAsync("hooks", "install", "codex", "--scope", "user");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(CageHandlers(Parse(Path.Combine(codexHome, "hooks.json")), "Stop", "codex"), Has.Count.EqualTo(1));
        Assert.That(run.Err, Does.Contain("cage: warning: ").And.Contain("[features] hooks = false"));
        Assert.That(File.ReadAllText(Path.Combine(codexHome, "config.toml")), Does.EndWith("hooks = false\n"), "config.toml is only read");
    }

    [TestCase("claude-code --scope user", "HOME is not set")]
    [TestCase("codex --scope local", "codex has no local scope")]
    [TestCase("cursor", "cursor")]
    [TestCase("claude-code --scope team", "team")]
    public async Task Install_BadArguments_Exit2(string arguments, string message)
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync(["hooks", "install", .. arguments.Split(' ')]);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(message));
        Assert.That(Directory.EnumerateFileSystemEntries(cli.Folder), Is.Empty, "nothing written");
    }

    [Test]
    public async Task Status_ListsWhereCagesHooksAre()
    {
        using var cli = new CliHarness();
        cli.Environment["HOME"] = cli.PathOf("home");
        await cli.RunAsync("hooks", "install", "codex");

        var run = await cli.RunAsync("hooks", "status");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var lines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(5));
        Assert.That(lines.Single(l => l.StartsWith("codex        project", StringComparison.Ordinal)), Does.Contain("Stop: cage hooks run codex"));
        Assert.That(lines.Single(l => l.StartsWith("claude-code  project", StringComparison.Ordinal)), Does.Contain("not installed"));
    }
}

/// <summary><c>cage hooks run</c>: the hook JSON on stdin, the transcript imported into the project's ledger once.</summary>
[TestFixture]
public sealed class HooksRunTests
{
    private static string Payload(string? transcript, string cwd, string eventName = "SessionEnd") =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["session_id"] = "0b7ea7a2-1111-2222-3333-444455556666",
            ["transcript_path"] = transcript,
            ["cwd"] = cwd,
            ["hook_event_name"] = eventName,
            ["reason"] = eventName == "SessionEnd" ? "prompt_input_exit" : null,
        });

    private static string CopyFixture(CliHarness cli, string name, string to)
    {
        var path = cli.PathOf(to);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(Fixtures.Wire(name), path);
        return path;
    }

    private static async Task<long> CallsAsync(CliHarness cli)
    {
        cli.Stdin = null;
        var report = await cli.RunAsync("report", "--json");
        Assert.That(report.ExitCode, Is.EqualTo(0), report.Err);
        return report.Json().GetProperty("total").GetProperty("calls").GetInt64();
    }

    private static string Log(CliHarness cli) => File.ReadAllText(cli.PathOf(".cage", "hooks.log"));

    [Test]
    public async Task Run_ClaudeCodeSessionEnd_ImportsTheTranscriptOnce()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        var transcript = CopyFixture(cli, "claude_code_session.jsonl", "projects/demo/0b7ea7a2.jsonl");
        cli.Stdin = Payload(transcript, cli.Folder);

        var first = await cli.RunAsync("hooks", "run", "claude-code");
        cli.Stdin = Payload(transcript, cli.Folder);
        var second = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(first.ExitCode, Is.EqualTo(0));
        Assert.That(first.Out + first.Err + second.Out + second.Err, Is.Empty, "a hook prints nothing in the tool's terminal");
        Assert.That(await CallsAsync(cli), Is.EqualTo(2), "the fixture's two responses, once");
        var log = Log(cli);
        Assert.That(log, Does.Contain("cage hooks run claude-code: SessionEnd (prompt_input_exit), session 0b7ea7a2-1111-2222-3333-444455556666"));
        Assert.That(log, Does.Contain("calls     2 added, 0 already there"));
        Assert.That(log, Does.Contain("calls     0 added, 2 already there"));
    }

    [Test]
    public async Task Run_FromASubfolder_ImportsIntoTheProjectLedger_AndItsSubagents()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        var sub = cli.PathOf("src", "app");
        Directory.CreateDirectory(sub);
        var transcript = CopyFixture(cli, "claude_code_session.jsonl", "projects/demo/s1.jsonl");
        var line = File.ReadAllLines(transcript).First(l => l.Contains("\"uuid\":\"a-0003\"", StringComparison.Ordinal))
            .Replace("msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01SUBAGENTAAAAAAAAAAAAA", StringComparison.Ordinal)
            .Replace("\"isSidechain\":false", "\"isSidechain\":true", StringComparison.Ordinal);
        Directory.CreateDirectory(cli.PathOf("projects", "demo", "s1", "subagents"));
        File.WriteAllText(cli.PathOf("projects", "demo", "s1", "subagents", "agent-a1.jsonl"), line + "\n");
        cli.Stdin = Payload(transcript, sub);

        var run = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(Directory.Exists(Path.Combine(sub, ".cage")), Is.False);
        Assert.That(await CallsAsync(cli), Is.EqualTo(3), "the session's two responses and the subagent's");
    }

    [Test]
    public async Task Run_MissingTranscript_Exits0_WithTheErrorInTheLog()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        cli.Stdin = Payload(cli.PathOf("gone.jsonl"), cli.Folder);

        var run = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(run.Out + run.Err, Is.Empty);
        Assert.That(Log(cli), Does.Contain("cage: import: no such file or folder: " + cli.PathOf("gone.jsonl")));
    }

    [Test]
    [TestCase("")]
    [TestCase("not json")]
    [TestCase("[1, 2]")]
    public async Task Run_NoHookJson_Exits0_AndSaysSoInTheLog(string stdin)
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        cli.Stdin = stdin;

        var run = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(run.Out + run.Err, Is.Empty);
        Assert.That(Log(cli), Does.Contain("cage: no hook JSON on stdin"));
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
    }

    [Test]
    public async Task Run_NoTranscriptPath_Exits0_AndSaysSoInTheLog()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        cli.Stdin = Payload(null, cli.Folder, "Stop");

        var run = await cli.RunAsync("hooks", "run", "codex");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(Log(cli), Does.Contain("no transcript_path"));
    }

    [Test]
    public async Task Run_OutsideACageProject_WritesNothingAnywhere()
    {
        using var cli = new CliHarness();
        var transcript = CopyFixture(cli, "claude_code_session.jsonl", "t.jsonl");
        cli.Stdin = Payload(transcript, cli.Folder);

        var run = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(run.Out + run.Err, Is.Empty);
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False);
    }

    [Test]
    public async Task Run_WithCageLedger_ImportsThereEvenOutsideAProject()
    {
        using var cli = new CliHarness();
        var transcript = CopyFixture(cli, "claude_code_session.jsonl", "t.jsonl");
        var ledger = cli.PathOf("data", "ledger.db");
        cli.Environment["CAGE_LEDGER"] = ledger;
        cli.Stdin = Payload(transcript, cli.Folder);

        var run = await cli.RunAsync("hooks", "run", "claude-code");

        Assert.That(run.ExitCode, Is.EqualTo(0));
        Assert.That(File.Exists(ledger), Is.True);
        Assert.That(File.ReadAllText(cli.PathOf("data", "hooks.log")), Does.Contain("calls     2 added"));
    }

    [Test]
    public async Task Run_CodexStop_ImportsTheRolloutOnce()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        var rollout = CopyFixture(cli, "codex_rollout.jsonl", "sessions/2026/06/20/rollout-2026-06-20T10-00-00-x.jsonl");

        cli.Stdin = Payload(rollout, cli.Folder, "Stop");
        var first = await cli.RunAsync("hooks", "run", "codex");
        var once = await CallsAsync(cli);
        cli.Stdin = Payload(rollout, cli.Folder, "Stop");
        await cli.RunAsync("hooks", "run", "codex");

        Assert.That(first.ExitCode, Is.EqualTo(0));
        Assert.That(once, Is.EqualTo(2), "the rollout's two token deltas");
        Assert.That(await CallsAsync(cli), Is.EqualTo(once));
        Assert.That(Log(cli), Does.Contain("cage hooks run codex: Stop, session"));
    }

    [Test]
    public async Task ReadPayload_StdinThatNeverEnds_GivesUpAtTheLimit()
    {
        using var pipe = new BlockingReader("{\"cwd\": \"/x\"");
        var watch = Stopwatch.StartNew();

        var text = await Hooks.HookRunner.ReadPayloadAsync(pipe, TimeSpan.FromMilliseconds(300), CancellationToken.None);

        Assert.That(text, Is.EqualTo("{\"cwd\": \"/x\""));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task ReadPayload_AWholeJsonObject_ReturnsWithoutWaitingForTheEnd()
    {
        using var pipe = new BlockingReader("{\"cwd\": \"/x\"}");
        var watch = Stopwatch.StartNew();

        var text = await Hooks.HookRunner.ReadPayloadAsync(pipe, TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.That(text, Is.EqualTo("{\"cwd\": \"/x\"}"));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
    }

    /// <summary>The installed command line, run for real by a shell with the hook JSON on stdin, as Claude Code runs it.</summary>
    [Test]
    [Category("Process")]
    public async Task InstalledCommandLine_RunByTheShell_ImportsTheTranscript()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("hooks run through sh here");
        }

        using var cli = new CliHarness();
        var dll = ProcessTests.LocateCageDll();
        var install = await cli.RunAsync("hooks", "install", "claude-code", "--cage-path", dll);
        Assert.That(install.ExitCode, Is.EqualTo(0), install.Err);
        var command = (string)JsonNode.Parse(File.ReadAllText(cli.PathOf(".claude", "settings.json")))!["hooks"]!["SessionEnd"]![0]!["hooks"]![0]!["command"]!;
        var transcript = CopyFixture(cli, "claude_code_session.jsonl", "projects/demo/s.jsonl");

        for (var i = 0; i < 2; i++)
        {
            var start = new ProcessStartInfo("sh")
            {
                WorkingDirectory = cli.Folder,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(command);
            start.Environment.Remove("CAGE_LEDGER");
            start.Environment.Remove("CAGE_PRICES");
            using var process = Process.Start(start)!;
            await process.StandardInput.WriteAsync(Payload(transcript, cli.Folder));
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.That(process.ExitCode, Is.EqualTo(0));
            Assert.That(await stdout + await stderr, Is.Empty);
        }

        Assert.That(await CallsAsync(cli), Is.EqualTo(2));
    }

    /// <summary>A reader that returns its text, then blocks (a tool that never closes the hook's stdin).</summary>
    private sealed class BlockingReader(string text) : TextReader
    {
        private readonly ManualResetEventSlim _never = new();
        private bool _given;

        public override int Read(char[] buffer, int index, int count)
        {
            if (!_given)
            {
                _given = true;
                text.CopyTo(0, buffer, index, text.Length);
                return text.Length;
            }

            _never.Wait(TimeSpan.FromSeconds(30));
            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            _never.Set(); // the blocked read returns; the event is left to the finalizer, as the read may still hold it
            base.Dispose(disposing);
        }
    }
}
