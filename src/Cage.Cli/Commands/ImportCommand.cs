using System.CommandLine;
using System.Globalization;
using System.Text;
using CageNet.Views;
using CageNet.Cli.Policy;
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
                    ? await DryRunReferenceAsync(context, workspace, source, asJson, cancellationToken).ConfigureAwait(false)
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

    /// <summary>Imports agent logs (a file or a folder) into the workspace's ledger; the path <c>cage hooks run</c> takes too.</summary>
    internal static async Task<int> ImportAgentLogsAsync(CliContext context, CageWorkspace workspace, string source, bool asJson, bool dry, CancellationToken cancellationToken)
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

        var tally = new ImportTally();
        tally.Read(imported);
        await using var scratch = dry ? new ScratchLedger() : null;
        var ledger = scratch?.Ledger ?? workspace.OpenLedger();
        List<CallRecord>? stored = null;
        await using (ledger.ConfigureAwait(false))
        {
            await tally.StoreAsync(ledger, imported, cancellationToken).ConfigureAwait(false);
            foreach (var file in imported.ReferenceLedgerFiles)
            {
                var fileProgress = new StderrProgress(context, file);
                try
                {
                    tally.Add(file, await ReferenceJsonl.ImportAsync(ledger, file, catalog, fileProgress, cancellationToken).ConfigureAwait(false));
                }
                finally
                {
                    fileProgress.Complete();
                }
            }

            if (dry)
            {
                stored = await ReadAllAsync(ledger, cancellationToken).ConfigureAwait(false);
            }
        }

        WriteProblems(context, tally);
        if (dry)
        {
            WriteDryRun(context, stored!, imported.RateLimits, tally, asJson);
            return tally.ExitCode;
        }

        if (asJson)
        {
            context.Write(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("path", source);
                w.WriteString("ledger", workspace.LedgerPath);
                WriteCounts(w, tally);
                w.WriteNumber("duplicate_lines", imported.DuplicateLines);
                w.WriteNumber("skipped_lines", imported.SkippedLines);
                w.WriteNumber("rate_limit_samples", imported.RateLimits.Count);
                WriteProblems(w, tally);
                w.WriteEndObject();
            }));
        }
        else
        {
            context.Write(new StringBuilder()
                .Append($"Imported {source} into {workspace.LedgerPath}\n")
                .Append(Summary(tally, imported.DuplicateLines))
                .Append(imported.RateLimits.Count > 0 ? $"  limits    {Formats.Count(imported.RateLimits.Count)} rate-limit samples\n" : "")
                .ToString());
        }

        return tally.ExitCode;
    }

    /// <summary>The summary's counts: calls (and receipts), files, lines and problems.</summary>
    private static string Summary(ImportTally tally, long duplicateLines)
    {
        var text = new StringBuilder()
            .Append($"  calls     {Formats.Count(tally.CallsAdded)} added")
            .Append(tally.CallsUpdated > 0 ? $", {Formats.Count(tally.CallsUpdated)} updated (read before their response was complete)" : "")
            .Append($", {Formats.Count(tally.CallsSkipped)} already there")
            .Append(tally.CallsRejected > 0 ? $", {Formats.Count(tally.CallsRejected)} rejected" : "")
            .Append('\n');
        if (tally.ReceiptsAdded + tally.ReceiptsSkipped > 0)
        {
            text.Append($"  receipts  {Formats.Count(tally.ReceiptsAdded)} added, {Formats.Count(tally.ReceiptsSkipped)} already there\n");
        }

        text.Append($"  files     {Formats.Count(tally.FilesRead)} read: {Formats.Count(tally.FilesImported)} imported")
            .Append(tally.FilesPartlyImported > 0 ? $", {Formats.Count(tally.FilesPartlyImported)} partly (lines rejected)" : "")
            .Append(tally.FilesRejected > 0 ? $", {Formats.Count(tally.FilesRejected)} rejected" : "")
            .Append(tally.FilesSkipped > 0 ? $"; {Formats.Count(tally.FilesSkipped)} skipped" : "")
            .Append('\n')
            .Append($"  lines     {Formats.Count(tally.LinesRead)} read, {Formats.Count(tally.LinesRejected)} rejected")
            .Append(duplicateLines > 0 ? $", {Formats.Count(duplicateLines)} repeated usage lines folded" : "")
            .Append('\n');
        if (tally.Renamed.Count > 0)
        {
            const int Shown = 5;
            var calls = tally.Renamed.Count(r => !r.IsReceipt);
            text.Append($"  renamed   {Formats.Plural(calls, "call")} and {Formats.Plural(tally.Renamed.Count - calls, "receipt")} kept under a derived id ")
                .Append("(the ledger holds their id with other content): ")
                .AppendJoin(", ", tally.Renamed.Take(Shown).Select(r => $"{r.Id} → {r.StoredAs}"))
                .Append(tally.Renamed.Count > Shown ? ", …" : "")
                .Append('\n');
        }

        var rejections = tally.Rejections.Count();
        var warnings = tally.Warnings.Count();
        if (rejections + warnings > 0)
        {
            text.Append($"  problems  {Formats.Plural(rejections, "rejection")}, {Formats.Plural(warnings, "warning")} (see stderr)\n");
        }

        return text.ToString();
    }

    private static void WriteCounts(System.Text.Json.Utf8JsonWriter w, ImportTally tally)
    {
        w.WriteNumber("files_read", tally.FilesRead);
        w.WriteNumber("files_imported", tally.FilesImported);
        w.WriteNumber("files_partly_imported", tally.FilesPartlyImported);
        w.WriteNumber("files_rejected", tally.FilesRejected);
        w.WriteNumber("files_skipped", tally.FilesSkipped);
        w.WriteNumber("lines_read", tally.LinesRead);
        w.WriteNumber("lines_rejected", tally.LinesRejected);
        w.WriteNumber("calls_added", tally.CallsAdded);
        w.WriteNumber("calls_updated", tally.CallsUpdated);
        w.WriteNumber("calls_skipped", tally.CallsSkipped);
        w.WriteNumber("calls_rejected", tally.CallsRejected);
        w.WriteNumber("receipts_added", tally.ReceiptsAdded);
        w.WriteNumber("receipts_skipped", tally.ReceiptsSkipped);
        w.WriteStartArray("renamed");
        foreach (var renamed in tally.Renamed)
        {
            w.WriteStartObject();
            w.WriteString("kind", renamed.IsReceipt ? "receipt" : "call");
            w.WriteString("id", renamed.Id);
            w.WriteString("stored_as", renamed.StoredAs);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static async Task<List<CallRecord>> ReadAllAsync(SqliteLedger ledger, CancellationToken cancellationToken)
    {
        var calls = new List<CallRecord>();
        await foreach (var call in ledger.ReadCallsAsync(TimeWindow.All, cancellationToken).ConfigureAwait(false))
        {
            calls.Add(call);
        }

        return calls;
    }

    /// <summary>
    /// A dry run of a reference ledger: the same import as the real one (calls, receipts and the outcomes file, each
    /// checked as the real import checks it), into a scratch ledger that is deleted afterwards; same problems, same
    /// exit code, nothing written where the real import would write.
    /// </summary>
    private static async Task<int> DryRunReferenceAsync(CliContext context, CageWorkspace workspace, string source, bool asJson, CancellationToken cancellationToken)
    {
        var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
        var tally = new ImportTally();
        List<CallRecord> stored;
        await using (var scratch = new ScratchLedger())
        {
            ImportResult result;
            try
            {
                result = await ReferenceJsonl.ImportAsync(scratch.Ledger, source, catalog, null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException)
            {
                throw CliException.BadInput($"import: {ex.Message}", ex);
            }

            tally.Add(source, result);
            if (ReferenceOutcomes.Locate(source) is { } outcomesFile)
            {
                foreach (var problem in ReferenceOutcomes.Read(outcomesFile, context.Time.GetUtcNow()).Problems)
                {
                    tally.Reject(problem);
                }
            }

            stored = await ReadAllAsync(scratch.Ledger, cancellationToken).ConfigureAwait(false);
        }

        WriteProblems(context, tally);
        WriteDryRun(context, stored, [], tally, asJson);
        return tally.ExitCode;
    }

    private static void WriteDryRun(CliContext context, List<CallRecord> calls, IReadOnlyList<RateLimitSample> rateLimits, ImportTally tally, bool asJson)
    {
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
                WriteCounts(w, tally);
                WriteProblems(w, tally);
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
                .Append(Summary(tally, 0))
                .ToString());
        }
    }

    /// <summary>Every problem on stderr, one per line, in the order found: <c>file:line: field: message</c>.</summary>
    private static void WriteProblems(CliContext context, ImportTally tally)
    {
        foreach (var problem in tally.Problems)
        {
            context.Error.Write(problem + "\n");
        }
    }

    private static void WriteProblems(System.Text.Json.Utf8JsonWriter w, ImportTally tally)
    {
        WriteProblems(w, "errors", tally.Rejections);
        WriteProblems(w, "warnings", tally.Warnings);
    }

    private static void WriteProblems(System.Text.Json.Utf8JsonWriter w, string name, IEnumerable<ImportProblem> problems)
    {
        w.WritePropertyName(name);
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

        var tally = new ImportTally();
        tally.Add(source, result);
        foreach (var problem in outcomes.Problems)
        {
            tally.Reject(problem);
        }

        WriteProblems(context, tally);
        foreach (var kept in outcomes.Kept)
        {
            context.Warn(kept);
        }

        if (asJson)
        {
            context.Write(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("path", source);
                w.WriteString("ledger", workspace.LedgerPath);
                WriteCounts(w, tally);
                WriteProblems(w, tally);
                w.WriteStringArray("policy", policyChanges);
                w.WriteStringOrNull("outcomes_file", outcomes.File);
                w.WriteNumber("outcomes_added", outcomes.Added);
                w.WriteNumber("outcomes_skipped", outcomes.AlreadyThere + outcomes.Kept.Count);
                w.WriteEndObject();
            }));
        }
        else
        {
            text.Append($"Imported {source} into {workspace.LedgerPath}\n").Append(Summary(tally, 0));
            if (outcomes.File is not null)
            {
                text.Append($"  outcomes  {Formats.Count(outcomes.Added)} added, {Formats.Count(outcomes.AlreadyThere + outcomes.Kept.Count)} already there")
                    .Append(outcomes.Problems.Count > 0 ? $", {Formats.Count(outcomes.Problems.Count)} rejected (see stderr)" : "")
                    .Append($" ({outcomes.File})\n");
            }

            context.Write(text.ToString());
        }

        return tally.ExitCode;
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
            catch (PolicyTomlException ex)
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
