using System.Globalization;
using System.Text;
using CageNet.Ledger;

namespace CageNet.Testing;

/// <summary>
/// What a test's meter has recorded at one moment (after a flush): its calls, receipts and budget events, and the
/// sums a test asserts on. Immutable. Totals follow the ledger's rules: <see cref="Spent"/> is the priced sum, and an
/// unpriced call is counted in <see cref="UnpricedCalls"/>, never added as $0.
/// </summary>
public sealed class CageTestSnapshot
{
    internal CageTestSnapshot(IReadOnlyList<CallRecord> calls, IReadOnlyList<SavingsReceipt> receipts, IReadOnlyList<BudgetEvent> budgetEvents)
    {
        Calls = calls;
        Receipts = receipts;
        BudgetEvents = budgetEvents;
        Totals = InMemoryLedger.Sum(calls);
        CallsByModel = Count(calls, c => c.Model);
        CallsByRoute = Count(calls, c => c.Route);
    }

    /// <summary>A snapshot of what a ledger holds now (a meter writing into it should be flushed first).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <returns>The snapshot, with no budget events.</returns>
    public static CageTestSnapshot Of(InMemoryLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        return new CageTestSnapshot(ledger.Calls, ledger.Receipts, []);
    }

    /// <summary>The recorded calls (one per attempt), in the order they were stored.</summary>
    public IReadOnlyList<CallRecord> Calls { get; }

    /// <summary>The recorded savings receipts, in the order they were stored.</summary>
    public IReadOnlyList<SavingsReceipt> Receipts { get; }

    /// <summary>The budget warnings and refusals, in the order they happened.</summary>
    public IReadOnlyList<BudgetEvent> BudgetEvents { get; }

    /// <summary>The totals over <see cref="Calls"/>: calls, tokens per bucket, cost, unpriced and missing-usage counts.</summary>
    public SpendTotals Totals { get; }

    /// <summary>Σ cost of the priced calls, in US dollars (see <see cref="IsLowerBound"/>).</summary>
    public decimal Spent => Totals.CostUsd;

    /// <summary>How many calls were recorded.</summary>
    public int CallCount => Calls.Count;

    /// <summary>How many calls have no price (an unknown model).</summary>
    public long UnpricedCalls => Totals.UnpricedCalls;

    /// <summary>Whether <see cref="Spent"/> is only a lower bound: some call is unpriced or its usage never arrived.</summary>
    public bool IsLowerBound => Totals.IsLowerBound;

    /// <summary>Calls per served model, by model name (ordinal).</summary>
    public IReadOnlyDictionary<string, int> CallsByModel { get; }

    /// <summary>Calls per route, by route (ordinal).</summary>
    public IReadOnlyDictionary<string, int> CallsByRoute { get; }

    /// <summary>The budget refusals among <see cref="BudgetEvents"/>.</summary>
    public IReadOnlyList<BudgetEvent> BudgetRefusals => [.. BudgetEvents.Where(e => e.Kind == BudgetEventKind.Refusal)];

    /// <summary>The budget warnings among <see cref="BudgetEvents"/>.</summary>
    public IReadOnlyList<BudgetEvent> BudgetWarnings => [.. BudgetEvents.Where(e => e.Kind == BudgetEventKind.Warning)];

    /// <summary>The tokens of one bucket over every call.</summary>
    /// <param name="bucket">The bucket; <see cref="TokenBucket.Total"/> for every billed token.</param>
    /// <returns>The sum.</returns>
    public long Tokens(TokenBucket bucket = TokenBucket.Total) => bucket switch
    {
        TokenBucket.Total => Totals.TokensIn + Totals.TokensOut,
        TokenBucket.Input => Totals.Input,
        TokenBucket.CacheRead => Totals.CacheRead,
        TokenBucket.CacheWrite5m => Totals.CacheWrite5m,
        TokenBucket.CacheWrite1h => Totals.CacheWrite1h,
        TokenBucket.Output => Totals.Output,
        TokenBucket.Reasoning => Totals.Reasoning,
        TokenBucket.Prompt => Totals.TokensIn,
        _ => throw new ArgumentOutOfRangeException(nameof(bucket), bucket, "unknown token bucket"),
    };

    /// <summary>The calls served by one model (exact name, as the provider reported it).</summary>
    /// <param name="model">The served model.</param>
    /// <returns>The calls, in order.</returns>
    public IReadOnlyList<CallRecord> CallsTo(string model) => [.. Calls.Where(c => string.Equals(c.Model, model, StringComparison.Ordinal))];

    /// <summary>The calls of one route.</summary>
    /// <param name="route">The route.</param>
    /// <returns>The calls, in order.</returns>
    public IReadOnlyList<CallRecord> CallsOn(string route) => [.. Calls.Where(c => string.Equals(c.Route, route, StringComparison.Ordinal))];

    /// <summary>
    /// The calls as a table a failure message can show, one line each: route, provider/model, input (cache read,
    /// cache write) / output tokens, cost (or <c>unpriced</c>), then the total line.
    /// </summary>
    /// <param name="indent">Put before every line.</param>
    /// <returns>The table, lines separated by <c>\n</c>.</returns>
    public string DescribeCalls(string indent = "  ")
    {
        ArgumentNullException.ThrowIfNull(indent);
        var sb = new StringBuilder();
        if (Calls.Count == 0)
        {
            return indent + "(no calls)";
        }

        var rows = Calls.Select((c, i) => new[]
        {
            (i + 1).ToString(CultureInfo.InvariantCulture),
            c.Route ?? "",
            $"{c.Provider}/{c.Model}",
            TokensOf(c.Usage),
            c.CostUsd is { } cost ? CageTestFormat.Money(cost) : c.UsageStatus == UsageStatus.Missing ? "usage missing" : "unpriced",
        }).ToList();
        string[] header = ["#", "route", "model", "tokens in/out", "cost"];
        var widths = Enumerable.Range(0, header.Length).Select(col => Math.Max(header[col].Length, rows.Max(r => r[col].Length))).ToArray();
        void Line(string[] cells)
        {
            sb.Append(indent);
            for (var col = 0; col < cells.Length; col++)
            {
                var last = col == cells.Length - 1;
                sb.Append(col is 0 or 3 or 4 ? cells[col].PadLeft(widths[col]) : cells[col].PadRight(widths[col]));
                if (!last)
                {
                    sb.Append("  ");
                }
            }

            sb.Append('\n');
        }

        Line(header);
        rows.ForEach(Line);
        sb.Append(indent).Append("total: ").Append(Summary());
        return sb.ToString();
    }

    /// <summary>One line: spend, calls and tokens (<c>$0.0225 over 3 calls, 3,000 in / 1,500 out tokens</c>), noting unpriced calls.</summary>
    /// <returns>The line.</returns>
    public string Summary()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{(IsLowerBound ? "at least " : "")}{CageTestFormat.Money(Spent)} over {Calls.Count} call{(Calls.Count == 1 ? "" : "s")}, {Totals.TokensIn:N0} in / {Totals.TokensOut:N0} out tokens");
        if (UnpricedCalls > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" ({UnpricedCalls} unpriced)");
        }

        if (Totals.MissingUsageCalls > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" ({Totals.MissingUsageCalls} without usage)");
        }

        return text;
    }

    /// <inheritdoc />
    public override string ToString() => Summary();

    private static string TokensOf(in TokenUsage u)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"{u.PromptTokens:N0} / {u.Output:N0}");
        var cache = new List<string>(2);
        if (u.CacheRead > 0)
        {
            cache.Add(string.Create(CultureInfo.InvariantCulture, $"{u.CacheRead:N0} cached"));
        }

        if (u.CacheWrite5m + u.CacheWrite1h > 0)
        {
            cache.Add(string.Create(CultureInfo.InvariantCulture, $"{u.CacheWrite5m + u.CacheWrite1h:N0} cache write"));
        }

        return cache.Count == 0 ? text : $"{text} ({string.Join(", ", cache)})";
    }

    private static Dictionary<string, int> Count(IEnumerable<CallRecord> calls, Func<CallRecord, string?> key)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var call in calls)
        {
            var k = key(call) ?? "";
            counts[k] = counts.GetValueOrDefault(k) + 1;
        }

        return counts;
    }
}

/// <summary>How the kit shows money and changes: 4 decimals, more for tiny non-zero amounts (as the CLI does).</summary>
internal static class CageTestFormat
{
    public static string Money(decimal usd)
    {
        var sign = usd < 0 ? "-" : "";
        var abs = Math.Abs(usd);
        var rounded = Math.Round(abs, 4, MidpointRounding.AwayFromZero);
        if (rounded == 0 && abs != 0)
        {
            for (var d = 5; d <= 6; d++)
            {
                var r = Math.Round(abs, d, MidpointRounding.AwayFromZero);
                if (r != 0)
                {
                    return sign + "$" + r.ToString("0." + new string('0', d), CultureInfo.InvariantCulture);
                }
            }

            return "<$0.000001";
        }

        return sign + "$" + rounded.ToString("#,##0.0000", CultureInfo.InvariantCulture);
    }
}
