using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CageNet.Cli.Commands;
using CageNet.Ledger;

namespace CageNet.Cli.Hooks;

/// <summary>
/// <c>cage hooks run claude-code|codex</c>: what the installed hook runs. It reads the tool's hook JSON from stdin
/// (<c>session_id</c>, <c>transcript_path</c>, <c>cwd</c>, <c>hook_event_name</c>, and for Claude Code's
/// <c>SessionEnd</c> a <c>reason</c>) and imports <c>transcript_path</c> (and a Claude Code session's
/// <c>subagents/</c> transcripts) into the ledger of the project at <c>cwd</c>, through the same code as
/// <c>cage import</c>, so a second run adds nothing. It never gets in the tool's way: it writes nothing to stdout or
/// stderr, always exits 0, gives up reading stdin after <see cref="StdinLimit"/> and stops waiting for the import after
/// <see cref="ImportLimit"/>; what happened goes to <c>hooks.log</c> next to the ledger. Without <c>--ledger</c> or
/// <c>CAGE_LEDGER</c>, a session whose <c>cwd</c> has no <c>.cage/</c> folder above it is skipped (nothing is written
/// anywhere), so a user-wide hook does not scatter ledgers over every folder the tool is opened in.
/// </summary>
internal static class HookRunner
{
    /// <summary>The log's name, in the ledger's folder.</summary>
    public const string LogName = "hooks.log";

    /// <summary>A log larger than this is moved to <c>hooks.log.1</c> (replacing it) before the next entry.</summary>
    internal const long LogLimitBytes = 1024 * 1024;

    /// <summary>How long to wait for the hook JSON on stdin (a tool may not close it).</summary>
    internal static readonly TimeSpan StdinLimit = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for the import (under the settings' <see cref="HookTarget.TimeoutSeconds"/>).</summary>
    internal static readonly TimeSpan ImportLimit = TimeSpan.FromSeconds(20);

    public static async Task<int> RunAsync(CliContext context, GlobalOptions globals, ParseResult parseResult, string tool, CancellationToken cancellationToken)
    {
        try
        {
            await RunCoreAsync(context, globals, parseResult, tool, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nowhere to log (the log itself failed): stay out of the tool's way.
        }

        return ExitCodes.Ok;
    }

    private static async Task RunCoreAsync(CliContext context, GlobalOptions globals, ParseResult parseResult, string tool, CancellationToken cancellationToken)
    {
        var text = await ReadPayloadAsync(context.Input, StdinLimit, cancellationToken).ConfigureAwait(false);
        var payload = Payload.Parse(text);
        var cwd = payload.Cwd is { Length: > 0 } c && Path.IsPathFullyQualified(c) && Directory.Exists(c) ? c : context.WorkingDirectory;

        var explicitLedger = parseResult.GetValue(globals.Ledger) is { Length: > 0 } || context.Variable(LedgerLocation.EnvironmentVariable) is not null;
        if (!explicitLedger && CageWorkspace.ProjectRoot(cwd) is null)
        {
            return; // not a Cage project: nothing to import into, nowhere to log
        }

        var log = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var runContext = context.With(cwd, log, log);
        var ledgerPath = CageWorkspace.Resolve(runContext, parseResult.GetValue(globals.Ledger), parseResult.GetValue(globals.Prices)).LedgerPath;
        var logPath = Path.Combine(Path.GetDirectoryName(ledgerPath)!, LogName);

        log.Write($"{context.Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)} cage hooks run {tool}: ");
        log.Write(payload.Describe());
        log.Write('\n');
        try
        {
            if (payload.Error is { } error)
            {
                log.Write($"cage: no hook JSON on stdin: {error}; nothing imported\n");
            }
            else if (payload.TranscriptPath is not { Length: > 0 } transcript)
            {
                log.Write("cage: the hook JSON has no transcript_path; nothing imported\n");
            }
            else
            {
                var source = Path.GetFullPath(transcript, cwd);
                var sources = new List<string> { source };
                var subagents = Path.Combine(Path.GetDirectoryName(source)!, Path.GetFileNameWithoutExtension(source), "subagents");
                if (tool == HookTarget.ClaudeCode && Directory.Exists(subagents))
                {
                    sources.Add(subagents);
                }

                using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                limit.CancelAfter(ImportLimit);
                var import = ImportAllAsync(runContext, globals, parseResult, sources, limit.Token);
                var finished = await Task.WhenAny(import, Task.Delay(ImportLimit, cancellationToken)).ConfigureAwait(false);
                if (finished != import)
                {
                    log.Write($"cage: the import did not finish within {ImportLimit.TotalSeconds:0} s; stopped waiting (run cage import {HookTarget.Quote(source)} to finish it)\n");
                }
                else if (await import.ConfigureAwait(false) is var code and not ExitCodes.Ok)
                {
                    log.Write($"cage: exit {code}\n");
                }
            }
        }
        finally
        {
            Append(logPath, log.ToString());
        }
    }

    private static async Task<int> ImportAllAsync(CliContext runContext, GlobalOptions globals, ParseResult parseResult, List<string> sources, CancellationToken cancellationToken)
    {
        var worst = ExitCodes.Ok;
        foreach (var source in sources)
        {
            var code = await CageCli.Guard(runContext, async (result, token) =>
            {
                if (!File.Exists(source) && !Directory.Exists(source))
                {
                    throw CliException.BadInput($"import: no such file or folder: {source}");
                }

                var workspace = globals.Workspace(runContext, result);
                return await ImportCommand.ImportAgentLogsAsync(runContext, workspace, source, asJson: false, dry: false, token).ConfigureAwait(false);
            })(parseResult, cancellationToken).ConfigureAwait(false);
            worst = Math.Max(worst, code);
        }

        return worst;
    }

    /// <summary>
    /// Reads stdin until it holds one whole JSON value, it ends, or <paramref name="limit"/> passes (the read runs on
    /// its own task: a console read does not observe cancellation, and the process may exit with it still blocked).
    /// </summary>
    internal static async Task<string> ReadPayloadAsync(TextReader input, TimeSpan limit, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var read = Task.Run(() =>
        {
            var buffer = new char[8192];
            int n;
            while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
            {
                lock (text)
                {
                    text.Append(buffer, 0, n);
                    if (IsWholeJson(text.ToString()))
                    {
                        return;
                    }
                }
            }
        }, cancellationToken);
        await Task.WhenAny(read, Task.Delay(limit, cancellationToken)).ConfigureAwait(false);
        lock (text)
        {
            return text.ToString();
        }
    }

    private static bool IsWholeJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void Append(string logPath, string entry)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var info = new FileInfo(logPath);
        if (info.Exists && info.Length > LogLimitBytes)
        {
            File.Move(logPath, logPath + ".1", overwrite: true);
        }

        using var stream = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        var bytes = Encoding.UTF8.GetBytes(entry);
        stream.Write(bytes);
    }

    /// <summary>The fields of the hook JSON that Cage reads.</summary>
    private sealed record Payload(string? SessionId, string? TranscriptPath, string? Cwd, string? EventName, string? Reason, string? Error)
    {
        public static Payload Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return new Payload(null, null, null, null, null, "stdin was empty");
            }

            try
            {
                using var document = JsonDocument.Parse(text);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return new Payload(null, null, null, null, null, "not a JSON object");
                }

                return new Payload(Field(root, "session_id"), Field(root, "transcript_path"), Field(root, "cwd"), Field(root, "hook_event_name"), Field(root, "reason"), null);
            }
            catch (JsonException ex)
            {
                return new Payload(null, null, null, null, null, "not JSON: " + ex.Message);
            }
        }

        public string Describe()
        {
            var parts = new List<string>();
            if (EventName is not null) parts.Add(Reason is null ? EventName : $"{EventName} ({Reason})");
            if (SessionId is not null) parts.Add("session " + SessionId);
            if (TranscriptPath is not null) parts.Add("transcript " + TranscriptPath);
            return parts.Count == 0 ? "(no hook fields)" : string.Join(", ", parts);
        }

        private static string? Field(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
