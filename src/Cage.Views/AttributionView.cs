using System.Globalization;
using System.Text;
using CageNet.Attribution;

namespace CageNet.Views;

/// <summary>The <c>cage attrib</c> and <c>cage matrix</c> views: tables and <c>--json</c>.</summary>
internal static class AttributionView
{
    public static string NoTaskMessage => "The ledger has no task yet: attribution is per task. Record calls with a task (Cage.Meter(route, task: …)) or name one with --task.\n";

    public static string Text(TaskAttribution attribution)
    {
        var text = new StringBuilder();
        text.Append("Marginal attribution · task '").Append(attribution.Task).Append('\'');
        if (attribution.Model is not null)
        {
            text.Append(" · ").Append(attribution.Provider).Append('/').Append(attribution.Model);
        }

        text.Append("\n\n");
        if (!attribution.HasReceipts)
        {
            text.Append("No savings receipts for task '").Append(attribution.Task).Append("': nothing to attribute.\n");
            return text.ToString();
        }

        var showConfidence = attribution.Tools.Any(t => t.Confidence != 1.0);
        var table = new TextTable().Column("tool").Column("unit").Column("raw alt", true).Column("actual", true)
            .Column("saved", true).Column("saved $", true).Column("method");
        if (showConfidence)
        {
            table.Column("min conf", true);
        }

        foreach (var row in attribution.Tools)
        {
            var cells = new List<string>
            {
                row.Tool, row.Unit.ToWire(), Formats.Amount(row.RawAlternative), Formats.Amount(row.Actual), Formats.Amount(row.Saved),
                Money(row), row.Method.ToWire(),
            };
            if (showConfidence)
            {
                cells.Add(row.Confidence.ToString("0.##", CultureInfo.InvariantCulture));
            }

            table.Row([.. cells]);
        }

        var total = new List<string> { "TOTAL", "tokens", "", "", Formats.Amount(attribution.TotalSavedTokens), Formats.Usd(attribution.TotalSavedUsd), "" };
        if (showConfidence)
        {
            total.Add("");
        }

        table.Row([.. total]);
        table.Render(text);

        if (attribution.Tools.Any(t => t.Unit is SavingsUnit.Ms or SavingsUnit.Gco2))
        {
            text.Append("\n  ms and gco2 savings stay in their own unit: never priced, never added to the token total.\n");
        }

        if (attribution.UnpricedReceipts > 0)
        {
            text.Append("\n  ").Append(Formats.Plural(attribution.UnpricedReceipts, "token receipt"))
                .Append(" unpriced (no model, or a model the price catalog does not know): shown as —, not counted as $0.\n");
        }

        Residuals(text, attribution.Residuals);
        if (attribution.Shapley is { } shapley)
        {
            Shapley(text, shapley);
        }

        return text.ToString();
    }

    private static string Money(ToolSavings row) => row.Unit switch
    {
        SavingsUnit.Ms or SavingsUnit.Gco2 => "",
        _ when row.SavedUsd is { } usd => Formats.Usd(usd) + (row.UnpricedReceipts > 0 ? $" (+{row.UnpricedReceipts} unpriced)" : ""),
        _ => "—",
    };

    private static void Residuals(StringBuilder text, IReadOnlyList<CallResidual> residuals)
    {
        if (residuals.Count == 0)
        {
            return;
        }

        text.Append("\nResiduals (prompt-side tokens no receipt accounts for)\n");
        foreach (var r in residuals)
        {
            text.Append("  ").Append(r.CallId).Append("  ").Append(Formats.Count(r.PromptTokens)).Append(" prompt-side - ")
                .Append(Formats.Amount(r.ReceiptsActual)).Append(" actual = ").Append(Formats.Amount(r.Tokens));
            if (r.OverClaim)
            {
                text.Append("  OVER-CLAIM: the receipts claim ").Append(Formats.Amount(-r.Tokens)).Append(" more prompt tokens than the call had");
            }

            text.Append('\n');
        }
    }

    private static void Shapley(StringBuilder text, ShapleyAudit shapley)
    {
        text.Append("\nShapley audit (order-independent credit over the matrix's cost function)\n\n");
        var table = new TextTable().Column("tool").Column("fixed-order $", true).Column("Shapley $", true).Column("difference", true);
        foreach (var share in shapley.Tools)
        {
            table.Row(share.Tool, Formats.Usd(share.FixedOrderUsd), Formats.Usd(share.ShapleyUsd), Formats.Usd(share.DifferenceUsd));
        }

        table.Row("TOTAL", Formats.Usd(shapley.Tools.Sum(s => s.FixedOrderUsd)), Formats.Usd(shapley.Tools.Sum(s => s.ShapleyUsd)), "");
        table.Render(text);
        text.Append(shapley.Tools.All(s => Math.Round(s.DifferenceUsd, 8) == 0)
            ? "\n  the two agree: costs are linear in the saved tokens here.\n"
            : "\n  they differ: a long-context tier makes the tools interact, so credit depends on the order.\n");
    }

    public static string Json(TaskAttribution attribution) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("task", attribution.Task);
        w.WriteStringOrNull("provider", attribution.Provider);
        w.WriteStringOrNull("model", attribution.Model);
        w.WritePropertyName("steps");
        w.WriteStartArray();
        foreach (var row in attribution.Tools)
        {
            w.WriteStartObject();
            w.WriteString("tool", row.Tool);
            w.WriteString("unit", row.Unit.ToWire());
            w.WriteNumber("receipts", row.Receipts);
            w.WriteDecimal("raw_alternative", row.RawAlternative);
            w.WriteDecimal("actual", row.Actual);
            w.WriteDecimal("saved", row.Saved);
            w.WriteDecimal("saved_tokens", row.SavedTokens);
            w.WriteDecimal("saved_usd", row.SavedUsd);
            w.WriteNumber("unpriced_receipts", row.UnpricedReceipts);
            w.WriteString("method", row.Method.ToWire());
            w.WriteNumber("confidence", row.Confidence);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteDecimal("total_saved_tokens", attribution.TotalSavedTokens);
        w.WriteDecimal("total_saved_usd", attribution.TotalSavedUsd);
        w.WriteNumber("unpriced_receipts", attribution.UnpricedReceipts);
        w.WritePropertyName("residuals");
        w.WriteStartArray();
        foreach (var r in attribution.Residuals)
        {
            w.WriteStartObject();
            w.WriteString("call", r.CallId);
            w.WriteNumber("prompt_tokens", r.PromptTokens);
            w.WriteDecimal("receipts_actual", r.ReceiptsActual);
            w.WriteDecimal("residual", r.Tokens);
            w.WriteBoolean("over_claim", r.OverClaim);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("over_claims", attribution.Residuals.Count(r => r.OverClaim));
        if (attribution.Shapley is { } shapley)
        {
            w.WritePropertyName("shapley");
            w.WriteStartObject();
            w.WriteDecimal("total_usd", shapley.TotalUsd);
            w.WritePropertyName("tools");
            w.WriteStartArray();
            foreach (var share in shapley.Tools)
            {
                w.WriteStartObject();
                w.WriteString("tool", share.Tool);
                w.WriteDecimal("fixed_order_usd", share.FixedOrderUsd);
                w.WriteDecimal("shapley_usd", share.ShapleyUsd);
                w.WriteDecimal("difference_usd", share.DifferenceUsd);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndObject();
    });

    public static string Text(CounterfactualMatrix matrix)
    {
        var text = new StringBuilder();
        text.Append("Counterfactual matrix · task '").Append(matrix.Task).Append('\'');
        if (matrix.Model is not null)
        {
            text.Append(" · ").Append(matrix.Provider).Append('/').Append(matrix.Model);
        }

        text.Append('\n');
        if (matrix.Tools.Count == 0)
        {
            text.Append("\nNo token receipts for task '").Append(matrix.Task).Append("': the only combination is what ran.\n");
            return text.ToString();
        }

        text.Append("  base ").Append(Formats.Amount(matrix.BaseTokens)).Append(" tok + output ").Append(Formats.Count(matrix.OutputTokens))
            .Append(" tok held constant\n\n");
        var table = new TextTable();
        foreach (var tool in matrix.Tools)
        {
            table.Column(tool);
        }

        table.Column("input tok", true).Column("cost", true).Column("source");
        foreach (var row in matrix.Rows)
        {
            var cells = row.On.Select(on => on ? "✓" : "✗").ToList();
            cells.Add(Formats.Amount(row.InputTokens));
            cells.Add(row.CostUsd is { } cost ? Formats.Usd(cost) : "—");
            cells.Add(row.Source.ToWire());
            table.Row([.. cells]);
        }

        table.Render(text);
        text.Append('\n').Append(Footer(matrix)).Append('\n');
        if (matrix.UnpricedCalls > 0)
        {
            text.Append("  ").Append(Formats.Plural(matrix.UnpricedCalls, "call")).Append(" of the task unpriced: left out of every cost (not counted as $0).\n");
        }

        return text.ToString();
    }

    /// <summary>The footer: the all-off row against the all-on row (never the dearest against the cheapest).</summary>
    public static string Footer(CounterfactualMatrix matrix)
    {
        if (matrix.Cheaper is { } cheaper && matrix.AllOff.CostUsd is { } off && matrix.AllOn.CostUsd is { } on)
        {
            var percent = Math.Round(Math.Abs(cheaper) * 100, 0, MidpointRounding.AwayFromZero).ToString("0", CultureInfo.InvariantCulture);
            var direction = cheaper >= 0 ? "cheaper" : "dearer";
            return $"  full stack vs all-off: {percent}% {direction} ({Formats.Usd(off)} → {Formats.Usd(on)})";
        }

        return $"  full stack vs all-off: {Formats.Amount(matrix.AllOff.InputTokens)} → {Formats.Amount(matrix.AllOn.InputTokens)} input tokens (cost unknown: unpriced)";
    }

    public static string Json(CounterfactualMatrix matrix) => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("task", matrix.Task);
        w.WriteStringOrNull("provider", matrix.Provider);
        w.WriteStringOrNull("model", matrix.Model);
        w.WriteDecimal("base_tokens", matrix.BaseTokens);
        w.WriteNumber("output_tokens", matrix.OutputTokens);
        w.WriteStringArray("tools", matrix.Tools);
        w.WritePropertyName("rows");
        w.WriteStartArray();
        foreach (var row in matrix.Rows)
        {
            WriteRow(w, matrix, row);
        }

        w.WriteEndArray();
        w.WritePropertyName("all_off");
        WriteRow(w, matrix, matrix.AllOff);
        w.WritePropertyName("all_on");
        WriteRow(w, matrix, matrix.AllOn);
        w.WriteDecimal("cheaper_pct", matrix.Cheaper is { } c ? Math.Round(c * 100, 2, MidpointRounding.AwayFromZero) : null);
        w.WriteNumber("unpriced_calls", matrix.UnpricedCalls);
        w.WriteEndObject();
    });

    private static void WriteRow(System.Text.Json.Utf8JsonWriter w, CounterfactualMatrix matrix, MatrixRow row)
    {
        w.WriteStartObject();
        w.WritePropertyName("on");
        w.WriteStartObject();
        for (var i = 0; i < matrix.Tools.Count; i++)
        {
            w.WriteBoolean(matrix.Tools[i], row.On[i]);
        }

        w.WriteEndObject();
        w.WriteDecimal("input_tok", row.InputTokens);
        w.WriteDecimal("cost_usd", row.CostUsd);
        w.WriteString("source", row.Source.ToWire());
        w.WriteEndObject();
    }
}
