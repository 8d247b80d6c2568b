using System.Globalization;

namespace CageNet.Ledger;

/// <summary>
/// The per-batch side of <c>receipt_totals</c>: the receipts a batch inserted whose pricing basis the writer knows,
/// summed per UTC day, tool, unit, method and basis, merged into the table before the batch commits.
/// </summary>
internal sealed class ReceiptTotals
{
    /// <summary>Prompts up to this many tokens share one bucket: no long-context tier starts below it.</summary>
    public const long TierFloorTokens = 32_000;

    private readonly Dictionary<Key, Sums> _sums = [];

    public IEnumerable<KeyValuePair<Key, Sums>> Groups => _sums;

    /// <summary>The prompt bucket of a call: ceil(prompt / 1000) above <see cref="TierFloorTokens"/>, else 0.</summary>
    public static long PromptK(long promptTokens) => promptTokens > TierFloorTokens ? (promptTokens + 999) / 1000 : 0;

    /// <summary>A prompt size priced at the same tier as every prompt of bucket <paramref name="promptK"/> (for thresholds that are whole thousands of tokens, at or above the floor).</summary>
    public static long RepresentativePrompt(long promptK) => promptK * 1000;

    public void Add(SavingsReceipt receipt, CallKey? call)
    {
        var day = CallTotals.DayOf(receipt.Timestamp.ToUnixTimeMilliseconds());
        var key = call is { } c
            ? new Key(day, receipt.Tool, receipt.Unit.ToWire(), receipt.Method.ToWire(), 0, c.Provider, c.Model, c.PromptK, c.Route, "")
            : new Key(day, receipt.Tool, receipt.Unit.ToWire(), receipt.Method.ToWire(), 1, "", "", 0, "", receipt.Task ?? "");
        if (!_sums.TryGetValue(key, out var sums))
        {
            sums = new Sums();
            _sums.Add(key, sums);
        }

        sums.Receipts++;
        sums.Raw += receipt.RawAlternative;
        sums.Actual += receipt.Actual;
        sums.ToolCost += receipt.ToolCostUsd ?? 0m;
        sums.AddedMs += receipt.AddedLatencyMs ?? 0;
        if (ReceiptTotal.IsEliminatedCall(receipt))
        {
            sums.Eliminated++;
        }

        sums.MinConfidence = Math.Min(sums.MinConfidence, receipt.Confidence);
    }

    public void Clear() => _sums.Clear();

    internal static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    internal static decimal Parse(string text) => decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>The pricing basis of a call as the writer keeps it.</summary>
    internal readonly record struct CallKey(string Provider, string Model, string Route, long PromptK)
    {
        public static CallKey Of(CallRecord call) => new(call.Provider ?? "", call.Model ?? "", call.Route ?? "", ReceiptTotals.PromptK(call.Usage.PromptTokens));
    }

    internal readonly record struct Key(long Day, string Tool, string Unit, string Method, int Basis, string Provider, string Model, long PromptK, string Route, string Task);

    internal sealed class Sums
    {
        public long Receipts;
        public decimal Raw;
        public decimal Actual;
        public decimal ToolCost;
        public double AddedMs;
        public long Eliminated;
        public double MinConfidence = 1.0;
    }
}
