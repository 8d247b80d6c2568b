namespace CageNet.Ledger;

/// <summary>
/// A ledger that sums the <c>quality</c> view's figures itself (the SQLite ledger, from its per-task totals), so the view
/// does not read one report group per task. A reader without it is read through <see cref="ILedgerReader.ReportAsync"/>
/// by task and <see cref="ILedgerReader.ReadOutcomesAsync"/>.
/// </summary>
internal interface ITaskQualityCounts
{
    /// <summary>
    /// Over <paramref name="window"/>: the tasks with calls (the groups of a report by task other than
    /// <see cref="SpendReport.NoneKey"/>), their spend, and how many of them carry each known outcome label (the latest
    /// label of each task, as <see cref="ILedgerReader.ReadOutcomesAsync"/> gives it).
    /// </summary>
    /// <param name="window">The window, on the calls' timestamps.</param>
    /// <param name="cancellationToken">Cancels the queries.</param>
    ValueTask<TaskQualityCount> CountTaskQualityAsync(TimeWindow window, CancellationToken cancellationToken = default);
}

/// <summary>The <c>quality</c> view's sums (see <see cref="ITaskQualityCounts"/>).</summary>
/// <param name="Tasks">Tasks with at least one call in the window.</param>
/// <param name="TotalUsd">Their recorded cost.</param>
/// <param name="UnpricedCalls">Their calls without a recorded cost.</param>
/// <param name="MissingUsageCalls">Their calls whose usage never arrived.</param>
/// <param name="UntaskedUsd">The recorded cost of the calls without a task (the report's (none) group).</param>
/// <param name="Ok">Of the tasks, those labelled ok.</param>
/// <param name="Redo">Those labelled redo.</param>
/// <param name="Failed">Those labelled failed.</param>
internal readonly record struct TaskQualityCount(int Tasks, decimal TotalUsd, long UnpricedCalls, long MissingUsageCalls, decimal UntaskedUsd, int Ok, int Redo, int Failed);
