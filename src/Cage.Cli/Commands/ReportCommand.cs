using System.CommandLine;
using CageNet.Cli.Output;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage report [--by DIM] [--since X] [--until X] [--json]</c>: spend per group, most expensive first (SPEC 6).
/// A malformed window is an error (exit 2), never "no filter"; an empty result is success.
/// </summary>
internal static class ReportCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var by = new Option<string>("--by")
        {
            Description = "Group by this dimension.",
            DefaultValueFactory = _ => "route",
        };
        by.AcceptOnlyFromAmong([.. ReportView.Dimensions.Keys]);
        var since = new Option<string?>("--since") { Description = "Only calls at or after: 30m, 12h, 7d, 2w, YYYY-MM-DD or an ISO-8601 instant.", HelpName = "WHEN" };
        var until = new Option<string?>("--until") { Description = "Only calls before (a date includes that whole day).", HelpName = "WHEN" };
        var json = GlobalOptions.Json();
        var command = new Command("report", "Spend per route, model, provider, day, agent, task, session, category or user.") { by, since, until, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var dimension = ReportView.Dimensions[parseResult.GetValue(by) ?? "route"];
            TimeWindow window;
            try
            {
                window = TimeWindow.Parse(parseResult.GetValue(since), parseResult.GetValue(until), context.Time);
            }
            catch (FormatException ex)
            {
                throw CliException.BadInput(ex.Message, ex);
            }

            var workspace = globals.Workspace(context, parseResult);
            var ledger = workspace.OpenReader();
            await using (ledger.ConfigureAwait(false))
            {
                var report = await ledger.Store.ReportAsync(new ReportQuery(dimension, window), cancellationToken).ConfigureAwait(false);
                context.Write(parseResult.GetValue(json) ? ReportView.Json(report) : ReportView.Text(report));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
