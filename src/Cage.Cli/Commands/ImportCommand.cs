using System.CommandLine;
using System.Text;
using CageNet.Cli.Output;
using CageNet.Cli.Policy;
using CageNet.Cli.Toml;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage import &lt;path&gt; [--json]</c>: the reference tool's <c>calls.jsonl</c> / <c>receipts.jsonl</c> (a file, or a
/// folder holding them, <c>ledger/</c> or <c>.cage/ledger/</c>). Idempotent. Bad lines are reported on stderr as
/// <c>file:line: field: message</c> and make the exit code 2 after the good lines are stored. A reference
/// <c>policy.toml</c> next to the ledger is carried across into <c>.cage/cage.json</c> first, so its prices apply.
/// </summary>
internal static class ImportCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var path = new Argument<string>("path") { Description = "A calls.jsonl / receipts.jsonl file, or a folder holding them (or ledger/, .cage/ledger/)." };
        var json = GlobalOptions.Json();
        var command = new Command("import", "Import the reference tool's JSONL ledger (and its policy.toml), skipping what is already there.") { path, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var source = context.FullPath(parseResult.GetValue(path) ?? "");
            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw CliException.BadInput($"import: no such file or folder: {source}");
            }

            var workspace = globals.Workspace(context, parseResult);
            var text = new StringBuilder();
            var policyChanges = CarryPolicyAcross(context, workspace, source, text);

            var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
            ImportResult result;
            var ledger = workspace.OpenLedger();
            await using (ledger.ConfigureAwait(false))
            {
                try
                {
                    result = await ReferenceJsonl.ImportAsync(ledger, source, catalog, progress: null, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException)
                {
                    throw CliException.BadInput($"import: {ex.Message}", ex);
                }
            }

            foreach (var error in result.Errors)
            {
                context.Error.Write(error + "\n");
            }

            var a = result.Appended;
            if (parseResult.GetValue(json))
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
                    w.WritePropertyName("policy");
                    w.WriteStartArray();
                    foreach (var change in policyChanges)
                    {
                        w.WriteStringValue(change);
                    }

                    w.WriteEndArray();
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
                context.Write(text.ToString());
            }

            return result.Errors.Count > 0 ? ExitCodes.BadInput : ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>Merges a reference <c>policy.toml</c> found next to the import into the policy; returns what changed.</summary>
    private static List<string> CarryPolicyAcross(CliContext context, CageWorkspace workspace, string source, StringBuilder text)
    {
        if (ReferencePolicy.Locate(source) is not { } tomlPath)
        {
            return [];
        }

        ReferencePolicy reference;
        try
        {
            reference = ReferencePolicy.Read(tomlPath);
        }
        catch (TomlException ex)
        {
            throw CliException.BadInput($"{ex.Message} (nothing was imported)", ex);
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
