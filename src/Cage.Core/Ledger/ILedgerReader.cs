namespace CageNet.Ledger;

/// <summary>Read access to a ledger: spend reports and the records behind them.</summary>
public interface ILedgerReader
{
    /// <summary>Spend grouped by one dimension over a time window (SPEC 6, <c>report</c>).</summary>
    /// <param name="query">The dimension and window.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Spend grouped by two dimensions (<c>cage report --by route,task</c>): each group's key is the key of
    /// <see cref="ReportQuery.Dimension"/>, <see cref="SpendReport.PairSeparator"/>, then the key of
    /// <paramref name="then"/> (either part <see cref="SpendReport.NoneKey"/> when the calls have no value); the
    /// report's <see cref="SpendReport.Dimension"/> is the first dimension. The default implementation reads the
    /// window's calls once; a store may answer from maintained totals (the SQLite ledger does for route × task).
    /// </summary>
    /// <param name="query">The first dimension and the window.</param>
    /// <param name="then">The second dimension.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<SpendReport> ReportPairsAsync(ReportQuery query, ReportDimension then, CancellationToken cancellationToken = default) =>
        PairReports.FromCallsAsync(this, query, then, cancellationToken);

    /// <summary>One call by id, or <see langword="null"/>.</summary>
    /// <param name="callId">The call id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default);

    /// <summary>The receipts filed against one call, oldest first.</summary>
    /// <param name="callId">The call id.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default);

    /// <summary>The calls of one task, oldest first.</summary>
    /// <param name="task">The task.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default);

    /// <summary>The receipts of one task (by the receipt's task, or by the task of the call it points to), oldest first.</summary>
    /// <param name="task">The task.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default);

    /// <summary>The task of the most recent call, or <see langword="null"/> when the ledger has no task.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default);

    /// <summary>Every call in a window, oldest first, streamed (for export and whole-ledger views).</summary>
    /// <param name="window">The window; <see cref="TimeWindow.All"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, CancellationToken cancellationToken = default);

    /// <summary>Every receipt in a window, oldest first, streamed.</summary>
    /// <param name="window">The window; <see cref="TimeWindow.All"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every receipt in a window, oldest first, each with the basis of the call it points to, streamed in one pass
    /// (for whole-ledger attribution views such as ROI and recommend).
    /// </summary>
    /// <param name="window">The window, on the receipts' timestamps; <see cref="TimeWindow.All"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, CancellationToken cancellationToken = default);

    /// <summary>
    /// The receipts of a window summed per tool, unit, method and pricing basis (see <see cref="ReceiptTotal"/>): what
    /// whole-ledger views read so they do not touch every receipt. A store may return a receipt as a group of its own.
    /// </summary>
    /// <param name="window">The window, on the receipts' timestamps; <see cref="TimeWindow.All"/> for everything.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, CancellationToken cancellationToken = default);

    /// <summary>The latest outcome label of every labelled task, by task name.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default);
}
