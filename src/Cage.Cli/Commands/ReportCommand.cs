using System.CommandLine;
using CageNet.Budgets;
using CageNet.Views;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage report [--by DIM] [--since X] [--until X] [--session ID] [--json]</c>: spend per group, most expensive first
/// (SPEC 6), or one session's summary and detail per model × category (<c>--session</c>, seed 001).
/// A malformed window is an error (exit 2), never "no filter"; an empty result is success.
/// </summary>
internal static class ReportCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var by = new Option<string>("--by")
        {
            Description = $"Group by this dimension, or by two (e.g. model,category): {string.Join(", ", ReportView.Dimensions.Keys)}.",
            DefaultValueFactory = _ => "route",
            HelpName = "DIM[,DIM]",
        };
        by.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>() ?? "";
            var parts = text.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length > 2 || parts.Any(p => !ReportView.Dimensions.ContainsKey(p)) || (parts.Length == 2 && parts[0] == parts[1]))
            {
                result.AddError($"--by '{text}': give one dimension or two different ones separated by a comma, from {string.Join(", ", ReportView.Dimensions.Keys)}");
            }
        });
        var since = new Option<string?>("--since") { Description = "Only calls at or after: 30m, 12h, 7d, 2w, YYYY-MM-DD or an ISO-8601 instant.", HelpName = "WHEN" };
        var until = new Option<string?>("--until") { Description = "Only calls before (a date includes that whole day).", HelpName = "WHEN" };
        var session = new Option<string?>("--session")
        {
            Description = "One session's summary instead: calls, prompt / completion tokens, cloud cost (6 decimals), then per model × category.",
            HelpName = "ID",
        };
        var json = GlobalOptions.Json();
        var command = new Command("report", "Spend per route, model, provider, day, agent, task, session, category or user.") { by, since, until, session, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var dims = (parseResult.GetValue(by) ?? "route").Split(',', StringSplitOptions.TrimEntries);
            var dimension = ReportView.Dimensions[dims[0]];
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
                if (parseResult.GetValue(session) is { Length: > 0 } id)
                {
                    var costs = await ReportView.SessionAsync(ledger.Store, id, window, cancellationToken).ConfigureAwait(false);
                    context.Write(parseResult.GetValue(json) ? ReportView.SessionJson(id, costs) : SessionText(id, costs));
                    return ExitCodes.Ok;
                }

                if (dims.Length == 2)
                {
                    var two = await ledger.Store.ReportPairsAsync(new ReportQuery(dimension, window), ReportView.Dimensions[dims[1]], cancellationToken).ConfigureAwait(false);
                    context.Write(parseResult.GetValue(json) ? ReportView.Json(two, dims[1]) : ReportView.Text(two, dims[1]));
                    return ExitCodes.Ok;
                }

                var report = await ledger.Store.ReportAsync(new ReportQuery(dimension, window), cancellationToken).ConfigureAwait(false);
                context.Write(parseResult.GetValue(json) ? CageViews.Json(report) : CageViews.Text(report));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string SessionText(string session, SessionCostAccumulator costs)
    {
        var text = new System.Text.StringBuilder($"Session {session}: {costs.Summary()}\n");
        foreach (var slot in costs.Detail())
        {
            text.Append("  ").Append(slot).Append('\n');
        }

        return text.ToString();
    }
}
