using System.Globalization;
using System.Text;
using System.Text.Json;
using CageNet.Budgets;

namespace CageNet.Views;

/// <summary>
/// The <c>cage budget</c> view. JSON keeps the reference's shape (<c>on_exceed</c>, <c>over</c>, <c>proceed</c>, and per
/// scope <c>cap</c>, <c>used</c>, <c>would_be</c>, <c>over</c> in dollars) and adds per node <c>spent</c>, <c>reserved</c>,
/// <c>remaining</c>, <c>percent</c>, <c>period</c>, <c>period_start</c>, <c>resets_at</c>, a <c>tokens</c> object and the
/// warnings that fired. Scopes are keyed by node path, parents first; <c>tree</c> nests the same paths with their bound
/// labels. <c>over</c> and <c>proceed</c> are for the scope asked about (<c>status</c>), the rows are the
/// whole tree (<c>tree</c>, the same as the status when not given).
/// </summary>
internal static class BudgetView
{
    public static string Json(BudgetOptions options, TimeZoneInfo zone, BudgetStatus status, BudgetStatus? tree = null) => JsonOutput.Write(w =>
    {
        var rows = (tree ?? status).Nodes;
        w.WriteStartObject();
        w.WriteString("on_exceed", Action(options.OnExceed));
        w.WriteBoolean("over", status.Over);
        w.WriteBoolean("proceed", status.Proceed);
        w.WriteString("time_zone", zone.Id);
        w.WriteString("as_of", Formats.Timestamp(status.AsOf));
        w.WriteStartObject("scopes");
        foreach (var node in rows)
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
            w.WriteString("period", BudgetPeriods.Name(node.Period));
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
        w.WriteStartArray("tree");
        var parents = Parents(rows);
        void Write(int index)
        {
            var node = rows[index];
            w.WriteStartObject();
            w.WriteString("path", node.Path);
            w.WriteString("template", node.Template);
            w.WriteBoolean("bound", node.Bound);
            w.WriteStartObject("labels");
            foreach (var (name, value) in node.Labels) w.WriteString(name, value);
            w.WriteEndObject();
            w.WriteStartArray("children");
            for (var child = index + 1; child < rows.Count; child++)
            {
                if (parents[child] == index) Write(child);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        for (var i = 0; i < rows.Count; i++)
        {
            if (parents[i] < 0) Write(i);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    /// <summary>For each row, the index of the nearest row above it that is its ancestor (−1 for none).</summary>
    private static int[] Parents(IReadOnlyList<BudgetNodeStatus> rows)
    {
        var parents = new int[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            parents[i] = -1;
            for (var j = i - 1; j >= 0; j--)
            {
                var ancestor = rows[j].Path;
                if (rows[i].Path.Length > ancestor.Length && rows[i].Path[ancestor.Length] == '/' && rows[i].Path.StartsWith(ancestor, StringComparison.Ordinal))
                {
                    parents[i] = j;
                    break;
                }
            }
        }

        return parents;
    }

    /// <summary>
    /// Each row's scope cell: tree glyphs under its nearest shown ancestor, the path below that ancestor, and for an
    /// instance of a templated node the template segments it binds (<c>session-42 ({session})</c>).
    /// </summary>
    private static string[] TreeLabels(IReadOnlyList<BudgetNodeStatus> rows)
    {
        var parents = Parents(rows);
        bool IsLast(int i)
        {
            for (var k = i + 1; k < rows.Count; k++)
            {
                if (parents[k] == parents[i]) return false;
            }

            return true;
        }

        var labels = new string[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var node = rows[i];
            var prefix = new StringBuilder();
            for (var a = parents[i]; a >= 0 && parents[a] >= 0; a = parents[a])
            {
                prefix.Insert(0, IsLast(a) ? "   " : "│  ");
            }

            if (parents[i] >= 0) prefix.Append(IsLast(i) ? "└─ " : "├─ ");
            var relative = parents[i] >= 0 ? node.Path[(rows[parents[i]].Path.Length + 1)..] : node.Path;
            prefix.Append(relative);
            if (node.Bound && node.Template != node.Path)
            {
                var bound = node.Template.Split('/')[^relative.Split('/').Length..].Where(s => s.StartsWith('{'));
                prefix.Append(" (").Append(string.Join(", ", bound)).Append(')');
            }

            labels[i] = prefix.ToString();
        }

        return labels;
    }

    /// <summary>The table; <paramref name="source"/> is the file the tree came from (named when it has no nodes).</summary>
    public static string Text(BudgetOptions options, BudgetStatus status, string source = ".cage/cage.json", BudgetStatus? tree = null)
    {
        var text = new StringBuilder();
        var rows = (tree ?? status).Nodes;
        text.Append("Budget (").Append(Action(options.OnExceed)).Append(" on exceed)\n\n");
        if (rows.Count == 0)
        {
            text.Append("No budgets configured (Cage:Budgets:Nodes in ").Append(source).Append(").\n");
            return text.ToString();
        }

        var showTokens = rows.Any(n => n.Tokens.Cap is not null);
        var names = TreeLabels(rows);
        var table = new TextTable().Column("scope").Column("period").Column("used", true).Column("cap", true).Column("of cap", true);
        if (showTokens) table.Column("tokens", true).Column("token cap", true);
        table.Column("resets");
        for (var row = 0; row < rows.Count; row++)
        {
            var node = rows[row];
            var cells = new List<string>
            {
                names[row] + (node.OnExceed == BudgetExceedAction.Block ? " (block)" : ""),
                BudgetPeriods.Name(node.Period),
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
        var fired = rows.Where(n => n.WarningsFired.Count > 0).ToList();
        var unpriced = rows.Where(n => n.UnpricedCalls > 0).ToList();
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
}
