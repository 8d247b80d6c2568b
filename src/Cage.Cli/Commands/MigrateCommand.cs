using System.CommandLine;
using CageNet.Views;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage migrate --to &lt;target&gt; [--json]</c>: copies the ledger (<c>--ledger</c> / <c>CAGE_LEDGER</c> / the default) into
/// another one — a SQLite file into PostgreSQL, or back. Appends are idempotent, so running it again adds nothing and a
/// copy that stopped can simply be run again. The source is only read; the target is created when missing.
/// </summary>
internal static class MigrateCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var to = new Option<string>("--to")
        {
            Description = "The target ledger: a SQLite file, or a PostgreSQL connection string or postgres:// URL.",
            HelpName = "PATH|URL",
            Required = true,
        };
        var json = GlobalOptions.Json();
        var command = new Command("migrate", "Copy the ledger into another ledger (SQLite ↔ PostgreSQL); running it again adds nothing.") { to, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var source = globals.Workspace(context, parseResult);
            var target = CageWorkspace.Resolve(context, parseResult.GetValue(to), pricesOption: null);
            if (string.Equals(source.LedgerPath, target.LedgerPath, StringComparison.Ordinal))
            {
                throw CliException.BadInput($"migrate: the source and the target are the same ledger ({source.LedgerPath})");
            }

            AppendResult appended;
            int outcomes;
            var reader = source.OpenReader();
            await using (reader.ConfigureAwait(false))
            {
                ILedgerStore store = target.IsPostgres
                    ? CageWorkspace.OpenPostgres(target.PostgresConnectionString!, "--to")
                    : target.OpenLedger();
                try
                {
                    (appended, outcomes) = await LedgerCopy.CopyAsync(reader.Store, store, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    await ((IAsyncDisposable)store).DisposeAsync().ConfigureAwait(false);
                }
            }

            if (parseResult.GetValue(json))
            {
                context.Write(JsonOutput.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("from", source.LedgerPath);
                    w.WriteString("to", target.LedgerPath);
                    w.WriteNumber("calls_added", appended.CallsAdded);
                    w.WriteNumber("calls_skipped", appended.CallsSkipped);
                    w.WriteNumber("receipts_added", appended.ReceiptsAdded);
                    w.WriteNumber("receipts_skipped", appended.ReceiptsSkipped);
                    w.WriteNumber("outcomes", outcomes);
                    w.WriteEndObject();
                }));
            }
            else
            {
                context.Write(
                    $"Copied {source.LedgerPath} into {target.LedgerPath}\n" +
                    $"  {Formats.Plural(appended.CallsAdded, "call")} added, {appended.CallsSkipped} already there\n" +
                    $"  {Formats.Plural(appended.ReceiptsAdded, "receipt")} added, {appended.ReceiptsSkipped} already there\n" +
                    $"  {Formats.Plural(outcomes, "outcome label")} copied\n");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
