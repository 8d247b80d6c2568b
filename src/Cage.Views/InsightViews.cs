using System.Globalization;
using System.Text;
using CageNet.Attribution;

namespace CageNet.Views;

/// <summary>The whole-ledger views: <c>roi</c>, <c>recommend</c>, <c>quality</c>, <c>regression</c> and <c>forecast</c>.</summary>
internal static class InsightViews
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static string UsdOrDash(decimal? value) => value is { } v ? Formats.Usd(v) : "—";

    private static string Percent(decimal? fraction) =>
        fraction is { } f ? (f >= 0 ? "+" : "") + Math.Round(f * 100, 0, MidpointRounding.AwayFromZero).ToString("0", Invariant) + "%" : "—";

    public static string VerdictWire(Verdict verdict) => verdict switch
    {
        Verdict.Enable => "enable",
        Verdict.Skip => "skip",
        _ => "no_evidence",
    };

    public static string RoiText(RoiReport report)
    {
        var text = new StringBuilder("ROI by tool\n\n");
        if (report.Tools.Count == 0)
        {
            return text.Append("No savings receipts in the window.\n").ToString();
        }

        var table = new TextTable().Column("tool").Column("receipts", true).Column("saved", true).Column("own cost", true)
            .Column("net", true).Column("added lat", true).Column("method");
        foreach (var t in report.Tools)
        {
            table.Row(t.Tool, Formats.Count(t.Receipts), UsdOrDash(t.SavedUsd), Formats.Usd(t.OwnCostUsd), UsdOrDash(t.NetUsd),
                Formats.Amount((decimal)Math.Round(t.AddedLatencyMs)) + " ms", t.Method.ToWire());
        }

        table.Render(text);
        foreach (var t in report.Tools.Where(t => t.EliminatedCalls > 0))
        {
            text.Append("\n  ").Append(t.Tool).Append(" eliminated ").Append(Formats.Plural(t.EliminatedCalls, "call")).Append(" (priced at the task's model)");
        }

        foreach (var t in report.Tools.Where(t => t.OtherSavings.Count > 0))
        {
            text.Append("\n  ").Append(t.Tool).Append(" also saved ")
                .AppendJoin(", ", t.OtherSavings.Select(p => $"{Formats.Amount(p.Value)} {p.Key.ToWire()}")).Append(" (not priced)");
        }

        if (report.UnpricedReceipts > 0)
        {
            text.Append("\n  ").Append(Formats.Plural(report.UnpricedReceipts, "token receipt")).Append(" unpriced: shown as —, not counted as $0");
        }

        if (report.Tools.Any(t => t.EliminatedCalls > 0 || t.OtherSavings.Count > 0) || report.UnpricedReceipts > 0)
        {
            text.Append('\n');
        }

        return text.ToString();
    }

    public static string RoiJson(RoiReport report, string? since) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStringOrNull("since", since);
        w.WritePropertyName("tools");
        w.WriteStartObject();
        foreach (var t in report.Tools)
        {
            w.WritePropertyName(t.Tool);
            w.WriteStartObject();
            w.WriteNumber("receipts", t.Receipts);
            w.WriteDecimal("saved_usd", t.SavedUsd);
            w.WriteDecimal("cost_usd", t.OwnCostUsd);
            w.WriteDecimal("net_usd", t.NetUsd);
            w.WriteNumber("added_ms", t.AddedLatencyMs);
            w.WriteNumber("eliminated_calls", t.EliminatedCalls);
            w.WriteNumber("unpriced_receipts", t.UnpricedReceipts);
            w.WriteString("method", t.Method.ToWire());
            w.WritePropertyName("other_savings");
            w.WriteStartObject();
            foreach (var (unit, saved) in t.OtherSavings.OrderBy(p => p.Key))
            {
                w.WriteDecimal(unit.ToWire(), saved);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteNumber("unpriced_receipts", report.UnpricedReceipts);
        w.WriteEndObject();
    });

    public static string RecommendText(RecommendationReport report)
    {
        var text = new StringBuilder("Cheapest-path recommendation\n");
        var any = false;
        foreach (var route in report.Routes.Where(r => r.Tools.Count > 0))
        {
            any = true;
            text.Append("\nroute ").Append(route.Route).Append(" · ").Append(Formats.Plural(route.Tasks, "task"));
            if (route.QualityAdjusted)
            {
                text.Append(" (").Append(Formats.Count(route.SuccessfulTasks)).Append(" succeeded)");
            }

            text.Append("\n\n");
            var table = new TextTable().Column("tool").Column("saved", true).Column("own cost", true).Column("net", true).Column("verdict").Column("evidence");
            foreach (var t in route.Tools)
            {
                var verdict = t.Verdict switch { Verdict.Enable => "✔ enable", Verdict.Skip => "✘ skip", _ => "? no evidence" };
                table.Row(t.Tool, UsdOrDash(t.SavedUsd), Formats.Usd(t.OwnCostUsd), UsdOrDash(t.NetUsd), verdict, t.Evidence);
            }

            table.Render(text);
            var basis = route.QualityAdjusted ? "per successful task" : "per task (no outcomes recorded: cage outcome <task>)";
            text.Append("\n  → enable: ").Append(route.Enable.Count == 0 ? "(none)" : string.Join(", ", route.Enable));
            if (route.Skip.Count > 0)
            {
                text.Append("   skip: ").Append(string.Join(", ", route.Skip));
            }

            text.Append("\n  cost ").Append(basis).Append(": ").Append(UsdOrDash(route.CurrentPerSuccessUsd)).Append(" as run");
            if (route.RecommendedCostUsd != route.CurrentCostUsd)
            {
                text.Append(" → ").Append(UsdOrDash(route.RecommendedPerSuccessUsd)).Append(" recommended");
            }

            text.Append('\n');
        }

        if (!any)
        {
            text.Append("\nNo savings receipts in the window: nothing to recommend.\n");
        }

        return text.ToString();
    }

    public static string RecommendJson(RecommendationReport report, string? since) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStringOrNull("since", since);
        w.WritePropertyName("routes");
        w.WriteStartArray();
        foreach (var route in report.Routes)
        {
            w.WriteStartObject();
            w.WriteString("route", route.Route);
            w.WriteNumber("tasks", route.Tasks);
            w.WriteNumber("successful_tasks", route.SuccessfulTasks);
            w.WriteBoolean("quality_adjusted", route.QualityAdjusted);
            w.WriteDecimal("current_cost_usd", route.CurrentCostUsd);
            w.WriteDecimal("recommended_cost_usd", route.RecommendedCostUsd);
            w.WriteDecimal("current_per_success_usd", route.CurrentPerSuccessUsd);
            w.WriteDecimal("recommended_per_success_usd", route.RecommendedPerSuccessUsd);
            w.WritePropertyName("tools");
            w.WriteStartArray();
            foreach (var t in route.Tools)
            {
                w.WriteStartObject();
                w.WriteString("tool", t.Tool);
                w.WriteString("verdict", VerdictWire(t.Verdict));
                w.WriteDecimal("saved_usd", t.SavedUsd);
                w.WriteDecimal("own_cost_usd", t.OwnCostUsd);
                w.WriteDecimal("net_usd", t.NetUsd);
                w.WriteNumber("receipts", t.Receipts);
                w.WriteNumber("eliminated_calls", t.EliminatedCalls);
                w.WriteString("method", t.Method.ToWire());
                w.WriteString("evidence", t.Evidence);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStringArray("enable", route.Enable);
            w.WriteStringArray("skip", route.Skip);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    public static string QualityText(QualityReport q)
    {
        var text = new StringBuilder("Quality-adjusted cost\n\n");
        var table = new TextTable().Column("metric").Column("value", true).Column("note");
        table.Row("tasks (with calls)", Formats.Count(q.Tasks), "");
        table.Row("succeeded / redone", $"{Formats.Count(q.Ok)} / {Formats.Count(q.Redo)}", "");
        if (q.Failed > 0 || q.Unlabeled > 0)
        {
            table.Row("failed / unlabelled", $"{Formats.Count(q.Failed)} / {Formats.Count(q.Unlabeled)}", "");
        }

        table.Row("cost / task", UsdOrDash(q.PerTaskUsd), "");
        table.Row("cost / successful task", UsdOrDash(q.PerSuccessUsd), "← the honest metric");
        table.Render(text);
        if (q.Ok == 0 && q.Tasks > 0)
        {
            text.Append("\n  no task is labelled ok yet: cage outcome <task> records one.\n");
        }

        if (q.UnpricedCalls > 0)
        {
            text.Append("\n  ").Append(Formats.Plural(q.UnpricedCalls, "call")).Append(" unpriced: not in the totals (not counted as $0).\n");
        }

        return text.ToString();
    }

    public static string QualityJson(QualityReport q, string? since) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStringOrNull("since", since);
        w.WriteDecimal("total_usd", q.TotalUsd);
        w.WriteNumber("tasks", q.Tasks);
        w.WriteNumber("ok", q.Ok);
        w.WriteNumber("redo", q.Redo);
        w.WriteNumber("failed", q.Failed);
        w.WriteNumber("unlabeled", q.Unlabeled);
        w.WriteDecimal("per_task", Round(q.PerTaskUsd));
        w.WriteDecimal("per_success", Round(q.PerSuccessUsd));
        w.WriteNumber("unpriced_calls", q.UnpricedCalls);
        w.WriteDecimal("untasked_usd", q.UntaskedUsd);
        w.WriteEndObject();
    });

    /// <summary>A quotient at 10 decimals (the ledger's money precision), so JSON never shows 28 digits of a repeating fraction.</summary>
    private static decimal? Round(decimal? value) => value is { } v ? Math.Round(v, 10, MidpointRounding.ToEven) : null;

    public static string RegressionText(RegressionReport report)
    {
        if (report.Groups.All(g => !g.Comparable))
        {
            return "cage: not enough history on both sides of the window to compare yet.\n";
        }

        var text = new StringBuilder();
        text.Append("Cost regression · last ").Append(Span(report.Query.Recent)).Append(" vs the ").Append(Span(report.Query.Baseline))
            .Append(" before · tolerance ").Append(Percent(report.Query.Tolerance).TrimStart('+')).Append("\n\n");
        var table = new TextTable().Column(report.Query.By is null ? "scope" : report.Query.By.Value.ToString().ToLowerInvariant())
            .Column("calls", true).Column("base $/call", true).Column("recent $/call", true).Column("drift", true);
        var perTask = report.Query.By is null;
        if (perTask)
        {
            table.Column("base $/task", true).Column("recent $/task", true).Column("drift", true);
        }

        table.Column("status");
        foreach (var g in report.Groups)
        {
            var cells = new List<string>
            {
                g.Key, $"{Formats.Count(g.BaselineCalls)} → {Formats.Count(g.RecentCalls)}", UsdOrDash(g.BaselinePerCallUsd), UsdOrDash(g.RecentPerCallUsd), Percent(g.PerCallDrift),
            };
            if (perTask)
            {
                cells.Add(UsdOrDash(g.BaselinePerTaskUsd));
                cells.Add(UsdOrDash(g.RecentPerTaskUsd));
                cells.Add(Percent(g.PerTaskDrift));
            }

            cells.Add(!g.Comparable ? "no baseline" : g.Regressed ? "REGRESSED" : "ok");
            table.Row([.. cells]);
        }

        table.Render(text);
        foreach (var g in report.Groups.Where(g => g.Regressed))
        {
            text.Append('\n').Append(g.Key).Append(": ").Append(g.Causes.Count == 0 ? "no single cause stands out" : "likely " + string.Join("; ", g.Causes)).Append('\n');
        }

        return text.ToString();
    }

    private static string Span(TimeSpan span) =>
        span.TotalDays >= 1 && span.TotalDays == Math.Floor(span.TotalDays) ? $"{span.TotalDays:0}d" : $"{span.TotalHours:0.#}h";

    public static string RegressionJson(RegressionReport report, string since, string baseline) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("since", since);
        w.WriteString("baseline", baseline);
        w.WriteDecimal("tolerance", report.Query.Tolerance);
        w.WriteStringOrNull("by", report.Query.By?.ToString().ToLowerInvariant());
        w.WriteString("recent_since", Formats.Timestamp(report.RecentSince));
        w.WriteString("baseline_since", Formats.Timestamp(report.BaselineSince));
        if (report.Query.By is null && report.Groups.Count == 1)
        {
            // The reference's flat fields, for scripts written against it.
            var g = report.Groups[0];
            w.WriteNumber("recent_n", g.RecentCalls);
            w.WriteNumber("base_n", g.BaselineCalls);
            w.WriteDecimal("recent_mean", Round(g.RecentPerCallUsd));
            w.WriteDecimal("base_mean", Round(g.BaselinePerCallUsd));
            w.WriteDecimal("drift", g.PerCallDrift);
        }

        w.WriteBoolean("regressed", report.Groups.Any(g => g.Regressed));
        w.WritePropertyName("groups");
        w.WriteStartArray();
        foreach (var g in report.Groups)
        {
            w.WriteStartObject();
            w.WriteString("key", g.Key);
            w.WriteNumber("recent_calls", g.RecentCalls);
            w.WriteNumber("baseline_calls", g.BaselineCalls);
            w.WriteDecimal("recent_per_call_usd", Round(g.RecentPerCallUsd));
            w.WriteDecimal("baseline_per_call_usd", Round(g.BaselinePerCallUsd));
            w.WriteDecimal("per_call_drift", g.PerCallDrift);
            w.WriteNumber("recent_tasks", g.RecentTasks);
            w.WriteNumber("baseline_tasks", g.BaselineTasks);
            w.WriteDecimal("recent_per_task_usd", Round(g.RecentPerTaskUsd));
            w.WriteDecimal("baseline_per_task_usd", Round(g.BaselinePerTaskUsd));
            w.WriteDecimal("per_task_drift", g.PerTaskDrift);
            w.WriteBoolean("comparable", g.Comparable);
            w.WriteBoolean("regressed", g.Regressed);
            w.WriteStringArray("causes", g.Causes);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    public static string ForecastText(SpendForecast f)
    {
        var text = new StringBuilder("Spend forecast (month-to-date + recent run-rate)\n\n");
        var table = new TextTable().Column("basis").Column("window").Column("usd", true);
        table.Row("month to date", f.MonthStart.ToString("yyyy-MM", Invariant), Formats.Usd(f.MonthToDateUsd));
        table.Row("observed", $"{f.RunRateDays:0.##}d", Formats.Usd(f.RunRateSpendUsd));
        table.Row("run-rate", "/day", Formats.Usd(f.PerDayUsd));
        table.Row("projected", $"month end (+{f.DaysLeft:0.#}d)", Formats.Usd(f.ProjectedMonthUsd));
        table.Render(text);
        text.Append('\n');
        if (f.MonthlyBudgetUsd is not { } budget)
        {
            text.Append("  no monthly budget configured (Budgets in .cage/cage.json, or --budget USD)\n");
        }
        else if (f.BlowsBudget)
        {
            text.Append("  ✘ over the ").Append(Formats.Usd(budget)).Append(" monthly budget: crossed on ")
                .Append(f.BlowsOn?.ToString("yyyy-MM-dd", Invariant)).Append(" at this run-rate\n");
        }
        else
        {
            text.Append("  ✔ within the ").Append(Formats.Usd(budget)).Append(" monthly budget\n");
        }

        return text.ToString();
    }

    public static string ForecastJson(SpendForecast f) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("month", f.MonthStart.ToString("yyyy-MM", Invariant));
        w.WriteDecimal("month_to_date_usd", f.MonthToDateUsd);
        w.WriteDecimal("span_days", f.RunRateDays);
        w.WriteDecimal("total_usd", f.RunRateSpendUsd);
        w.WriteDecimal("per_day", Round(f.PerDayUsd));
        w.WriteDecimal("days_left", Math.Round(f.DaysLeft, 4, MidpointRounding.ToEven));
        w.WriteDecimal("projected_month_usd", Round(f.ProjectedMonthUsd));
        w.WriteDecimal("monthly_cap", f.MonthlyBudgetUsd);
        w.WriteBoolean("blows_budget", f.BlowsBudget);
        w.WriteStringOrNull("blows_on", f.BlowsOn?.ToString("yyyy-MM-dd", Invariant));
        w.WriteNumber("unpriced_calls", f.UnpricedCalls);
        w.WriteEndObject();
    });
}
