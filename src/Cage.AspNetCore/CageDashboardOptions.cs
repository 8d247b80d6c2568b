namespace CageNet.AspNetCore;

/// <summary>Settings of the dashboard that <see cref="CageDashboardEndpointRouteBuilderExtensions.MapCageDashboard"/> maps.</summary>
public sealed class CageDashboardOptions
{
    /// <summary>The name shown in the page's title bar (a host's product name, for example). Default <c>Cage</c>.</summary>
    public string Title { get; set; } = "Cage";

    /// <summary>
    /// The monthly budget in USD the forecast compares its projection with (as <c>cage forecast --budget</c>);
    /// <see langword="null"/> (the default) for none.
    /// </summary>
    public decimal? MonthlyBudgetUsd { get; set; }

    /// <summary>
    /// How often the live feed (<c>api/events</c>) looks at the ledger for new calls; a page refreshes what it shows
    /// after each change. Default one second; at least 100 ms.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The budget status as <c>cage budget --json</c> prints it: <c>cage serve</c> rebuilds it from the ledger file;
    /// a host's own <see cref="Budgets.BudgetGuard"/> is used when this is <see langword="null"/>.
    /// </summary>
    internal Func<CancellationToken, ValueTask<string>>? BudgetJson { get; set; }
}
