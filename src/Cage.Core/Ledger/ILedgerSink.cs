namespace CageNet.Ledger;

/// <summary>
/// Where metered records go. One method, called by Cage's pipeline from a single background thread with
/// batches of records; the pipeline (not the sink) owns buffering, batching, retries and fault counting,
/// so a slow or throwing sink never reaches or blocks the code that made the LLM call.
/// </summary>
/// <remarks>
/// A batch is acknowledged when <see cref="WriteAsync"/> completes: a durable sink must have committed
/// it by then. Sinks must be idempotent by record id (and by call <see cref="CallRecord.RequestId"/>):
/// the pipeline may hand the same batch again after a fault. The batch's lists belong to the pipeline and are
/// reused once <see cref="WriteAsync"/> completes: a sink that keeps records copies them (the records themselves
/// are immutable and may be kept).
/// </remarks>
public interface ILedgerSink
{
    /// <summary>Writes one batch; completes once the batch is durable (or throws).</summary>
    /// <param name="batch">The records, in the order they were metered.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default);
}

/// <summary>A batch of call records and receipts handed to an <see cref="ILedgerSink"/>.</summary>
/// <param name="Calls">Call records.</param>
/// <param name="Receipts">Savings receipts.</param>
public sealed record LedgerBatch(IReadOnlyList<CallRecord> Calls, IReadOnlyList<SavingsReceipt> Receipts)
{
    /// <summary>A batch with nothing in it.</summary>
    public static LedgerBatch Empty { get; } = new([], []);

    /// <summary>Number of records in the batch.</summary>
    public int Count => Calls.Count + Receipts.Count;
}

/// <summary>What an append of records did.</summary>
/// <param name="CallsAdded">New call records stored.</param>
/// <param name="CallsSkipped">Call records already present (same id or same provider request id) and left untouched.</param>
/// <param name="ReceiptsAdded">New receipts stored.</param>
/// <param name="ReceiptsSkipped">Receipts already present and left untouched.</param>
public readonly record struct AppendResult(int CallsAdded, int CallsSkipped, int ReceiptsAdded, int ReceiptsSkipped)
{
    /// <summary>Adds two results.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    public static AppendResult operator +(AppendResult left, AppendResult right) =>
        new(left.CallsAdded + right.CallsAdded, left.CallsSkipped + right.CallsSkipped,
            left.ReceiptsAdded + right.ReceiptsAdded, left.ReceiptsSkipped + right.ReceiptsSkipped);

    /// <summary>Adds two results.</summary>
    /// <param name="other">The other result.</param>
    public AppendResult Add(AppendResult other) => this + other;
}

/// <summary>A ledger that can store batches directly (imports, demos) and report what it kept.</summary>
public interface ILedgerStore : ILedgerSink, ILedgerReader
{
    /// <summary>Stores records in one transaction, skipping duplicates by id and by call request id.</summary>
    /// <param name="batch">The records.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were added and how many were already there.</returns>
    ValueTask<AppendResult> AppendAsync(LedgerBatch batch, CancellationToken cancellationToken = default);

    /// <summary>Records how a task ended; a later label for the same task replaces the earlier one.</summary>
    /// <param name="outcome">The label.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">The task name is empty.</exception>
    ValueTask RecordOutcomeAsync(TaskOutcomeRecord outcome, CancellationToken cancellationToken = default);
}
