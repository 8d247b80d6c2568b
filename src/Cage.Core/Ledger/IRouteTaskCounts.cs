namespace CageNet.Ledger;

/// <summary>
/// A ledger that counts the tasks of each route itself (the SQLite ledger, from its route × task totals), so the
/// <c>recommend</c> view does not read every route × task pair to learn how many tasks ran on a route and how many of
/// them succeeded. A reader without it is read through <see cref="ILedgerReader.ReportPairsAsync"/>.
/// </summary>
internal interface IRouteTaskCounts
{
    /// <summary>
    /// For each of <paramref name="routes"/> (keys of a report by route: <see cref="SpendReport.NoneKey"/> for calls with
    /// no route, which includes a literal <c>(none)</c>), the distinct tasks of its calls in the window — tasks of no
    /// value and a literal <c>(none)</c> left out, as in the pairs of a route × task report — together with the tasks in
    /// <paramref name="alsoTasks"/> under that route; and of those, how many carry a known outcome label and how many are
    /// labelled ok (the latest label of each task, as <see cref="ILedgerReader.ReadOutcomesAsync"/> gives it).
    /// </summary>
    /// <param name="window">The window, on the calls' timestamps.</param>
    /// <param name="routes">The routes to count.</param>
    /// <param name="alsoTasks">More tasks per route (those of the route's receipts), counted once each.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    /// <returns>One count per route asked for.</returns>
    ValueTask<IReadOnlyDictionary<string, RouteTaskCount>> CountRouteTasksAsync(
        TimeWindow window,
        IReadOnlyCollection<string> routes,
        IReadOnlyDictionary<string, HashSet<string>> alsoTasks,
        CancellationToken cancellationToken = default);
}

/// <summary>The tasks of one route (see <see cref="IRouteTaskCounts"/>).</summary>
/// <param name="Tasks">Distinct tasks.</param>
/// <param name="Labelled">Of those, tasks with a known outcome label.</param>
/// <param name="Ok">Of those, tasks labelled ok.</param>
internal readonly record struct RouteTaskCount(int Tasks, int Labelled, int Ok);
