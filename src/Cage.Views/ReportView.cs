using System.Text;
using System.Text.Json;
using CageNet.Budgets;
using CageNet.Ledger;

namespace CageNet.Views;

/// <summary>
/// The <c>cage report</c> view: the reference's table (title, <c>calls · tok in · tok out · cost</c>, TOTAL) and its
/// <c>--json</c> shape, plus what the reference hid — cache reads, unpriced, missing-usage and local calls — shown only
/// when there are any, so the worked example looks exactly like the reference.
/// </summary>
internal static class ReportView
{
    /// <summary>The CLI name of each dimension (<c>--by</c> values, the <c>dim</c> field).</summary>
    public static readonly IReadOnlyDictionary<string, ReportDimension> Dimensions = new Dictionary<string, ReportDimension>(StringComparer.Ordinal)
    {
        ["route"] = ReportDimension.Route,
        ["model"] = ReportDimension.Model,
        ["provider"] = ReportDimension.Provider,
        ["day"] = ReportDimension.Day,
        ["agent"] = ReportDimension.Agent,
        ["task"] = ReportDimension.Task,
        ["session"] = ReportDimension.Session,
        ["category"] = ReportDimension.Category,
        ["user"] = ReportDimension.User,
    };

    public static string NameOf(ReportDimension dimension) => Dimensions.First(d => d.Value == dimension).Key;

    /// <summary>
    /// The cost to show for a set of calls: <see langword="null"/> when none of them is priced (every call unpriced:
    /// the cost is unknown, never $0), else the sum of the priced ones.
    /// </summary>
    public static decimal? KnownCost(SpendTotals totals) =>
        totals.Calls > 0 && totals.UnpricedCalls == totals.Calls ? null : totals.CostUsd;

    /// <summary>Separates the two keys of a group in a report by two dimensions (<c>--by model,category</c>).</summary>
    public const char KeySeparator = SpendReport.PairSeparator;

    /// <summary>The report as a table; with <paramref name="second"/>, groups are keyed by two dimensions, one column each.</summary>
    public static string Text(SpendReport report, string? second = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var dim = NameOf(report.Dimension);
        var text = new StringBuilder();
        text.Append("Ledger by ").Append(second is null ? dim : $"{dim} × {second}").Append(WindowSuffix(report.Window)).Append("\n\n");
        if (report.Groups.Count == 0)
        {
            text.Append(report.Window.Since is null && report.Window.Until is null ? "No calls recorded.\n" : "No calls in this window.\n");
            return text.ToString();
        }

        var total = report.Total;
        var showCached = total.CacheRead > 0;
        var showUnpriced = total.UnpricedCalls > 0;
        var showMissing = total.MissingUsageCalls > 0;
        var showLocal = total.LocalCalls > 0;

        var table = new TextTable().Column(dim);
        if (second is not null) table.Column(second);
        table.Column("calls", true).Column("tok in", true).Column("tok out", true);
        if (showCached) table.Column("cached", true);
        table.Column("cost", true);
        if (showUnpriced) table.Column("unpriced", true);
        if (showMissing) table.Column("no usage", true);
        if (showLocal) table.Column("local", true);

        foreach (var group in report.Groups)
        {
            table.Row(Keys(group.Key, second is not null).Concat(Cells(group.Totals, showCached, showUnpriced, showMissing, showLocal)).ToArray());
        }

        table.Row(Keys(second is null ? "TOTAL" : "TOTAL" + KeySeparator, second is not null).Concat(Cells(total, showCached, showUnpriced, showMissing, showLocal)).ToArray());
        table.Render(text);

        if (showUnpriced || showMissing || showLocal)
        {
            text.Append('\n');
            if (showUnpriced) text.Append(Formats.Plural(total.UnpricedCalls, "unpriced call")).Append(" (cost unknown, not $0)\n");
            if (showMissing) text.Append(Formats.Plural(total.MissingUsageCalls, "call")).Append(" with missing usage (tokens unknown, not 0)\n");
            if (showLocal) text.Append(Formats.Plural(total.LocalCalls, "local call")).Append(" (free by policy)\n");
        }

        return text.ToString();
    }

    private static void Group(System.Text.Json.Utf8JsonWriter w, string key, SpendTotals t)
    {
        w.WritePropertyName(key);
        w.WriteStartObject();
        w.WriteNumber("calls", t.Calls);
        w.WriteNumber("tokens_in", t.TokensIn);
        w.WriteNumber("tokens_out", t.TokensOut);
        w.WriteNumber("cached_in", t.CachedIn);
        w.WriteDecimal("usd", KnownCost(t));
        Buckets(w, t);
        w.WriteEndObject();
    }

    private static string[] Keys(string key, bool two) => two ? key.Split(KeySeparator, 2) : [key];

    private static List<string> Cells(SpendTotals t, bool cached, bool unpriced, bool missing, bool local)
    {
        var cells = new List<string> { Formats.Count(t.Calls), Formats.Count(t.TokensIn), Formats.Count(t.TokensOut) };
        if (cached) cells.Add(Formats.Count(t.CachedIn));
        cells.Add(CostCell(t));
        if (unpriced) cells.Add(Formats.Count(t.UnpricedCalls));
        if (missing) cells.Add(Formats.Count(t.MissingUsageCalls));
        if (local) cells.Add(Formats.Count(t.LocalCalls));
        return cells;
    }

    /// <summary><c>$0.0483</c>; <c>—</c> when no call is priced; <c>(local)</c> when every call is a free local one.</summary>
    private static string CostCell(SpendTotals t)
    {
        if (KnownCost(t) is not { } cost) return "—";
        if (t.Calls > 0 && t.LocalCalls + t.UnpricedCalls == t.Calls && cost == 0) return t.UnpricedCalls > 0 ? "—" : "(local)";
        return Formats.Usd(cost);
    }

    private static string WindowSuffix(TimeWindow window) => (window.SinceText, window.UntilText) switch
    {
        (null, null) => "",
        ({ } since, null) => $" (since {since})",
        (null, { } until) => $" (until {until})",
        ({ } since, { } until) => $" (since {since}, until {until})",
    };

    /// <summary>
    /// The report as JSON; with <paramref name="second"/>, <c>groups</c> nests the second dimension's groups inside the
    /// first's. With <paramref name="top"/> (the dashboard's <c>report?top=&amp;offset=</c>), <c>groups</c> holds one
    /// page of the groups (at most <paramref name="top"/>, from rank <paramref name="offset"/>), the <c>total</c> still
    /// covers all of them, and <c>top</c>, <c>offset</c> and <c>omitted</c> (the groups not on the page) follow
    /// <c>groups</c>.
    /// </summary>
    public static string Json(SpendReport report, string? second = null, int? top = null, int omitted = 0, int offset = 0)
    {
        ArgumentNullException.ThrowIfNull(report);
        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("dim", second is null ? NameOf(report.Dimension) : NameOf(report.Dimension) + "," + second);
            w.WriteStringOrNull("since", report.Window.SinceText);
            w.WriteStringOrNull("until", report.Window.UntilText);
            w.WritePropertyName("groups");
            w.WriteStartObject();
            if (second is null)
            {
                foreach (var group in report.Groups)
                {
                    Group(w, group.Key, group.Totals);
                }
            }
            else
            {
                foreach (var outer in report.Groups.GroupBy(g => g.Key.Split(KeySeparator, 2)[0], StringComparer.Ordinal))
                {
                    w.WritePropertyName(outer.Key);
                    w.WriteStartObject();
                    foreach (var group in outer)
                    {
                        Group(w, group.Key.Split(KeySeparator, 2)[1], group.Totals);
                    }

                    w.WriteEndObject();
                }
            }

            w.WriteEndObject();
            if (top is { } shown)
            {
                w.WriteNumber("top", shown);
                w.WriteNumber("offset", offset);
                w.WriteNumber("omitted", omitted);
            }

            w.WritePropertyName("total");
            w.WriteStartObject();
            var total = report.Total;
            w.WriteNumber("calls", total.Calls);
            w.WriteDecimal("usd", KnownCost(total));
            w.WriteNumber("tokens_in", total.TokensIn);
            w.WriteNumber("tokens_out", total.TokensOut);
            w.WriteNumber("cached_in", total.CachedIn);
            Buckets(w, total);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static void Buckets(Utf8JsonWriter w, SpendTotals t)
    {
        w.WriteNumber("input", t.Input);
        w.WriteNumber("cache_read", t.CacheRead);
        w.WriteNumber("cache_write_5m", t.CacheWrite5m);
        w.WriteNumber("cache_write_1h", t.CacheWrite1h);
        w.WriteNumber("output", t.Output);
        w.WriteNumber("reasoning", t.Reasoning);
        w.WriteNumber("unpriced_calls", t.UnpricedCalls);
        w.WriteNumber("missing_usage_calls", t.MissingUsageCalls);
        w.WriteNumber("local_calls", t.LocalCalls);
    }

    /// <summary>
    /// The totals of one session's calls in a window (<c>cage report --session</c>): the same totals <c>cage meter</c>
    /// prints and a host's <c>SessionCostTracker</c> holds, from the ledger's calls.
    /// </summary>
    public static async ValueTask<SessionCostAccumulator> SessionAsync(ILedgerReader ledger, string session, TimeWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        var costs = new SessionCostAccumulator();
        await foreach (var call in ledger.ReadCallsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            if (string.Equals(call.Session, session, StringComparison.Ordinal))
            {
                costs.Add(call);
            }
        }

        return costs;
    }

    /// <summary>The JSON of one session's summary (<c>cage report --session ID --json</c>): totals, then per model × category.</summary>
    public static string SessionJson(string session, SessionCostAccumulator costs) => JsonOutput.Write(w =>
    {
        var detail = costs.Detail();
        w.WriteStartObject();
        w.WriteString("session", session);
        w.WriteNumber("calls", costs.Calls);
        w.WriteNumber("prompt_tokens", detail.Sum(d => d.PromptTokens));
        w.WriteNumber("completion_tokens", detail.Sum(d => d.CompletionTokens));
        w.WriteDecimal("cost_usd", costs.CloudCostUsd);
        w.WriteNumber("local_calls", detail.Where(d => d.IsLocal).Sum(d => d.Calls - d.UnknownCostCalls));
        w.WriteNumber("unknown_cost_calls", costs.UnknownCostCalls);
        w.WriteBoolean("is_lower_bound", costs.IsLowerBound);
        w.WriteStartArray("detail");
        foreach (var slot in detail)
        {
            w.WriteStartObject();
            w.WriteString("model", slot.Model);
            w.WriteString("category", slot.Category);
            w.WriteNumber("calls", slot.Calls);
            w.WriteNumber("prompt_tokens", slot.PromptTokens);
            w.WriteNumber("completion_tokens", slot.CompletionTokens);
            w.WriteDecimal("cost_usd", slot.CostUsd);
            w.WriteBoolean("is_local", slot.IsLocal);
            w.WriteNumber("unknown_cost_calls", slot.UnknownCostCalls);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}
