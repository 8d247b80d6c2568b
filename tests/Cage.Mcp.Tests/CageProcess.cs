using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace CageNet.Mcp.Tests;

/// <summary>What one <c>cage</c> process printed and returned.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Err);

/// <summary>
/// A temporary folder with a real SQLite ledger, and the real <c>cage</c> executable (the built <c>cage.dll</c> run by
/// <c>dotnet</c>) to seed it, to read it back with <c>--json</c> and to serve it with <c>cage mcp</c>.
/// </summary>
internal sealed class CageFolder : IDisposable
{
    public CageFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cage-mcp-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string LedgerPath => System.IO.Path.Combine(Path, ".cage", "ledger.db");

    public static string CageDll { get; } = LocateCageDll();

    /// <summary>Runs <c>dotnet cage.dll args…</c> in the folder, with no <c>CAGE_*</c> variables from this machine.</summary>
    public async Task<CliRun> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CageDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("CAGE_LEDGER");
        start.Environment.Remove("CAGE_PRICES");
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The CLI's <c>--json</c> output of <paramref name="args"/>, which must succeed.</summary>
    public async Task<string> JsonAsync(params string[] args)
    {
        var run = await RunAsync(args);
        Assert.That(run.ExitCode, Is.EqualTo(0), $"cage {string.Join(' ', args)}: {run.Err}");
        return run.Out;
    }

    /// <summary>An MCP client connected over stdio to a new <c>cage mcp</c> process in this folder.</summary>
    public Task<McpClient> StartMcpAsync(params string[] extraArgs)
    {
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "cage",
            Command = "dotnet",
            Arguments = [CageDll, "mcp", .. extraArgs],
            WorkingDirectory = Path,
            EnvironmentVariables = new Dictionary<string, string?> { ["CAGE_LEDGER"] = null, ["CAGE_PRICES"] = null },
        });
        return McpClient.CreateAsync(transport);
    }

    /// <summary>Seeds the worked example (<c>cage demo</c>: one call, three receipts, the policy template with its budgets) and two calls of the last half minute (today, for any clock short of midnight), so budgets and the forecast have spend now.</summary>
    public async Task SeedAsync()
    {
        var demo = await RunAsync("demo");
        Assert.That(demo.ExitCode, Is.EqualTo(0), demo.Err);
        var now = DateTimeOffset.UtcNow;
        var folder = System.IO.Path.Combine(Path, "recent");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(System.IO.Path.Combine(folder, "calls.jsonl"),
            CallLine("c_recent000001", now.AddSeconds(-20), "mcp-task", "s-mcp", 120_000, 4_000) + "\n" +
            CallLine("c_recent000002", now.AddSeconds(-30), "mcp-task", "s-mcp", 40_000, 2_000) + "\n");
        var import = await RunAsync("import", folder);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
    }

    private static string CallLine(string id, DateTimeOffset ts, string task, string session, long tokensIn, long tokensOut) =>
        $$"""{"id": "{{id}}", "ts": "{{ts.UtcDateTime:yyyy-MM-ddTHH:mm:ss}}Z", "session": "{{session}}", "task": "{{task}}", "agent": "codex", "route": "review", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": {{tokensIn}}, "tokens_out": {{tokensOut}}}""";

    /// <summary>The CLI's own build output (<c>src/Cage.Cli/bin/&lt;configuration&gt;/&lt;framework&gt;/cage.dll</c>) of the configuration these tests were built in.</summary>
    private static string LocateCageDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var dll = System.IO.Path.Combine(CageNet.TestFixtures.RepositoryFixtures.Repository, "src", "Cage.Cli", "bin", here.Parent!.Name, here.Name, "cage.dll");
        return File.Exists(dll) && File.Exists(System.IO.Path.ChangeExtension(dll, ".runtimeconfig.json"))
            ? dll
            : throw new FileNotFoundException($"cage.dll (with its runtimeconfig) not found at {dll}: build src/Cage.Cli first");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temp folder is cleaned up eventually.
        }
    }
}

/// <summary>Reads tool results and checks them against the tool's declared output schema.</summary>
internal static class ToolResults
{
    public static Dictionary<string, object?> Arguments(string json) =>
        JsonDocument.Parse(json).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());

    public static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    public static JsonNode Structured(CallToolResult result)
    {
        Assert.That(result.IsError, Is.Not.True, Text(result));
        Assert.That(result.StructuredContent, Is.Not.Null, "no structuredContent");
        return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!;
    }

    /// <summary>Asserts <paramref name="value"/> is valid against <paramref name="schema"/>, listing every error.</summary>
    public static void AssertValid(JsonElement schema, JsonNode value, string what)
    {
        var evaluation = JsonSchema.FromText(schema.GetRawText()).Evaluate(value, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var errors = (evaluation.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"));
        Assert.That(evaluation.IsValid, Is.True, $"{what} does not match its output schema:\n" + string.Join("\n", errors));
    }
}
