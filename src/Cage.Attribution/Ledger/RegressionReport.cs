using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>What <c>cage regression</c> compares.</summary>
public sealed record RegressionQuery
{
    /// <summary>The recent window: the last this long. Default 7 days.</summary>
    public TimeSpan Recent { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The baseline: this long before the recent window. Default 28 days.</summary>
    public TimeSpan Baseline { get; init; } = TimeSpan.FromDays(28);

    /// <summary>The relative rise of cost per call or per task that counts as a regression. Default 0.2 (20%).</summary>
    public decimal Tolerance { get; init; } = 0.2m;

    /// <summary>Group by route or by model; <see langword="null"/> compares the whole ledger.</summary>
    public ReportDimension? By { get; init; }
}

/// <summary>Cost drift, recent window vs baseline (<c>cage regression</c>, SPEC 6).</summary>
/// <param name="Query">What was compared.</param>
/// <param name="RecentSince">The start of the recent window (its end is now).</param>
/// <param name="BaselineSince">The start of the baseline (its end is <paramref name="RecentSince"/>).</param>
/// <param name="Groups">One entry per group with calls on either side, regressed first, then by drift.</param>
public sealed record RegressionReport(RegressionQuery Query, DateTimeOffset RecentSince, DateTimeOffset BaselineSince, IReadOnlyList<RegressionGroup> Groups);

/// <summary>The drift of one group.</summary>
public sealed record RegressionGroup
{
    /// <summary>The route or model; <c>all</c> when not grouped.</summary>
    public required string Key { get; init; }

    /// <summary>Calls in the recent window.</summary>
    public long RecentCalls { get; init; }

    /// <summary>Calls in the baseline.</summary>
    public long BaselineCalls { get; init; }

    /// <summary>Recent cost per call; <see langword="null"/> without priced calls.</summary>
    public decimal? RecentPerCallUsd { get; init; }

    /// <summary>Baseline cost per call; <see langword="null"/> without priced calls.</summary>
    public decimal? BaselinePerCallUsd { get; init; }

    /// <summary>Recent / baseline − 1 of cost per call; <see langword="null"/> when either side is missing.</summary>
    public decimal? PerCallDrift { get; init; }

    /// <summary>Distinct tasks in the recent window.</summary>
    public long RecentTasks { get; init; }

    /// <summary>Distinct tasks in the baseline.</summary>
    public long BaselineTasks { get; init; }

    /// <summary>Recent cost per task; <see langword="null"/> without tasks.</summary>
    public decimal? RecentPerTaskUsd { get; init; }

    /// <summary>Baseline cost per task; <see langword="null"/> without tasks.</summary>
    public decimal? BaselinePerTaskUsd { get; init; }

    /// <summary>Recent / baseline − 1 of cost per task; <see langword="null"/> when either side is missing.</summary>
    public decimal? PerTaskDrift { get; init; }

    /// <summary><see langword="true"/> when a drift exceeds the tolerance.</summary>
    public bool Regressed { get; init; }

    /// <summary><see langword="false"/> when one side has no calls: nothing to compare yet.</summary>
    public bool Comparable { get; init; }

    /// <summary>The likely causes, most telling first (model change, cache hit rate down, more tokens per call).</summary>
    public required IReadOnlyList<string> Causes { get; init; }
}
