using System.Text.Json.Serialization;

namespace CageNet.Ledger;

/// <summary>The dimension a spend report groups by.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<ReportDimension>))]
public enum ReportDimension
{
    /// <summary>The feature or intent.</summary>
    Route,
    /// <summary>The serving model.</summary>
    Model,
    /// <summary>The serving provider.</summary>
    Provider,
    /// <summary>The UTC calendar day, <c>YYYY-MM-DD</c>.</summary>
    Day,
    /// <summary>The agent.</summary>
    Agent,
    /// <summary>The task.</summary>
    Task,
    /// <summary>The session.</summary>
    Session,
    /// <summary>The call-site category.</summary>
    Category,
    /// <summary>The end user or tenant.</summary>
    User,
}

/// <summary>What to report.</summary>
/// <param name="Dimension">The grouping dimension.</param>
/// <param name="Window">The time window.</param>
public sealed record ReportQuery(ReportDimension Dimension, TimeWindow Window)
{
    /// <summary>Every call grouped by route.</summary>
    public static ReportQuery Default { get; } = new(ReportDimension.Route, TimeWindow.All);
}

/// <summary>Totals of a set of calls.</summary>
public sealed record SpendTotals
{
    /// <summary>Number of calls.</summary>
    public long Calls { get; init; }
    /// <summary>Σ uncached input tokens.</summary>
    public long Input { get; init; }
    /// <summary>Σ cache-read tokens.</summary>
    public long CacheRead { get; init; }
    /// <summary>Σ 5-minute cache-write tokens.</summary>
    public long CacheWrite5m { get; init; }
    /// <summary>Σ 1-hour cache-write tokens.</summary>
    public long CacheWrite1h { get; init; }
    /// <summary>Σ output tokens (reasoning included).</summary>
    public long Output { get; init; }
    /// <summary>Σ reasoning tokens (a part of <see cref="Output"/>).</summary>
    public long Reasoning { get; init; }
    /// <summary>
    /// Σ cost of the calls whose cost is known, in dollars (the priced sum). Unpriced calls add nothing here and are
    /// counted in <see cref="UnpricedCalls"/>; when <see cref="IsLowerBound"/> is <see langword="true"/> the real
    /// spend is at least this much.
    /// </summary>
    public decimal CostUsd { get; init; }
    /// <summary>Calls whose model had no price (<c>cost_source=unpriced</c>: cost unknown, not $0).</summary>
    public long UnpricedCalls { get; init; }
    /// <summary>Calls whose usage never arrived (<c>usage_status=missing</c>): their cost is unknown or partial.</summary>
    public long MissingUsageCalls { get; init; }
    /// <summary>
    /// Whether <see cref="CostUsd"/> is only a lower bound: some call in the sum is unpriced or its usage never
    /// arrived (<see cref="UnpricedCalls"/> or <see cref="MissingUsageCalls"/> is above 0).
    /// </summary>
    public bool IsLowerBound => UnpricedCalls > 0 || MissingUsageCalls > 0;
    /// <summary>Calls served by a local model (free by policy).</summary>
    public long LocalCalls { get; init; }
    /// <summary>Compatibility view: input + cache reads + cache writes.</summary>
    public long TokensIn => Input + CacheRead + CacheWrite5m + CacheWrite1h;
    /// <summary>Compatibility view: output.</summary>
    public long TokensOut => Output;
    /// <summary>Compatibility view: cache reads.</summary>
    public long CachedIn => CacheRead;

    /// <summary>The totals of two disjoint sets of calls together.</summary>
    internal static SpendTotals Sum(SpendTotals a, SpendTotals b) => new()
    {
        Calls = a.Calls + b.Calls,
        Input = a.Input + b.Input,
        CacheRead = a.CacheRead + b.CacheRead,
        CacheWrite5m = a.CacheWrite5m + b.CacheWrite5m,
        CacheWrite1h = a.CacheWrite1h + b.CacheWrite1h,
        Output = a.Output + b.Output,
        Reasoning = a.Reasoning + b.Reasoning,
        CostUsd = a.CostUsd + b.CostUsd,
        UnpricedCalls = a.UnpricedCalls + b.UnpricedCalls,
        MissingUsageCalls = a.MissingUsageCalls + b.MissingUsageCalls,
        LocalCalls = a.LocalCalls + b.LocalCalls,
    };
}

/// <summary>One group of a spend report.</summary>
/// <param name="Key">The group key; <c>(none)</c> when the calls have no value for the dimension.</param>
/// <param name="Totals">The group's totals.</param>
public sealed record SpendGroup(string Key, SpendTotals Totals);

/// <summary>A spend report: groups sorted by cost descending, then key.</summary>
/// <param name="Dimension">The grouping dimension.</param>
/// <param name="Window">The window that was applied.</param>
/// <param name="Groups">The groups, most expensive first.</param>
/// <param name="Total">Totals over all groups.</param>
public sealed record SpendReport(ReportDimension Dimension, TimeWindow Window, IReadOnlyList<SpendGroup> Groups, SpendTotals Total)
{
    /// <summary>The key used for calls with no value for the dimension.</summary>
    public const string NoneKey = "(none)";

    /// <summary>
    /// Separates the two keys of a group in a report by two dimensions
    /// (<see cref="ILedgerReader.ReportPairsAsync"/>): the unit separator, U+001F.
    /// </summary>
    public const char PairSeparator = '\u001f';
}
