using System.CommandLine;
using System.Globalization;
using CageNet.Attribution;
using CageNet.Views;
using CageNet.Cli.Policy;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// The attribution commands (SPEC 6): <c>attrib</c>, <c>matrix</c>, <c>roi</c>, <c>recommend</c>, <c>outcome</c>,
/// <c>quality</c>, <c>regression</c> and <c>forecast</c>. Each reads the ledger through <see cref="AttributionService"/>
/// with the workspace's price catalog and the policy's tool order; <c>--json</c> prints what the table shows.
/// </summary>
internal static class AttributionCommands
{
    public static IEnumerable<Command> Create(CliContext context, GlobalOptions globals) =>
    [
        Attrib(context, globals),
        Matrix(context, globals),
        Roi(context, globals),
        Recommend(context, globals),
        Outcome(context, globals),
        Quality(context, globals),
        Regression(context, globals),
        Forecast(context, globals),
    ];

    /// <summary>Runs <paramref name="body"/> with the attribution service over the workspace's ledger.</summary>
    private static async Task<int> WithServiceAsync(CliContext context, GlobalOptions globals, ParseResult parseResult, Func<AttributionService, CageNet.Configuration.CageOptions, Task<string>> body)
    {
        var workspace = globals.Workspace(context, parseResult);
        var policy = workspace.LoadPolicy(context);
        var catalog = workspace.LoadCatalog(policy);
        var ledger = workspace.OpenReader();
        await using (ledger.ConfigureAwait(false))
        {
            var service = new AttributionService(ledger.Store, catalog, policy.Tools.Order, context.Time);
            try
            {
                context.Write(await body(service, policy).ConfigureAwait(false));
            }
            catch (AttributionException ex)
            {
                throw CliException.BadInput(ex.Message, ex);
            }
        }

        return ExitCodes.Ok;
    }

    private static Option<string?> TaskOption() => new("--task") { Description = "The task (default: the task of the latest call).", HelpName = "ID" };

    private static Option<string?> SinceOption() =>
        new("--since") { Description = "Only records at or after: 30m, 12h, 7d, 2w, YYYY-MM-DD or an ISO-8601 instant.", HelpName = "WHEN" };

    private static TimeWindow Window(CliContext context, string? since)
    {
        try
        {
            return TimeWindow.Parse(since, null, context.Time);
        }
        catch (FormatException ex)
        {
            throw CliException.BadInput(ex.Message, ex);
        }
    }

    private static Command Attrib(CliContext context, GlobalOptions globals)
    {
        var task = TaskOption();
        var shapley = new Option<bool>("--shapley") { Description = "Add the Shapley audit: order-independent credit over the matrix's cost function (at most 16 tools)." };
        var json = GlobalOptions.Json();
        var command = new Command("attrib", "Per-tool savings of one task: tokens and dollars, evidence, residuals.") { task, shapley, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
            WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var result = await service.AttributeAsync(parseResult.GetValue(task), parseResult.GetValue(shapley), cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(result) : CageViews.Text(result);
            })));
        return command;
    }

    private static Command Matrix(CliContext context, GlobalOptions globals)
    {
        var task = TaskOption();
        var tools = new Option<string?>("--tools") { Description = "A subset of the tools, comma-separated (at most 16).", HelpName = "a,b,c" };
        var json = GlobalOptions.Json();
        var command = new Command("matrix", "What every on/off combination of one task's tools would have cost.") { task, tools, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
            WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var chosen = parseResult.GetValue(tools)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (chosen is { Length: 0 })
                {
                    throw CliException.BadInput("--tools: name at least one tool, e.g. --tools graphify,fux");
                }

                var result = await service.MatrixAsync(parseResult.GetValue(task), chosen, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(result) : CageViews.Text(result);
            })));
        return command;
    }

    private static Command Roi(CliContext context, GlobalOptions globals)
    {
        var since = SinceOption();
        var json = GlobalOptions.Json();
        var command = new Command("roi", "Per tool: saved dollars, its own cost, net and added latency.") { since, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
        {
            var window = Window(context, parseResult.GetValue(since));
            return WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var report = await service.RoiAsync(window, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(report, parseResult.GetValue(since)) : CageViews.Text(report);
            });
        }));
        return command;
    }

    private static Command Recommend(CliContext context, GlobalOptions globals)
    {
        var route = new Option<string?>("--route") { Description = "One route (default: every route).", HelpName = "ROUTE" };
        var since = SinceOption();
        var json = GlobalOptions.Json();
        var command = new Command("recommend", "Per route: which tools to keep on and which to skip, with the evidence.") { route, since, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
        {
            var window = Window(context, parseResult.GetValue(since));
            return WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var report = await service.RecommendAsync(parseResult.GetValue(route), window, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(report, parseResult.GetValue(since)) : CageViews.Text(report);
            });
        }));
        return command;
    }

    private static Command Outcome(CliContext context, GlobalOptions globals)
    {
        var task = new Argument<string>("task") { Description = "The task to label." };
        var redo = new Option<bool>("--redo") { Description = "The work was thrown away and redone." };
        var failed = new Option<bool>("--failed") { Description = "The task failed." };
        var json = GlobalOptions.Json();
        var command = new Command("outcome", "Label how a task ended (ok by default); feeds cost per successful task.") { task, redo, failed, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var name = parseResult.GetValue(task)?.Trim();
            if (string.IsNullOrEmpty(name))
            {
                throw CliException.BadInput("outcome: the task name is empty");
            }

            if (parseResult.GetValue(redo) && parseResult.GetValue(failed))
            {
                throw CliException.BadInput("outcome: --redo and --failed exclude each other");
            }

            var outcome = parseResult.GetValue(redo) ? TaskOutcome.Redo : parseResult.GetValue(failed) ? TaskOutcome.Failed : TaskOutcome.Ok;
            var workspace = globals.Workspace(context, parseResult);
            var ledger = workspace.OpenLedger();
            await using (ledger.ConfigureAwait(false))
            {
                var calls = await ledger.CallsForTaskAsync(name, cancellationToken).ConfigureAwait(false);
                await ledger.RecordOutcomeAsync(new TaskOutcomeRecord(name, outcome, context.Time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
                if (parseResult.GetValue(json))
                {
                    context.Write(JsonOutput.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("task", name);
                        w.WriteString("outcome", outcome.ToWire());
                        w.WriteNumber("calls", calls.Count);
                        w.WriteEndObject();
                    }));
                }
                else
                {
                    context.Write($"✔ recorded '{name}' as {outcome.ToWire()}.\n");
                    if (calls.Count == 0)
                    {
                        context.Warn($"the ledger has no calls for task '{name}' yet (the label is kept for when they arrive)");
                    }
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Quality(CliContext context, GlobalOptions globals)
    {
        var since = SinceOption();
        var json = GlobalOptions.Json();
        var command = new Command("quality", "Cost per successful task: redone, failed and unlabelled work is charged to the successes.") { since, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
        {
            var window = Window(context, parseResult.GetValue(since));
            return WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var report = await service.QualityAsync(window, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(report, parseResult.GetValue(since)) : CageViews.Text(report);
            });
        }));
        return command;
    }

    private static Command Regression(CliContext context, GlobalOptions globals)
    {
        var since = new Option<string>("--since") { Description = "The recent window: the last 30m, 12h, 7d or 2w.", HelpName = "SPAN", DefaultValueFactory = _ => "7d" };
        var baseline = new Option<string>("--baseline") { Description = "The baseline: this long before the recent window.", HelpName = "SPAN", DefaultValueFactory = _ => "28d" };
        var tolerance = NumberOptions.Ratio("--tolerance", "The relative rise that counts as a regression (0.2 means 20%).", 0.2m);
        var by = new Option<string?>("--by") { Description = "Compare per route or per model.", HelpName = "route|model" };
        by.AcceptOnlyFromAmong("route", "model");
        var json = GlobalOptions.Json();
        var command = new Command("regression", "Cost per call and per task, recent window vs baseline, with the likely cause.") { since, baseline, tolerance, by, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
        {
            var recentText = parseResult.GetValue(since) ?? "7d";
            var baselineText = parseResult.GetValue(baseline) ?? "28d";
            var tol = parseResult.GetValue(tolerance);
            var query = new RegressionQuery
            {
                Recent = Span(context, "--since", recentText),
                Baseline = Span(context, "--baseline", baselineText),
                Tolerance = tol,
                By = parseResult.GetValue(by) switch { "route" => ReportDimension.Route, "model" => ReportDimension.Model, _ => null },
            };
            return WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var report = await service.RegressionAsync(query, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(report, recentText, baselineText) : CageViews.Text(report);
            });
        }));
        return command;
    }

    /// <summary>A relative span (<c>7d</c>) as a duration; anything else is a clear error.</summary>
    private static TimeSpan Span(CliContext context, string option, string text)
    {
        if (text.Length == 0 || !char.IsAsciiLetter(text[^1]) || !char.IsAsciiDigit(text[0]))
        {
            throw CliException.BadInput($"{option} '{text}' is not a span: use 30m, 12h, 7d or 2w");
        }

        var now = context.Time.GetUtcNow();
        var window = Window(context, text);
        return now - window.Since!.Value;
    }

    private static Command Forecast(CliContext context, GlobalOptions globals)
    {
        var since = new Option<string>("--since") { Description = "The run-rate window: the last 12h, 7d, 2w…", HelpName = "SPAN", DefaultValueFactory = _ => "7d" };
        var budget = NumberOptions.Dollars("--budget", "The monthly budget in USD (default: the policy's Budgets: Month.Usd, else Day.Usd × days in the month).");
        var json = GlobalOptions.Json();
        var command = new Command("forecast", "Month-end spend projection from the recent run-rate vs the monthly budget.") { since, budget, json };
        command.SetAction(CageCli.Guard(context, (parseResult, cancellationToken) =>
        {
            var runRate = Span(context, "--since", parseResult.GetValue(since) ?? "7d");
            return WithServiceAsync(context, globals, parseResult, async (service, _) =>
            {
                var workspace = globals.Workspace(context, parseResult);
                var monthly = parseResult.GetValue(budget) ?? PolicyFile.MonthlyBudget(workspace.PolicyPath, context.Time.GetUtcNow());
                var forecast = await service.ForecastAsync(new ForecastQuery { RunRateWindow = runRate, MonthlyBudgetUsd = monthly }, cancellationToken).ConfigureAwait(false);
                return parseResult.GetValue(json) ? CageViews.Json(forecast) : CageViews.Text(forecast);
            });
        }));
        return command;
    }
}
