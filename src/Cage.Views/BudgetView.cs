using System.Globalization;
using System.Text;
using System.Text.Json;
using CageNet.Budgets;

namespace CageNet.Views;

/// <summary>
/// The <c>cage budget</c> view. JSON keeps the reference's shape (<c>on_exceed</c>, <c>over</c>, <c>proceed</c>, and per
/// scope <c>cap</c>, <c>used</c>, <c>would_be</c>, <c>over</c> in dollars) and adds per node <c>spent</c>, <c>reserved</c>,
/// <c>remaining</c>, <c>percent</c>, <c>period</c>, <c>period_start</c>, <c>resets_at</c>, a <c>tokens</c> object and the
/// warnings that fired. Scopes are keyed by node path, parents first.
/// </summary>
internal static class BudgetView
{
    public static string Json(BudgetOptions options, TimeZoneInfo zone, BudgetStatus status) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("on_exceed", Action(options.OnExceed));
        w.WriteBoolean("over", status.Over);
        w.WriteBoolean("proceed", status.Proceed);
        w.WriteString("time_zone", zone.Id);
        w.WriteString("as_of", Formats.Timestamp(status.AsOf));
        w.WriteStartObject("scopes");
        foreach (var node in status.Nodes)
        {
            w.WriteStartObject(node.Path);
            w.WriteDecimal("cap", node.Usd.Cap);
            w.WriteDecimal("used", node.Usd.Spent);
            w.WriteDecimal("would_be", node.Usd.Spent + node.Usd.Reserved);
            w.WriteBoolean("over", node.Over);
            w.WriteDecimal("spent", node.Usd.Spent);
            w.WriteDecimal("reserved", node.Usd.Reserved);
            w.WriteDecimal("remaining", node.Usd.Remaining);
            w.WriteDecimal("percent", node.Usd.Percent);
            w.WriteNumber("unpriced_calls", node.UnpricedCalls);
            w.WriteBoolean("usd_lower_bound", node.UsdIsLowerBound);
            w.WriteString("template", node.Template);
            w.WriteBoolean("bound", node.Bound);
            w.WriteString("period", Period(node.Period));
            w.WriteString("on_exceed", Action(node.OnExceed));
            w.WriteStringOrNull("period_start", node.PeriodStart is { } start ? Formats.Timestamp(start) : null);
            w.WriteStringOrNull("resets_at", node.ResetsAt is { } reset ? Formats.Timestamp(reset) : null);
            w.WriteStartObject("tokens");
            w.WriteDecimal("cap", node.Tokens.Cap);
            w.WriteDecimal("used", node.Tokens.Spent);
            w.WriteDecimal("reserved", node.Tokens.Reserved);
            w.WriteDecimal("remaining", node.Tokens.Remaining);
            w.WriteDecimal("percent", node.Tokens.Percent);
            w.WriteEndObject();
            w.WriteStartArray("warnings_fired");
            foreach (var warning in node.WarningsFired) w.WriteStringValue(warning);
            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>The table; <paramref name="source"/> is the file the tree came from (named when it has no nodes).</summary>
    public static string Text(BudgetOptions options, BudgetStatus status, string source = ".cage/cage.json")
    {
        var text = new StringBuilder();
        text.Append("Budget (").Append(Action(options.OnExceed)).Append(" on exceed)\n\n");
        if (status.Nodes.Count == 0)
        {
            text.Append("No budgets configured (Cage:Budgets:Nodes in ").Append(source).Append(").\n");
            return text.ToString();
        }

        var showTokens = status.Nodes.Any(n => n.Tokens.Cap is not null);
        var table = new TextTable().Column("scope").Column("period").Column("used", true).Column("cap", true).Column("of cap", true);
        if (showTokens) table.Column("tokens", true).Column("token cap", true);
        table.Column("resets");
        foreach (var node in status.Nodes)
        {
            var cells = new List<string>
            {
                node.Path + (node.OnExceed == BudgetExceedAction.Block ? " (block)" : ""),
                Period(node.Period),
                Formats.Usd(node.Usd.Spent),
                node.Usd.Cap is { } cap ? Formats.Usd(cap) : "-",
                node.Usd.Cap is { } c && c > 0 ? Math.Floor(node.Usd.Spent * 100m / c).ToString(CultureInfo.InvariantCulture) + "%" : "-",
            };
            if (showTokens)
            {
                cells.Add(Formats.Count((long)node.Tokens.Spent));
                cells.Add(node.Tokens.Cap is { } t ? Formats.Count((long)t) : "-");
            }

            cells.Add(node.ResetsAt is { } reset ? Formats.Timestamp(reset) : node.Period == BudgetPeriod.Lifetime ? "never" : "-");
            table.Row([.. cells]);
        }

        table.Render(text);
        var fired = status.Nodes.Where(n => n.WarningsFired.Count > 0).ToList();
        var unpriced = status.Nodes.Where(n => n.UnpricedCalls > 0).ToList();
        if (fired.Count > 0 || unpriced.Count > 0 || !status.Proceed)
        {
            text.Append('\n');
            foreach (var node in fired) text.Append("warned: ").Append(node.Path).Append(' ').Append(string.Join(", ", node.WarningsFired)).Append('\n');
            foreach (var node in unpriced)
            {
                text.Append("unknown cost: ").Append(node.Path).Append(' ').Append(Formats.Count(node.UnpricedCalls)).Append(node.UnpricedCalls == 1 ? " call" : " calls")
                    .Append(node.UsdIsLowerBound
                        ? " with no known price; the dollar spend is a lower bound (set Cage:Budgets:FallbackUsdPerMillionTokens)\n"
                        : " charged at the fallback price per million tokens\n");
            }

            if (!status.Proceed) text.Append("blocked: the next call for this scope is refused (stop_reason budget_exceeded)\n");
        }

        return text.ToString();
    }

    private static string Action(BudgetExceedAction action) => action == BudgetExceedAction.Block ? "block" : "warn";

    private static string Period(BudgetPeriod period) => period switch
    {
        BudgetPeriod.FiveHours => "5h",
        BudgetPeriod.Day => "day",
        BudgetPeriod.Week => "week",
        BudgetPeriod.Month => "month",
        _ => "lifetime",
    };
}
