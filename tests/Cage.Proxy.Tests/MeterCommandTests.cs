using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using CageNet.Http.Tests;

namespace CageNet.Proxy.Tests;

/// <summary>
/// <c>cage meter -- &lt;cmd&gt;</c> with both as real processes: <c>dotnet cage.dll meter … -- dotnet
/// Cage.Proxy.TestClient.dll …</c>, the provider a loopback Kestrel server, the ledger a SQLite file in a temp folder.
/// </summary>
[TestFixture]
public sealed partial class MeterCommandTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("cage-meter-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    private static string Built(string key)
    {
        var path = typeof(MeterCommandTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value;
        Assert.That(path, Is.Not.Null.And.Not.Empty, $"the test project records where {key} was built");
        return path!;
    }

    private async Task<(int Exit, string Out, string Err)> RunCageAsync(string stdin, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _folder,
        };
        start.ArgumentList.Add(Built("CageAssembly"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["CAGE_LEDGER"] = Path.Combine(_folder, ".cage", "ledger.db");
        start.Environment.Remove("OPENAI_BASE_URL");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteLineAsync(stdin);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    [Test]
    public async Task Meter_RunsTheCommandWithItsArgumentsIntact_PassesStdioThrough_ReturnsItsExitCode_AndPrintsTheSummary()
    {
        await using var upstream = await ReplayServer.StartAsync();

        var (exit, stdout, stderr) = await RunCageAsync("hello from stdin",
            "meter", "--session", "s-42", "--task", "fix-bug", "--upstream", $"openai={upstream.BaseAddress}",
            "--", "dotnet", Built("TestClientAssembly"), "--flag", "--", "x", "--exit", "3");

        var expected = WireFixtures.Expected("openai_chat_stream_include_usage.sse");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(3), stderr);
            var args = stdout.Split('\n').Single(l => l.StartsWith("args=", StringComparison.Ordinal))["args=".Length..].Trim();
            Assert.That(JsonSerializer.Deserialize<string[]>(args), Is.EqualTo(new[] { "--flag", "--", "x", "--exit", "3" }), "arguments after -- reach the command untouched");
            Assert.That(stdout, Does.Contain("stdin=hello from stdin"), "stdin passes through");
            Assert.That(stdout, Does.Contain("status=200"), "the call went through the proxy");
            Assert.That(stderr, Does.Contain("client stderr line"), "stderr passes through");
            Assert.That(stderr, Does.Contain(
                $"[cage] session s-42 usage: 1 call, prompt={expected.Usage.PromptTokens:#,##0} / completion={expected.Usage.Output:#,##0} tokens, cost=${expected.Cost:0.000000} (cloud only; local: 0 calls)"));
            Assert.That(stderr, Does.Contain($"  gpt-4o-mini-2024-07-18 main: 1 call, {expected.Usage.PromptTokens:#,##0}/{expected.Usage.Output:#,##0} tokens, ${expected.Cost:0.000000}"));
        });

        var session = await RunCageAsync("", "report", "--session", "s-42");
        Assert.That(session.Out, Does.StartWith($"Session s-42: 1 call, prompt={expected.Usage.PromptTokens:#,##0} / completion={expected.Usage.Output:#,##0} tokens, cost=${expected.Cost:0.000000}"),
            "cage report --session reads back what cage meter printed");

        var report = await RunCageAsync("", "report", "--by", "session", "--json");
        var group = JsonDocument.Parse(report.Out).RootElement.GetProperty("groups").GetProperty("s-42");
        Assert.That(group.GetProperty("calls").GetInt32(), Is.EqualTo(1), "the call is in the ledger under the run's session");
        Assert.That(group.GetProperty("usd").GetDecimal(), Is.EqualTo(expected.Cost));
    }

    [Test]
    [Platform(Exclude = "Win")]
    public async Task Meter_SigtermToCage_ReachesTheCommand_AndCageExitsWithItsCode()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _folder };
        foreach (var arg in new[] { Built("CageAssembly"), "meter", "--", "dotnet", Built("TestClientAssembly") })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["CAGE_LEDGER"] = Path.Combine(_folder, ".cage", "ledger.db");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        // The client prints its arguments, then waits on stdin, which stays open: it is running when cage is told to stop.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(Path.Combine(_folder, ".cage", "ledger.db")) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await Task.Delay(1500);
        Assert.That(process.HasExited, Is.False, "the command is still waiting on stdin");
        Assert.That(Kill(process.Id, 15), Is.Zero);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        var err = await error;
        Assert.That(process.ExitCode, Is.EqualTo(143), err + await output); // the command's own exit on SIGTERM (128 + 15)
        Assert.That(err, Does.Contain("[cage] session meter-").And.Contain("usage: 0 calls"));
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Test]
    public async Task Meter_CommandNotFound_Exits127NamingIt()
    {
        var (exit, _, stderr) = await RunCageAsync("", "meter", "--", "no-such-program-cage-test");

        Assert.That(exit, Is.EqualTo(127));
        Assert.That(stderr, Does.Contain("cage: meter: cannot run 'no-such-program-cage-test'"));
    }

    [Test]
    public async Task Meter_NoCommand_IsAUsageError()
    {
        var (exit, _, stderr) = await RunCageAsync("", "meter");

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.StartWith("cage: "));
    }
}
