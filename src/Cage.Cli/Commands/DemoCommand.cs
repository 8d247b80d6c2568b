using System.CommandLine;
using System.Text;
using CageNet.Attribution;
using CageNet.Views;
using CageNet.Cli.Policy;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage demo</c>: seeds the worked example (SPEC 12) into the current ledger — idempotently, a second run adds
/// nothing — then shows <c>cage report</c> and <c>cage why c_s1call000001</c>. When the ledger is the default one and there
/// is no policy yet it writes the <c>cage init</c> template, whose tools order is the example's (graphify → fux →
/// compressor); with <c>--ledger</c> or <c>CAGE_LEDGER</c> it writes that ledger (and SQLite's <c>-wal</c>/<c>-shm</c>) only.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var command = new Command("demo", "Seed the worked example (one call, three receipts) into the ledger and show it.");
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var workspace = globals.Workspace(context, parseResult);
            var text = new StringBuilder();

            // The policy template goes beside the default ledger only: `cage demo --ledger X` (or CAGE_LEDGER) writes X and
            // nothing else. The demo's own attribution uses the example's tool order either way.
            if (workspace.LedgerIsDefault && !File.Exists(workspace.PolicyPath))
            {
                Directory.CreateDirectory(workspace.PolicyDirectory);
                PolicyFile.WriteText(workspace.PolicyPath, PolicyFile.Template);
                text.Append($"created {workspace.PolicyPath} (tools order {string.Join(" → ", PolicyFile.ExampleToolsOrder)})\n");
                var gitignore = Path.Combine(workspace.PolicyDirectory, ".gitignore");
                if (!File.Exists(gitignore))
                {
                    PolicyFile.WriteText(gitignore, InitCommand.GitIgnore);
                }
            }

            var catalog = workspace.LoadCatalog(workspace.LoadPolicy(context));
            var batch = WorkedExample.Batch(catalog);
            var ledger = workspace.OpenLedger();
            await using (ledger.ConfigureAwait(false))
            {
                var appended = await ledger.AppendAsync(batch, cancellationToken).ConfigureAwait(false);
                if (appended.CallsAdded + appended.ReceiptsAdded == 0)
                {
                    text.Append($"The worked example is already in {workspace.LedgerPath}: nothing added.\n");
                }
                else
                {
                    text.Append($"Seeded the worked example into {workspace.LedgerPath}: ")
                        .Append(Formats.Plural(appended.CallsAdded, "call")).Append(" and ")
                        .Append(Formats.Plural(appended.ReceiptsAdded, "receipt")).Append(" added");
                    if (appended.CallsSkipped + appended.ReceiptsSkipped > 0)
                    {
                        text.Append($" ({Formats.Count(appended.CallsSkipped + appended.ReceiptsSkipped)} already there)");
                    }

                    text.Append(".\n");
                }

                var report = await ledger.ReportAsync(ReportQuery.Default, cancellationToken).ConfigureAwait(false);
                text.Append("\n$ cage report\n").Append(ReportView.Text(report));

                var call = await ledger.FindCallAsync(WorkedExample.CallId, cancellationToken).ConfigureAwait(false)
                    ?? throw CliException.Failure($"the ledger {workspace.LedgerPath} did not return the call {WorkedExample.CallId} it just stored");
                var receipts = await ledger.ReceiptsForCallAsync(WorkedExample.CallId, cancellationToken).ConfigureAwait(false);
                text.Append($"\n$ cage why {WorkedExample.CallId}\n").Append(WhyView.Text(call, receipts));

                // The worked example's own tool order, so the demo shows the reference numbers whatever the policy says.
                var service = new AttributionService(ledger, catalog, PolicyFile.ExampleToolsOrder, context.Time);
                var attribution = await service.AttributeAsync(WorkedExample.Task, shapley: false, cancellationToken).ConfigureAwait(false);
                var matrix = await service.MatrixAsync(WorkedExample.Task, tools: null, cancellationToken).ConfigureAwait(false);
                text.Append($"\n$ cage attrib --task {WorkedExample.Task}\n").Append(AttributionView.Text(attribution!));
                text.Append($"\n$ cage matrix --task {WorkedExample.Task}\n").Append(AttributionView.Text(matrix!));
            }

            context.Write(text.ToString());
            return ExitCodes.Ok;
        }));
        return command;
    }
}
