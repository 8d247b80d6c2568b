using System.Globalization;
using CageNet.Pricing;

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

    public int Count => _sums.Count;

    // Every long-context threshold of the built-in price map, ascending: the buckets of a model the map does not know
    // (a custom map's model, an unpriced one), so a custom tier at a common threshold is still found.
    private static readonly long[] AnyThresholds = PriceCatalogThresholds().SelectMany(t => t.Value).Distinct().Order().ToArray();

    // Per provider/model: the thresholds its bucket is chosen among (empty for a model the map knows without tiers).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Provider, string Model), long[]> Thresholds = new();

    /// <summary>
    /// The prompt bucket of a call, which must tell apart exactly the prompts its model prices differently: 0 up to
    /// <see cref="TierFloorTokens"/> and up to the model's first long-context threshold, else the highest threshold
    /// the prompt exceeds, as whole thousands plus one (a prompt above 200,000 tokens is bucket 201). A model without
    /// tiers keeps one bucket whatever its prompts, so <c>receipt_totals</c> has a row per tier, not per 1k tokens.
    /// </summary>
    /// <remarks>
    /// Thresholds come from the built-in price map, and from all of its thresholds for a model it does not know; a
    /// tier a custom map adds at another threshold is priced at the bucket's representative prompt. Rows written by
    /// earlier versions (one per 1k tokens) stay valid: every bucket's representative prompt is priced at its tier.
    /// </remarks>
    public static long PromptK(string provider, string model, long promptTokens)
    {
        if (promptTokens <= TierFloorTokens)
        {
            return 0;
        }

        var thresholds = Thresholds.GetOrAdd((provider, model), static key =>
            PriceCatalog.BuiltIn.TryResolve(key.Provider, key.Model, out _, out var price)
                ? [.. price.Tiers.Select(t => t.AboveTokens).Concat(price.ServiceTiers.Values.SelectMany(v => v.Tiers.Select(t => t.AboveTokens))).Distinct().Order()]
                : AnyThresholds);
        for (var i = thresholds.Length - 1; i >= 0; i--)
        {
            if (promptTokens > thresholds[i])
            {
                return (thresholds[i] / 1000) + 1;
            }
        }

        return 0;
    }

    /// <summary>A prompt size priced at the same tier as every prompt of bucket <paramref name="promptK"/>: above the bucket's threshold and below the next.</summary>
    public static long RepresentativePrompt(long promptK) => promptK * 1000;

    private static IEnumerable<KeyValuePair<string, long[]>> PriceCatalogThresholds()
    {
        foreach (var key in PriceCatalog.BuiltIn.Keys)
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && PriceCatalog.BuiltIn.TryResolve(key[..slash], key[(slash + 1)..], out _, out var price))
            {
                yield return new(key, [.. price.Tiers.Select(t => t.AboveTokens).Concat(price.ServiceTiers.Values.SelectMany(v => v.Tiers.Select(t => t.AboveTokens)))]);
            }
        }
    }

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

    /// <summary>The first day (a UTC day number) of the UTC month holding day <paramref name="day"/>: the key of its <c>receipt_totals_month</c> rows.</summary>
    public static long MonthOf(long day)
    {
        var date = DateOnly.FromDayNumber(checked((int)(day + UnixEpochDayNumber)));
        return new DateOnly(date.Year, date.Month, 1).DayNumber - UnixEpochDayNumber;
    }

    /// <summary>The first day of the month after the one holding day <paramref name="day"/>.</summary>
    public static long NextMonth(long day)
    {
        var date = DateOnly.FromDayNumber(checked((int)(day + UnixEpochDayNumber)));
        return new DateOnly(date.Year, date.Month, 1).AddMonths(1).DayNumber - UnixEpochDayNumber;
    }

    private static readonly int UnixEpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>The batch's groups summed per UTC month (<see cref="Key.Day"/> the month's first day): the batch's rows of <c>receipt_totals_month</c>.</summary>
    public Dictionary<Key, Sums> MonthGroups() => ByMonth(_sums);

    /// <summary>Groups keyed by day, summed per UTC month (exact decimal addition).</summary>
    public static Dictionary<Key, Sums> ByMonth(IEnumerable<KeyValuePair<Key, Sums>> days)
    {
        var months = new Dictionary<Key, Sums>();
        foreach (var (key, sums) in days)
        {
            var month = key with { Day = MonthOf(key.Day) };
            if (!months.TryGetValue(month, out var into))
            {
                into = new Sums();
                months.Add(month, into);
            }

            into.Add(sums);
        }

        return months;
    }

    internal static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    internal static decimal Parse(string text) => decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>The pricing basis of a call as the writer keeps it.</summary>
    internal readonly record struct CallKey(string Provider, string Model, string Route, long PromptK)
    {
        public static CallKey Of(CallRecord call) => new(call.Provider ?? "", call.Model ?? "", call.Route ?? "", ReceiptTotals.PromptK(call.Provider ?? "", call.Model ?? "", call.Usage.PromptTokens));
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

        /// <summary>Adds another group's sums to these.</summary>
        public void Add(Sums other)
        {
            Receipts += other.Receipts;
            Raw += other.Raw;
            Actual += other.Actual;
            ToolCost += other.ToolCost;
            AddedMs += other.AddedMs;
            Eliminated += other.Eliminated;
            MinConfidence = Math.Min(MinConfidence, other.MinConfidence);
        }
    }
}
