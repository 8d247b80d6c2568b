namespace CageNet.Ledger;

/// <summary>
/// Copies one ledger into another (SQLite → PostgreSQL and back, <c>cage migrate</c>): every call, then every receipt, in
/// time order and in batches, then the outcome labels. Appends are idempotent, so copying again — or resuming a copy that
/// stopped — adds nothing twice.
/// </summary>
internal static class LedgerCopy
{
    /// <summary>Records per batch: large enough for the PostgreSQL ledger's COPY to pay off, small enough to bound memory.</summary>
    public const int BatchSize = 10_000;

    /// <summary>Copies everything in <paramref name="source"/> into <paramref name="target"/>; returns what the target added and skipped.</summary>
    public static async Task<(AppendResult Appended, int Outcomes)> CopyAsync(ILedgerReader source, ILedgerStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var result = default(AppendResult);
        var calls = new List<CallRecord>(BatchSize);
        await foreach (var call in source.ReadCallsAsync(TimeWindow.All, cancellationToken).ConfigureAwait(false))
        {
            calls.Add(call);
            if (calls.Count == BatchSize)
            {
                result += await target.AppendAsync(new LedgerBatch(calls, []), cancellationToken).ConfigureAwait(false);
                calls = new List<CallRecord>(BatchSize);
            }
        }

        result += await target.AppendAsync(new LedgerBatch(calls, []), cancellationToken).ConfigureAwait(false);
        var receipts = new List<SavingsReceipt>(BatchSize);
        await foreach (var receipt in source.ReadReceiptsAsync(TimeWindow.All, cancellationToken).ConfigureAwait(false))
        {
            receipts.Add(receipt);
            if (receipts.Count == BatchSize)
            {
                result += await target.AppendAsync(new LedgerBatch([], receipts), cancellationToken).ConfigureAwait(false);
                receipts = new List<SavingsReceipt>(BatchSize);
            }
        }

        result += await target.AppendAsync(new LedgerBatch([], receipts), cancellationToken).ConfigureAwait(false);
        var outcomes = await source.ReadOutcomesAsync(cancellationToken).ConfigureAwait(false);
        foreach (var outcome in outcomes)
        {
            await target.RecordOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
        }

        return (result, outcomes.Count);
    }
}
