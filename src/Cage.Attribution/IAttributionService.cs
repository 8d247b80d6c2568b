using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>
/// The attribution views over the configured ledger (SPEC 6), for host apps to query in-process: per-tool attribution,
/// the counterfactual matrix, the Shapley audit, ROI, recommendations, cost per successful task, cost regression and
/// the month-end forecast. Every view is a pure function of the ledger, the price catalog, the policy's tool order, the
/// arguments and the clock. Register it with <c>services.AddCage(…).AddAttribution()</c>.
/// </summary>
public interface IAttributionService
{
    /// <summary>Per-tool marginal attribution of one task's savings, with each call's residual.</summary>
    /// <param name="task">The task; <see langword="null"/> for the task of the latest call.</param>
    /// <param name="shapley">Also compute the Shapley audit over the matrix tools.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The attribution (with no rows when the task has no receipts), or <see langword="null"/> when <paramref name="task"/> is <see langword="null"/> and the ledger has no task.</returns>
    /// <exception cref="AttributionException"><paramref name="shapley"/> with more than 16 tools with token receipts.</exception>
    ValueTask<TaskAttribution?> AttributeAsync(string? task = null, bool shapley = false, CancellationToken cancellationToken = default);

    /// <summary>The counterfactual matrix of one task: all 2ⁿ on/off rows of its tools with token receipts.</summary>
    /// <param name="task">The task; <see langword="null"/> for the task of the latest call.</param>
    /// <param name="tools">A subset of the tools (at most 16); <see langword="null"/> or empty for all of them.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The matrix (a single all-on row when no tool has token receipts), or <see langword="null"/> when <paramref name="task"/> is <see langword="null"/> and the ledger has no task.</returns>
    /// <exception cref="AttributionException">More than 16 tools, or a named tool without token receipts in the task.</exception>
    ValueTask<CounterfactualMatrix?> MatrixAsync(string? task = null, IReadOnlyCollection<string>? tools = null, CancellationToken cancellationToken = default);

    /// <summary>Each tool's savings, own cost and net over a window.</summary>
    /// <param name="window">The window on the receipts' timestamps; <see langword="null"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<RoiReport> RoiAsync(TimeWindow? window = null, CancellationToken cancellationToken = default);

    /// <summary>Per route, the tool combination with the lowest quality-adjusted cost, with each tool's verdict and evidence.</summary>
    /// <param name="route">One route; <see langword="null"/> for every route.</param>
    /// <param name="window">The window; <see langword="null"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<RecommendationReport> RecommendAsync(string? route = null, TimeWindow? window = null, CancellationToken cancellationToken = default);

    /// <summary>Cost per successful task over a window.</summary>
    /// <param name="window">The window on the calls' timestamps; <see langword="null"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<QualityReport> QualityAsync(TimeWindow? window = null, CancellationToken cancellationToken = default);

    /// <summary>Cost per call and per task, recent window vs baseline, with the likely causes of a rise.</summary>
    /// <param name="query">What to compare; <see langword="null"/> for the defaults (7 days vs the 28 before, 20%).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<RegressionReport> RegressionAsync(RegressionQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>The month-end projection from the recent run-rate, against a monthly budget.</summary>
    /// <param name="query">What to project; <see langword="null"/> for the defaults (7-day run-rate, UTC, no budget).</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<SpendForecast> ForecastAsync(ForecastQuery? query = null, CancellationToken cancellationToken = default);
}
