using System.CommandLine;
using System.Globalization;
using System.Text;
using CageNet.Cli.Output;
using CageNet.Cli.Policy;
using CageNet.Cli.Toml;
using CageNet.Ledger;
using CageNet.Pricing;
using CageNet.Protocols;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage import &lt;path&gt; [--dry-run] [--json]</c>: auto-detects what <c>path</c> holds and imports it, idempotently
/// (ids and request ids come from the source, so importing again adds nothing):
/// <list type="bullet">
/// <item>the reference tool's <c>calls.jsonl</c> / <c>receipts.jsonl</c> (a file, or a folder holding them, <c>ledger/</c> or
/// <c>.cage/ledger/</c>); a reference <c>policy.toml</c> next to the ledger is carried across into <c>.cage/cage.json</c> first
/// (without one, the reference tool's bundled tools order graphify → fux → compressor, when the policy names no order), and
/// the reference <c>outcomes.json</c> is stored as task labels (<c>cage outcome</c>), keeping labels the ledger already has;</item>
/// <item>Claude Code transcripts (a file or a folder, <c>subagents/*.jsonl</c> included, deduplicated across files), Codex
/// rollouts, and captured provider responses (JSON or SSE), read by <see cref="AgentLogImporter"/>.</item>
/// </list>
/// <c>--dry-run</c> writes nothing; with <c>--json</c> it prints <c>{"calls": [...]}</c> (every call record, snake_case).
/// Bad lines are reported on stderr as <c>file:line: field: message</c> and make the exit code 2 after the good ones are
/// stored. When stderr is a terminal, progress goes there: on folders of 20 files or more, and on an import of 1 MiB or
/// more (lines read, in place).
/// </summary>
internal static class ImportCommand
{
    private const int BatchSize = 10_000;
    private const int ProgressThreshold = 20;
    private const long ProgressBytes = 1024 * 1024;

    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var path = new Argument<string>("path") { Description = "A file or folder: a reference calls.jsonl/receipts.jsonl ledger, Claude Code transcripts, Codex rollouts, or captured provider responses (JSON or SSE)." };
        var json = GlobalOptions.Json();
        var dryRun = new Option<bool>("--dry-run") { Description = "Read and price everything, write nothing; with --json print {\"calls\": [...]}." };
        var command = new Command("import", "Import a reference JSONL ledger, agent logs (Claude Code, Codex) or captured responses, skipping what is already there.") { path, json, dryRun };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var source = context.FullPath(parseResult.GetValue(path) ?? "");
            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw CliException.BadInput($"import: no such file or folder: {source}");
            }

            var workspace = globals.Workspace(context, parseResult);
            var asJson = parseResult.GetValue(json);
            var dry = parseResult.GetValue(dryRun);
            if (IsReferenceLedger(source))
            {
                return dry
                    ? DryRunReference(context, workspace, [source], asJson)
                    : await ImportReferenceAsync(context, workspace, source, asJson, cancellationToken).ConfigureAwait(false);
            }

            return await ImportAgentLogsAsync(context, workspace, source, asJson, dry, cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>Whether the path is the reference tool's JSONL ledger (as <see cref="ReferenceJsonl.ImportAsync"/> locates it).</summary>
    private static bool IsReferenceLedger(string source)
    {
        if (File.Exists(source))
        {
            var kind = AgentLogImporter.Detect(source);
            return kind == AgentLogKind.ReferenceJsonl
                || (kind == AgentLogKind.Unknown && source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)); // let the reference reader name the bad lines
        }

        foreach (var folder in new[] { source, Path.Combine(source, "ledger"), Path.Combine(source, LedgerLocation.FolderName, "ledger") })
        {
            if (File.Exists(Path.Combine(folder, ReferenceJsonl.CallsFileName)) || File.Exists(Path.Combine(folder, ReferenceJsonl.ReceiptsFileName)))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<int> ImportAgentLogsAsync(CliContext context, CageWorkspace workspace, string source, bool asJson, bool dry, CancellationToken cancellationToken)
    {
        var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
        var progress = new StderrProgress(context, source);
        AgentLogImport imported;
        try
        {
            imported = AgentLogImporter.Read(source, catalog, progress, cancellationToken);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            throw CliException.BadInput($"import: {ex.Message}", ex);
        }
        finally
        {
            progress.Complete();
        }

        if (dry)
        {
            return DryRun(context, imported, asJson, catalog);
        }

        var appended = default(AppendResult);
        var errors = imported.Problems.Select(p => p.ToString()).ToList();
        var linesRead = imported.LinesRead;
        var ledger = workspace.OpenLedger();
        await using (ledger.ConfigureAwait(false))
        {
            foreach (var chunk in imported.Calls.Chunk(BatchSize))
            {
                appended += await ledger.AppendAsync(new LedgerBatch(chunk, []), cancellationToken).ConfigureAwait(false);
            }

            foreach (var file in imported.ReferenceLedgerFiles)
            {
                var fileProgress = new StderrProgress(context, file);
                ImportResult result;
                try
                {
                    result = await ReferenceJsonl.ImportAsync(ledger, file, catalog, fileProgress, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    fileProgress.Complete();
                }

                appended += result.Appended;
                linesRead += result.LinesRead;
                errors.AddRange(result.Errors.Select(e => e.ToString()));
            }
        }

        foreach (var error in errors)
        {
            context.Error.Write(error + "\n");
        }

        if (asJson)
        {
            context.Write(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("path", source);
                w.WriteString("ledger", workspace.LedgerPath);
                w.WriteNumber("files_read", imported.FilesRead);
                w.WriteNumber("lines_read", linesRead);
                w.WriteNumber("calls_added", appended.CallsAdded);
                w.WriteNumber("calls_skipped", appended.CallsSkipped);
                w.WriteNumber("receipts_added", appended.ReceiptsAdded);
                w.WriteNumber("receipts_skipped", appended.ReceiptsSkipped);
                w.WriteNumber("duplicate_lines", imported.DuplicateLines);
                w.WriteNumber("skipped_lines", imported.SkippedLines);
                w.WriteNumber("rate_limit_samples", imported.RateLimits.Count);
                WriteProblems(w, imported.Problems);
                w.WriteEndObject();
            }));
        }
        else
        {
            context.Write(new StringBuilder()
                .Append($"Imported {source} into {workspace.LedgerPath}\n")
                .Append($"  calls     {Formats.Count(appended.CallsAdded)} added, {Formats.Count(appended.CallsSkipped)} already there\n")
                .Append($"  files     {Formats.Count(imported.FilesRead)} read, {Formats.Count(linesRead)} lines, {Formats.Count(imported.DuplicateLines)} repeated usage lines folded\n")
                .Append(imported.RateLimits.Count > 0 ? $"  limits    {Formats.Count(imported.RateLimits.Count)} rate-limit samples\n" : "")
                .Append(errors.Count > 0 ? $"  problems  {Formats.Count(errors.Count)} (see stderr)\n" : "")
                .ToString());
        }

        return errors.Count > 0 ? ExitCodes.BadInput : ExitCodes.Ok;
    }

    private static int DryRun(CliContext context, AgentLogImport imported, bool asJson, PriceCatalog catalog)
    {
        var calls = new List<CallRecord>(imported.Calls);
        var problems = new List<ImportProblem>(imported.Problems);
        foreach (var file in imported.ReferenceLedgerFiles)
        {
            ReadReferenceCalls(file, catalog, calls, problems);
        }

        return WriteDryRun(context, calls, imported.RateLimits, problems, asJson);
    }

    private static int DryRunReference(CliContext context, CageWorkspace workspace, IEnumerable<string> sources, bool asJson)
    {
        var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
        var calls = new List<CallRecord>();
        var problems = new List<ImportProblem>();
        foreach (var source in sources)
        {
            foreach (var file in ReferenceCallFiles(source))
            {
                ReadReferenceCalls(file, catalog, calls, problems);
            }
        }

        return WriteDryRun(context, calls, [], problems, asJson);
    }

    private static IEnumerable<string> ReferenceCallFiles(string source)
    {
        if (File.Exists(source))
        {
            if (!Path.GetFileName(source).Contains("receipt", StringComparison.OrdinalIgnoreCase)) yield return source;
            yield break;
        }

        foreach (var folder in new[] { source, Path.Combine(source, "ledger"), Path.Combine(source, LedgerLocation.FolderName, "ledger") })
        {
            var calls = Path.Combine(folder, ReferenceJsonl.CallsFileName);
            if (File.Exists(calls))
            {
                yield return calls;
                yield break;
            }
        }
    }

    /// <summary>Parses a reference <c>calls.jsonl</c> without writing (receipts are not calls and are not listed).</summary>
    private static void ReadReferenceCalls(string file, PriceCatalog catalog, List<CallRecord> calls, List<ImportProblem> problems)
    {
        if (Path.GetFileName(file).Contains("receipt", StringComparison.OrdinalIgnoreCase)) return;
        var lines = new JsonlLineReader(file);
        try
        {
            while (lines.ReadAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult())
            {
                if (lines.TooLong)
                {
                    problems.Add(new ImportProblem(file, lines.LineNumber, null, $"line longer than {JsonlLineReader.MaxLineBytes} bytes"));
                    continue;
                }

                var line = lines.Current.Span;
                if (line.Trim(" \t\r"u8).IsEmpty) continue;
                try
                {
                    calls.Add(ReferenceLineParser.ParseCall(line, catalog));
                }
                catch (System.Text.Json.JsonException ex)
                {
                    problems.Add(new ImportProblem(file, lines.LineNumber, null, "malformed JSON: " + ex.Message));
                }
                catch (InvalidOperationException)
                {
                    problems.Add(new ImportProblem(file, lines.LineNumber, null, "malformed JSON: invalid UTF-8 text"));
                }
                catch (CageValidationException ex)
                {
                    problems.Add(new ImportProblem(file, lines.LineNumber, ex.Field, ex.Message));
                }
            }
        }
        finally
        {
            lines.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static int WriteDryRun(CliContext context, List<CallRecord> calls, IReadOnlyList<RateLimitSample> rateLimits, IReadOnlyList<ImportProblem> problems, bool asJson)
    {
        foreach (var problem in problems)
        {
            context.Error.Write(problem + "\n");
        }

        if (asJson)
        {
            context.Write(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WritePropertyName("calls");
                w.WriteStartArray();
                foreach (var call in calls)
                {
                    ReferenceJsonl.WriteCall(w, call);
                }

                w.WriteEndArray();
                w.WritePropertyName("rate_limits");
                w.WriteStartArray();
                foreach (var sample in rateLimits)
                {
                    w.WriteStartObject();
                    w.WriteString("ts", sample.ObservedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                    w.WriteString("window", sample.Window);
                    w.WriteNumber("used_percent", sample.UsedPercent);
                    w.WriteNumber("window_minutes", sample.WindowMinutes);
                    w.WriteStringOrNull("resets_at", sample.ResetsAt?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
                    w.WriteStringOrNull("session", sample.Session);
                    w.WriteStringOrNull("plan_type", sample.PlanType);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                WriteProblems(w, problems);
                w.WriteEndObject();
            }));
        }
        else
        {
            var priced = calls.Where(c => c.CostUsd is not null).Sum(c => c.CostUsd!.Value);
            var unpriced = calls.Count(c => c.CostSource == CostSource.Unpriced);
            var missing = calls.Count(c => c.UsageStatus != UsageStatus.Reported);
            context.Write(new StringBuilder()
                .Append($"Dry run: {Formats.Plural(calls.Count, "call")} read, nothing written\n")
                .Append($"  tokens    {Formats.Count(calls.Sum(c => c.TokensIn))} in, {Formats.Count(calls.Sum(c => c.TokensOut))} out\n")
                .Append($"  cost      {Formats.Usd(priced)}")
                .Append(unpriced > 0 ? $" + {Formats.Plural(unpriced, "unpriced call")}" : "")
                .Append(missing > 0 ? $"; {Formats.Plural(missing, "call")} without reported usage" : "")
                .Append('\n')
                .Append(problems.Count > 0 ? $"  problems  {Formats.Count(problems.Count)} (see stderr)\n" : "")
                .ToString());
        }

        return problems.Count > 0 ? ExitCodes.BadInput : ExitCodes.Ok;
    }

    private static void WriteProblems(System.Text.Json.Utf8JsonWriter w, IEnumerable<ImportProblem> problems)
    {
        w.WritePropertyName("errors");
        w.WriteStartArray();
        foreach (var problem in problems)
        {
            w.WriteStartObject();
            w.WriteString("file", problem.File);
            w.WriteNumber("line", problem.Line);
            w.WriteStringOrNull("field", problem.Field);
            w.WriteString("message", problem.Message);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>
    /// Progress on stderr, only when stderr is a terminal (<see cref="CliContext.ErrorIsTerminal"/>): for folders of
    /// <see cref="ProgressThreshold"/> files or more, a line about every tenth of the files; for an import of
    /// <see cref="ProgressBytes"/> or more (one large file), the lines read so far, rewritten in place (<c>\r</c>) and
    /// ended with a newline when the import finishes.
    /// </summary>
    internal sealed class StderrProgress : IProgress<ImportProgress>, IProgress<int>
    {
        private readonly CliContext _context;
        private readonly string _label;
        private readonly long _bytes;
        private int _lastTenth = -1;
        private bool _inPlace;

        public StderrProgress(CliContext context, string source)
        {
            _context = context;
            _label = Path.GetFileName(Path.TrimEndingDirectorySeparator(source));
            _bytes = SizeOf(source);
        }

        public void Report(ImportProgress value)
        {
            if (!_context.ErrorIsTerminal) return;
            if (value.FilesTotal >= ProgressThreshold)
            {
                var tenth = value.FilesDone * 10 / value.FilesTotal;
                if (tenth == _lastTenth) return;
                _lastTenth = tenth;
                _context.Error.Write($"import: {value.FilesDone}/{value.FilesTotal} files, {Formats.Count(value.LinesRead)} lines\n");
            }
            else
            {
                Lines(value.LinesRead);
            }
        }

        /// <summary>Lines read by the reference JSONL reader (after every batch).</summary>
        public void Report(int value) => Lines(value);

        /// <summary>Ends an in-place progress line.</summary>
        public void Complete()
        {
            if (_inPlace)
            {
                _context.Error.Write("\n");
                _inPlace = false;
            }
        }

        private void Lines(long lines)
        {
            if (!_context.ErrorIsTerminal || _bytes < ProgressBytes || lines == 0) return;
            _context.Error.Write($"\rimport: {_label}: {Formats.Count(lines)} lines read of {Formats.Bytes(_bytes)}");
            _inPlace = true;
        }

        private static long SizeOf(string source)
        {
            try
            {
                return File.Exists(source)
                    ? new FileInfo(source).Length
                    : Directory.EnumerateFiles(source, "*.jsonl", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return 0;
            }
        }
    }

    private static async Task<int> ImportReferenceAsync(CliContext context, CageWorkspace workspace, string source, bool asJson, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var policyChanges = CarryPolicyAcross(context, workspace, source, text);

        var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
        var outcomesFile = ReferenceOutcomes.Locate(source);
        if (outcomesFile is not null)
        {
            ReferenceOutcomes.Read(outcomesFile, context.Time.GetUtcNow()); // a malformed file fails before anything is stored
        }

        ImportResult result;
        var outcomes = ReferenceOutcomes.Result.None;
        var ledger = workspace.OpenLedger();
        await using (ledger.ConfigureAwait(false))
        {
            var progress = new StderrProgress(context, source);
            try
            {
                result = await ReferenceJsonl.ImportAsync(ledger, source, catalog, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException)
            {
                throw CliException.BadInput($"import: {ex.Message}", ex);
            }
            finally
            {
                progress.Complete();
            }

            if (outcomesFile is not null)
            {
                outcomes = await ReferenceOutcomes.ImportAsync(ledger, outcomesFile, context.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var error in result.Errors)
        {
            context.Error.Write(error + "\n");
        }

        foreach (var problem in outcomes.Problems)
        {
            context.Error.Write(problem + "\n");
        }

        foreach (var kept in outcomes.Kept)
        {
            context.Warn(kept);
        }

        var a = result.Appended;
        if (asJson)
        {
            context.Write(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("path", source);
                w.WriteString("ledger", workspace.LedgerPath);
                w.WriteNumber("lines_read", result.LinesRead);
                w.WriteNumber("calls_added", a.CallsAdded);
                w.WriteNumber("calls_skipped", a.CallsSkipped);
                w.WriteNumber("receipts_added", a.ReceiptsAdded);
                w.WriteNumber("receipts_skipped", a.ReceiptsSkipped);
                w.WritePropertyName("errors");
                w.WriteStartArray();
                foreach (var error in result.Errors)
                {
                    w.WriteStartObject();
                    w.WriteString("file", error.File);
                    w.WriteNumber("line", error.Line);
                    w.WriteStringOrNull("field", error.Field);
                    w.WriteString("message", error.Message);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStringArray("policy", policyChanges);
                w.WriteStringOrNull("outcomes_file", outcomes.File);
                w.WriteNumber("outcomes_added", outcomes.Added);
                w.WriteNumber("outcomes_skipped", outcomes.AlreadyThere + outcomes.Kept.Count);
                w.WriteEndObject();
            }));
        }
        else
        {
            text.Append($"Imported {source} into {workspace.LedgerPath}\n")
                .Append($"  calls     {Formats.Count(a.CallsAdded)} added, {Formats.Count(a.CallsSkipped)} already there\n")
                .Append($"  receipts  {Formats.Count(a.ReceiptsAdded)} added, {Formats.Count(a.ReceiptsSkipped)} already there\n")
                .Append($"  lines     {Formats.Count(result.LinesRead)} read");
            text.Append(result.Errors.Count > 0 ? $", {Formats.Plural(result.Errors.Count, "line")} rejected (see stderr)\n" : "\n");
            if (outcomes.File is not null)
            {
                text.Append($"  outcomes  {Formats.Count(outcomes.Added)} added, {Formats.Count(outcomes.AlreadyThere + outcomes.Kept.Count)} already there")
                    .Append(outcomes.Problems.Count > 0 ? $", {Formats.Count(outcomes.Problems.Count)} rejected (see stderr)" : "")
                    .Append($" ({outcomes.File})\n");
            }

            context.Write(text.ToString());
        }

        return result.Errors.Count + outcomes.Problems.Count > 0 ? ExitCodes.BadInput : ExitCodes.Ok;
    }

    /// <summary>
    /// Merges a reference <c>policy.toml</c> found next to the import into the policy; returns what changed. Without one,
    /// the reference tool used its bundled policy: with no policy here either, the <c>cage init</c> template (the same
    /// tools order graphify → fux → compressor and budgets) is written; a policy that names no tools order gets the
    /// bundled order; an order already there was chosen and is kept.
    /// </summary>
    private static List<string> CarryPolicyAcross(CliContext context, CageWorkspace workspace, string source, StringBuilder text)
    {
        ReferencePolicy reference;
        string tomlPath;
        if (ReferencePolicy.Locate(source) is { } found)
        {
            tomlPath = found;
            try
            {
                reference = ReferencePolicy.Read(tomlPath);
            }
            catch (TomlException ex)
            {
                throw CliException.BadInput($"{ex.Message} (nothing was imported)", ex);
            }
        }
        else if (!File.Exists(workspace.PolicyPath))
        {
            // No policy on either side: the cage init template is the reference tool's bundled policy (its tools order,
            // its day and session budgets), so attrib, matrix and budget read the import as the reference tool does.
            Directory.CreateDirectory(workspace.PolicyDirectory);
            PolicyFile.WriteText(workspace.PolicyPath, PolicyFile.Template);
            var gitignore = Path.Combine(workspace.PolicyDirectory, ".gitignore");
            if (!File.Exists(gitignore))
            {
                PolicyFile.WriteText(gitignore, InitCommand.GitIgnore);
            }

            var change = $"the cage init policy, as the reference tool's bundled one (tools order {string.Join(" → ", PolicyFile.ExampleToolsOrder)}): no policy.toml beside the import";
            text.Append($"Created {workspace.PolicyPath}: {change}\n");
            return [change];
        }
        else if (workspace.LoadPolicy(context).Tools.Order.Count == 0)
        {
            reference = ReferencePolicy.Bundled();
            tomlPath = reference.File + " (no policy.toml beside the import)";
        }
        else
        {
            return [];
        }

        foreach (var warning in reference.Warnings)
        {
            context.Warn(warning);
        }

        if (reference.IsEmpty)
        {
            return [];
        }

        var document = PolicyFile.ReadDocument(workspace.PolicyPath);
        var changes = reference.MergeInto(document);
        if (changes.Count == 0)
        {
            text.Append($"Policy {tomlPath} is already in {workspace.PolicyPath}\n");
            return changes;
        }

        // Check that the merged policy binds before replacing the file.
        Directory.CreateDirectory(workspace.PolicyDirectory);
        var check = workspace.PolicyPath + ".check.tmp";
        try
        {
            PolicyFile.WriteDocument(check, document);
            PolicyFile.Load(check);
        }
        finally
        {
            File.Delete(check);
        }

        PolicyFile.WriteDocument(workspace.PolicyPath, document);
        text.Append($"Carried {tomlPath} across into {workspace.PolicyPath}:\n");
        foreach (var change in changes)
        {
            text.Append("  ").Append(change).Append('\n');
        }

        return changes;
    }
}
