using System.Globalization;
using System.Text.RegularExpressions;
using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.Views;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Mcp.Tools;

/// <summary>
/// The eight Cage tools. Each computes its view exactly as the <c>cage</c> command of the same name does and returns
/// <c>CageViews.Json</c> of it, so a tool's structured result equals the command's <c>--json</c>.
/// </summary>
internal static partial class CageTools
{
    public static IReadOnlyList<CageTool> All { get; } =
    [
        Report(), Attrib(), Matrix(), Roi(), BudgetStatus(), Why(), Forecast(), RecordReceipt(),
    ];

    private const string WindowHelp = "30m, 12h, 7d, 2w (back from now), YYYY-MM-DD or an ISO-8601 instant";

    private static ToolParameter Since(string what) => new("since", ArgumentKind.String, $"Only {what} at or after: {WindowHelp}. Default: all time.");

    private static ToolParameter TaskParameter() => new("task", ArgumentKind.String, "The task. Default: the task of the latest call.");

    // One dimension, or two different ones separated by a comma (route,task), as `cage report --by` takes them. A
    // method, not a field: All, above, builds the tools while the fields are still being initialized.
    private static string[] ReportBy() =>
    [
        .. CageViews.Dimensions.Keys,
        .. CageViews.Dimensions.Keys.SelectMany(first => CageViews.Dimensions.Keys.Where(second => second != first).Select(second => first + "," + second)),
    ];

    private static CageTool Report() => new(
        "report",
        "Spend report",
        "Spend per group (calls, tokens in and out, cached tokens, cost in USD and the token buckets), most expensive first, with the total. Equals `cage report --by <by> --json`; with two dimensions (by \"route,task\") each group of the first holds the groups of the second. With session, one session's summary instead (calls, prompt and completion tokens, cost, then per model × category), as `cage report --session <id> --json`. A cost of null means unknown (every call unpriced), never $0.",
        readOnly: true,
        [
            new("by", ArgumentKind.String, "Group by this dimension, or by two different ones separated by a comma (route,task; model,category). Default: route.") { OneOf = ReportBy(), OneOfText = string.Join(", ", CageViews.Dimensions.Keys) + ", or two different ones separated by a comma (route,task)" },
            Since("calls"),
            new("until", ArgumentKind.String, "Only calls before this (a date includes that whole day): " + WindowHelp + "."),
            new("session", ArgumentKind.String, "One session's summary instead of a report (by is then ignored, as with cage report --session)."),
        ],
        async (args, services, cancellationToken) =>
        {
            var dims = (args.String("by") ?? "route").Split(',');
            var window = Window(services, args.String("since"), args.String("until"));
            var ledger = services.GetRequiredService<ILedgerReader>();
            if (args.String("session") is { Length: > 0 } session)
            {
                return ReportView.SessionJson(session, await ReportView.SessionAsync(ledger, session, window, cancellationToken).ConfigureAwait(false));
            }

            var dimension = CageViews.Dimensions[dims[0]];
            if (dims.Length == 2)
            {
                var pairs = await ledger.ReportPairsAsync(new ReportQuery(dimension, window), CageViews.Dimensions[dims[1]], cancellationToken).ConfigureAwait(false);
                return ReportView.Json(pairs, dims[1]);
            }

            var report = await ledger.ReportAsync(new ReportQuery(dimension, window), cancellationToken).ConfigureAwait(false);
            return CageViews.Json(report);
        });

    private static CageTool Attrib() => new(
        "attrib",
        "Per-tool savings of a task",
        "Marginal attribution of one task's savings: per tool, the tokens and dollars it saved, how the saving is known (measured, modeled or estimated) and its confidence, and each call's residual (prompt-side tokens no receipt accounts for). Equals `cage attrib --json`; {\"task\": null} when the ledger has no task.",
        readOnly: true,
        [
            TaskParameter(),
            new("shapley", ArgumentKind.Boolean, "Also compute the Shapley audit (order-independent credit; at most 16 tools). Default: false."),
        ],
        async (args, services, cancellationToken) =>
        {
            var attribution = await Attribution(services).AttributeAsync(args.String("task"), args.Boolean("shapley"), cancellationToken).ConfigureAwait(false);
            return CageViews.Json(attribution);
        });

    private static CageTool Matrix() => new(
        "matrix",
        "Counterfactual matrix of a task",
        "What every on/off combination of one task's tools would have cost, each cell measured, modeled or estimated, with the all-off and all-on rows and how much cheaper the full stack is. Equals `cage matrix --json`; {\"task\": null} when the ledger has no task.",
        readOnly: true,
        [
            TaskParameter(),
            new("tools", ArgumentKind.StringArray, "A subset of the task's tools with token receipts (at most 16). Default: all of them."),
        ],
        async (args, services, cancellationToken) =>
        {
            var matrix = await Attribution(services).MatrixAsync(args.String("task"), args.Strings("tools"), cancellationToken).ConfigureAwait(false);
            return CageViews.Json(matrix);
        });

    private static CageTool Roi() => new(
        "roi",
        "Per-tool return on investment",
        "Per tool: dollars saved, the tool's own cost, the net, the latency it added and the calls it eliminated. Equals `cage roi --json`.",
        readOnly: true,
        [Since("receipts")],
        async (args, services, cancellationToken) =>
        {
            var since = args.String("since");
            var report = await Attribution(services).RoiAsync(Window(services, since, null), cancellationToken).ConfigureAwait(false);
            return CageViews.Json(report, since);
        });

    private static CageTool BudgetStatus() => new(
        "budget_status",
        "Budget status",
        "Each budget node's spent, reserved, cap, remaining headroom, percent used, period and reset time, and the warnings fired; `over` and `proceed` say whether a call may go ahead. Equals `cage budget --json` with the same options.",
        readOnly: true,
        [
            new("scope", ArgumentKind.String, "A node path such as org/users/alice: that node and its ancestors. Default: every node."),
            new("session", ArgumentKind.String, "Bind {session} in templated nodes."),
            new("user", ArgumentKind.String, "Bind {user} in templated nodes."),
            new("agent", ArgumentKind.String, "Bind {agent} in templated nodes."),
            new("task", ArgumentKind.String, "Bind {task} in templated nodes."),
        ],
        async (args, services, cancellationToken) =>
        {
            var budgets = services.GetRequiredService<ICageBudgets>();
            var options = budgets.Options ?? throw new ToolCallException(HostBudgets.NoBudgets);
            var scope = args.String("scope");
            return await budgets.ReadAsync(guard =>
            {
                BudgetStatus status;
                BudgetStatus? tree = null;
                if (!string.IsNullOrEmpty(scope))
                {
                    try
                    {
                        status = guard.GetStatus(scope);
                    }
                    catch (Exception ex) when (ex is ArgumentException or BudgetConfigurationException)
                    {
                        throw new ToolCallException($"argument 'scope': {ex.Message}");
                    }
                }
                else
                {
                    var bound = new BudgetScope(args.String("user"), args.String("agent"), args.String("session"), args.String("task"));
                    status = guard.GetStatus(bound);
                    tree = guard.Tree(bound);
                }

                return CageViews.Json(status, options, guard.TimeZone, tree);
            }, cancellationToken).ConfigureAwait(false);
        });

    private static CageTool Why() => new(
        "why",
        "Provenance of a call",
        "One call (its tokens by bucket, cost and how it was priced), every savings receipt against it, and the residual: its prompt-side tokens minus what its token receipts say was sent (negative means the receipts over-claim). Equals `cage why <call_id> --json`.",
        readOnly: true,
        [new("call_id", ArgumentKind.String, "The call's id, as reports, exports and the ledger show it (c_…).") { Required = true }],
        async (args, services, cancellationToken) =>
        {
            var ledger = services.GetRequiredService<ILedgerReader>();
            var id = args.String("call_id")!;
            var call = await ledger.FindCallAsync(id, cancellationToken).ConfigureAwait(false)
                ?? throw new ToolCallException($"argument 'call_id': no call with id '{id}' in the ledger");
            var receipts = await ledger.ReceiptsForCallAsync(id, cancellationToken).ConfigureAwait(false);
            return CageViews.Json(call, receipts);
        });

    private static CageTool Forecast() => new(
        "forecast",
        "Month-end spend forecast",
        "Month-to-date spend, the recent run-rate per day and the projected month-end spend against the monthly budget, with the day the budget would run out. Equals `cage forecast --json`.",
        readOnly: true,
        [
            new("since", ArgumentKind.String, "The run-rate window, back from now: 12h, 7d, 2w. Default: 7d."),
            new("budget_usd", ArgumentKind.Number, "The monthly budget in USD. Default: the budget tree's monthly cap of a top-level node, else its daily cap × the days in the month.") { Minimum = 0 },
        ],
        async (args, services, cancellationToken) =>
        {
            var time = services.GetRequiredService<TimeProvider>();
            var since = args.String("since") ?? "7d";
            if (!RelativeSpan().IsMatch(since))
            {
                throw new ToolCallException($"argument 'since': '{since}' is not a span: use 30m, 12h, 7d or 2w");
            }

            var now = time.GetUtcNow();
            var runRate = now - Window(services, since, null).Since!.Value;
            var monthly = args.Decimal("budget_usd") ?? services.GetService<ICageBudgets>()?.Options?.MonthlyUsd(now);
            var forecast = await Attribution(services).ForecastAsync(new ForecastQuery { RunRateWindow = runRate, MonthlyBudgetUsd = monthly }, cancellationToken).ConfigureAwait(false);
            return CageViews.Json(forecast);
        });

    private static CageTool RecordReceipt() => new(
        "record_receipt",
        "File a savings receipt",
        "Records that a tool spared the model some context (or dollars, latency, CO2) on a call: what it would have been without the tool and what it was. The receipt is written to the ledger before the result returns; `why` and `attrib` show it. Returns the receipt as `cage why --json` lists it.",
        readOnly: false,
        [
            new("tool", ArgumentKind.String, "The tool that produced the saving (graphify, compressor, cache, router…).") { Required = true },
            new("raw_alternative", ArgumentKind.Number, "What it would have been without the tool, in the unit (>= 0).") { Required = true, Minimum = 0 },
            new("actual", ArgumentKind.Number, "What it was with the tool, in the unit (>= 0).") { Required = true, Minimum = 0 },
            new("call", ArgumentKind.String, "The id of the call the saving applies to; it must be in the ledger. Default: none (a call-less receipt, such as an eliminated call)."),
            new("task", ArgumentKind.String, "The task the saving belongs to. Default: the call's task."),
            new("unit", ArgumentKind.String, "The unit of raw_alternative and actual. Default: tokens.") { OneOf = ["tokens", "usd", "ms", "gco2"] },
            new("method", ArgumentKind.String, "How the saving is known. Default: modeled.") { OneOf = ["measured", "modeled", "estimated"] },
            new("confidence", ArgumentKind.Number, "Confidence in the saving. Default: 1.") { Minimum = 0, Maximum = 1 },
            new("meta", ArgumentKind.StringMap, "Small metadata; tool_cost_usd (the tool's own cost) and added_latency_ms feed roi."),
        ],
        async (args, services, cancellationToken) =>
        {
            var ledger = services.GetRequiredService<ILedgerReader>();
            var callId = args.String("call");
            var task = args.String("task");
            if (!string.IsNullOrEmpty(callId))
            {
                var call = await ledger.FindCallAsync(callId, cancellationToken).ConfigureAwait(false)
                    ?? throw new ToolCallException($"argument 'call': no call with id '{callId}' in the ledger");
                task ??= call.Task;
            }

            WireNames.TryParseUnit(args.String("unit") ?? "tokens", out var unit);
            WireNames.TryParseMethod(args.String("method") ?? "modeled", out var method);
            var meter = services.GetRequiredService<ICageMeter>();
            var receipt = meter.RecordReceipt(
                args.String("tool")!, args.Decimal("raw_alternative")!.Value, args.Decimal("actual")!.Value, callId, task,
                unit, method, args.Double("confidence") ?? 1.0, args.StringMap("meta"));
            var flushed = await meter.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (!flushed.IsComplete)
            {
                throw new ToolCallException(string.Create(CultureInfo.InvariantCulture, $"the receipt {receipt.Id} could not be written to the ledger ({flushed.Dropped} records dropped); see the server's log"));
            }

            return CageViews.Json(receipt);
        });

    private static IAttributionService Attribution(IServiceProvider services) =>
        services.GetService<IAttributionService>()
        ?? throw new ToolCallException("this server has no attribution service: the host registers none (services.AddCage().AddAttribution())");

    /// <summary>A window from <c>since</c>/<c>until</c> text, with the argument named when it is malformed.</summary>
    private static TimeWindow Window(IServiceProvider services, string? since, string? until)
    {
        try
        {
            return TimeWindow.Parse(since, until, services.GetRequiredService<TimeProvider>());
        }
        catch (FormatException ex)
        {
            // The parser names the CLI's options (--since, --until); a tool's arguments are since and until.
            throw new ToolCallException("argument " + ex.Message.Replace("--since", "'since'", StringComparison.Ordinal).Replace("--until", "'until'", StringComparison.Ordinal));
        }
    }

    [GeneratedRegex("^[0-9]{1,9}[mhdw]$", RegexOptions.CultureInvariant)]
    private static partial Regex RelativeSpan();
}
