using System.CommandLine;
using CageNet.Views;

namespace CageNet.Cli.Commands;

/// <summary><c>cage why &lt;call-id&gt; [--json]</c>: one call, every receipt against it, and its residual (SPEC 6).</summary>
internal static class WhyCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var id = new Argument<string>("call-id") { Description = "The call's id (as shown by reports, exports and the ledger)." };
        var json = GlobalOptions.Json();
        var command = new Command("why", "Show a call, every savings receipt against it, and the residual.") { id, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var callId = parseResult.GetValue(id) ?? "";
            var workspace = globals.Workspace(context, parseResult);
            var ledger = workspace.OpenReader();
            await using (ledger.ConfigureAwait(false))
            {
                var call = await ledger.Store.FindCallAsync(callId, cancellationToken).ConfigureAwait(false)
                    ?? throw CliException.BadInput($"no call with id '{callId}' in {workspace.LedgerPath}");
                var receipts = await ledger.Store.ReceiptsForCallAsync(callId, cancellationToken).ConfigureAwait(false);
                context.Write(parseResult.GetValue(json) ? CageViews.Json(call, receipts) : CageViews.Text(call, receipts));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
