namespace CageNet.Attribution;

/// <summary>What <c>cage forecast</c> projects.</summary>
public sealed record ForecastQuery
{
    /// <summary>The run-rate window: the last this long (shorter when the ledger is younger). Default 7 days.</summary>
    public TimeSpan RunRateWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>The monthly budget to compare with; <see langword="null"/> for a projection only.</summary>
    public decimal? MonthlyBudgetUsd { get; init; }

    /// <summary>The time zone whose calendar month is projected. Default UTC.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;
}

/// <summary>Month-end spend projection from the recent run-rate (<c>cage forecast</c>, SPEC 6).</summary>
public sealed record SpendForecast
{
    /// <summary>The first instant of the month being projected.</summary>
    public DateTimeOffset MonthStart { get; init; }

    /// <summary>The first instant of the next month.</summary>
    public DateTimeOffset MonthEnd { get; init; }

    /// <summary>Spend so far this month.</summary>
    public decimal MonthToDateUsd { get; init; }

    /// <summary>The days the run-rate is measured over (at least 1).</summary>
    public decimal RunRateDays { get; init; }

    /// <summary>Spend over the run-rate window.</summary>
    public decimal RunRateSpendUsd { get; init; }

    /// <summary><see cref="RunRateSpendUsd"/> / <see cref="RunRateDays"/>.</summary>
    public decimal PerDayUsd { get; init; }

    /// <summary>The days left until <see cref="MonthEnd"/>.</summary>
    public decimal DaysLeft { get; init; }

    /// <summary><see cref="MonthToDateUsd"/> + <see cref="PerDayUsd"/> × <see cref="DaysLeft"/>.</summary>
    public decimal ProjectedMonthUsd { get; init; }

    /// <summary>The monthly budget compared with, if any.</summary>
    public decimal? MonthlyBudgetUsd { get; init; }

    /// <summary><see langword="true"/> when the projection exceeds the budget.</summary>
    public bool BlowsBudget => MonthlyBudgetUsd is { } budget && ProjectedMonthUsd > budget;

    /// <summary>The day (in the forecast's time zone) the budget is crossed at this run-rate; only when it is.</summary>
    public DateOnly? BlowsOn { get; init; }

    /// <summary>Calls in the run-rate window whose model has no price (<c>cost_source=unpriced</c>: not projected, never $0).</summary>
    public long UnpricedCalls { get; init; }

    /// <summary>
    /// Whether the dollar figures are only lower bounds: some call this month or in the run-rate window is unpriced or its
    /// usage never arrived.
    /// </summary>
    public bool IsLowerBound { get; init; }
}
