using CageNet.Attribution;
using CageNet.Ledger;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CageNet.Views;

/// <summary>
/// The <c>cage why &lt;call-id&gt;</c> view: the call (the reference's 15-field compatibility view, then the exclusive
/// buckets and provenance the reference did not keep), every receipt against it, and the residual — the call's
/// prompt-side tokens minus what its token receipts say was actually sent. A negative residual means the receipts
/// claim more context than the call had: it is flagged as an over-claim, never absorbed.
/// </summary>
internal static class WhyView
{
    public static string Text(CallRecord call, IReadOnlyList<SavingsReceipt> receipts)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(receipts);
        var u = call.Usage;
        var text = new StringBuilder();
        text.Append(call.Id).Append("  ·  ").Append(Formats.Timestamp(call.Timestamp)).Append('\n');
        text.Append("  task     ").Append(Show(call.Task)).Append("    route ").Append(Show(call.Route)).Append("    agent ").Append(Show(call.Agent)).Append('\n');
        text.Append("  model    ").Append(call.Provider).Append('/').Append(call.Model).Append('\n');

        var tokens = $"{Formats.Count(u.PromptTokens)} in ({Formats.Count(u.CacheRead)} cached";
        var writes = u.CacheWrite5m + u.CacheWrite1h;
        if (writes > 0) tokens += $", {Formats.Count(writes)} cache-written";
        tokens += $") / {Formats.Count(u.Output)} out";
        if (u.Reasoning is { } reasoning) tokens += $" ({Formats.Count(reasoning)} reasoning)";
        if (call.UsageStatus != UsageStatus.Reported) tokens += $"    usage {call.UsageStatus.ToWire()}";
        text.Append("  tokens   ").Append(tokens).Append('\n');

        text.Append("  cost     ").Append(CostText(call))
            .Append("    latency ").Append(Formats.Count(call.LatencyMs)).Append(" ms")
            .Append("    ok=").Append(call.Ok ? "True" : "False").Append('\n');

        // The reference's five lines come first, unchanged; what it did not keep follows.
        if (call.Session is not null || call.Category is not null || call.User is not null)
        {
            var who = new List<string>();
            if (call.Session is not null) who.Add($"session {call.Session}");
            if (call.Category is not null) who.Add($"category {call.Category}");
            if (call.User is not null) who.Add($"user {call.User}");
            text.Append("  where    ").AppendJoin("    ", who).Append('\n');
        }

        if (call.Retries > 0 || call.Attempt > 1 || call.RequestId is not null || call.Error is not null)
        {
            var extra = new List<string>();
            if (call.Retries > 0 || call.Attempt > 1) extra.Add($"attempt {call.Attempt.ToString(CultureInfo.InvariantCulture)}, {Formats.Plural(call.Retries, "retry", "retries")}");
            if (call.RequestId is not null) extra.Add($"request {call.RequestId}");
            if (call.Error is not null) extra.Add($"error {call.Error}");
            text.Append("  call     ").AppendJoin("    ", extra).Append('\n');
        }

        text.Append("\nReceipts\n");
        if (receipts.Count == 0)
        {
            text.Append("(none)\n");
            return text.ToString();
        }

        var showConfidence = receipts.Any(r => r.Confidence != 1.0);
        var table = new TextTable().Column("tool").Column("unit").Column("raw alt", true).Column("actual", true).Column("saved", true);
        if (showConfidence) table.Column("conf", true);
        table.Column("method");
        foreach (var r in receipts)
        {
            var cells = new List<string> { r.Tool, r.Unit.ToWire(), Formats.Amount(r.RawAlternative), Formats.Amount(r.Actual), Formats.Amount(r.Saved) };
            if (showConfidence) cells.Add(r.Confidence.ToString("0.##", CultureInfo.InvariantCulture));
            cells.Add(r.Method.ToWire());
            table.Row([.. cells]);
        }

        table.Render(text);

        var residual = CallResidual.Of(call, receipts);
        if (residual.TokenReceipts > 0)
        {
            text.Append("\nResidual  ").Append(Formats.Amount(residual.Tokens)).Append(" tokens = ")
                .Append(Formats.Count(residual.PromptTokens)).Append(" prompt-side - ")
                .Append(Formats.Amount(residual.ReceiptsActual)).Append(" actual (token receipts)\n");
            if (residual.OverClaim)
            {
                text.Append("  OVER-CLAIM: the receipts claim ").Append(Formats.Amount(-residual.Tokens))
                    .Append(" more prompt tokens than the call had\n");
            }
        }

        return text.ToString();
    }

    private static string Show(string? value) => string.IsNullOrEmpty(value) ? "-" : value;

    private static string CostText(CallRecord call) => call.CostSource switch
    {
        CostSource.Unpriced => "— (unpriced: cost unknown, not $0)",
        CostSource.Local => Formats.Usd(0m) + " (local)",
        _ when call.CostUsd is null => "—",
        CostSource.Provider => Formats.Usd(call.CostUsd.Value) + " (provider)",
        _ => Formats.Usd(call.CostUsd.Value),
    };

    public static string Json(CallRecord call, IReadOnlyList<SavingsReceipt> receipts)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(receipts);
        return JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("call");
            ReferenceJsonl.WriteCall(w, call);
            w.WritePropertyName("receipts");
            w.WriteStartArray();
            foreach (var receipt in receipts)
            {
                ReferenceJsonl.WriteReceipt(w, receipt);
            }

            w.WriteEndArray();
            var residual = CallResidual.Of(call, receipts);
            w.WritePropertyName("residual");
            w.WriteStartObject();
            w.WriteNumber("prompt_tokens", residual.PromptTokens);
            w.WriteDecimal("receipts_actual", residual.ReceiptsActual);
            w.WriteNumber("token_receipts", residual.TokenReceipts);
            w.WriteDecimal("tokens", residual.Tokens);
            w.WriteBoolean("over_claim", residual.OverClaim);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
