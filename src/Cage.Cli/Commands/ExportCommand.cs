using System.CommandLine;
using CageNet.Views;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary><c>cage export &lt;folder&gt; [--json]</c>: writes the ledger as the reference tool's <c>calls.jsonl</c> and <c>receipts.jsonl</c>.</summary>
internal static class ExportCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var folder = new Argument<string>("folder") { Description = "Where to write calls.jsonl and receipts.jsonl (created when missing)." };
        var json = GlobalOptions.Json();
        var command = new Command("export", "Export the ledger as the reference tool's calls.jsonl and receipts.jsonl.") { folder, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var target = context.FullPath(parseResult.GetValue(folder) ?? "");
            if (File.Exists(target))
            {
                throw CliException.BadInput($"export: {target} is a file; give a folder");
            }

            var workspace = globals.Workspace(context, parseResult);
            ExportResult result;
            var ledger = workspace.OpenReader();
            await using (ledger.ConfigureAwait(false))
            {
                Directory.CreateDirectory(target);
                result = await ReferenceJsonl.ExportAsync(ledger.Store, target, cancellationToken).ConfigureAwait(false);
            }

            if (parseResult.GetValue(json))
            {
                context.Write(JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("ledger", workspace.LedgerPath);
                    w.WriteNumber("calls", result.Calls);
                    w.WriteNumber("receipts", result.Receipts);
                    w.WriteString("calls_file", result.CallsFile);
                    w.WriteString("receipts_file", result.ReceiptsFile);
                    w.WriteEndObject();
                }));
            }
            else
            {
                context.Write(
                    $"Exported {workspace.LedgerPath}\n" +
                    $"  {Formats.Plural(result.Calls, "call")} → {result.CallsFile}\n" +
                    $"  {Formats.Plural(result.Receipts, "receipt")} → {result.ReceiptsFile}\n");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
