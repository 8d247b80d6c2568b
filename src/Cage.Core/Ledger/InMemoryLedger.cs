using System.Globalization;
using System.Runtime.CompilerServices;

namespace CageNet.Ledger;

/// <summary>
/// A ledger held in memory: for unit tests ("this path costs ≤ $X") and short-lived tools. Same semantics as
/// the SQLite ledger — idempotent by id and request id, the same report rules — but nothing survives the process.
/// Thread-safe.
/// </summary>
public sealed class InMemoryLedger : ILedgerStore
{
    private readonly object _gate = new();
    private readonly List<CallRecord> _calls = [];
    private readonly List<SavingsReceipt> _receipts = [];
    private readonly HashSet<string> _callIds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _requestIds = new(StringComparer.Ordinal);
    private readonly HashSet<string> _receiptIds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskOutcomeRecord> _outcomes = new(StringComparer.Ordinal);

    /// <summary>A snapshot of the stored calls, in the order they were stored.</summary>
    public IReadOnlyList<CallRecord> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>A snapshot of the stored receipts, in the order they were stored.</summary>
    public IReadOnlyList<SavingsReceipt> Receipts
    {
        get
        {
            lock (_gate)
            {
                return [.. _receipts];
            }
        }
    }

    /// <summary>
    /// Totals over every stored call, with the same rules as <see cref="ReportAsync"/>'s <see cref="SpendReport.Total"/>
    /// (and the SQLite ledger's): the priced sum, the unpriced and missing-usage counts, and whether the sum is a lower bound.
    /// </summary>
    public SpendTotals Totals
    {
        get
        {
            lock (_gate)
            {
                return Sum(_calls);
            }
        }
    }

    /// <summary>
    /// Σ cost of the stored calls whose cost is known, in dollars (<see cref="SpendTotals.CostUsd"/> of <see cref="Totals"/>).
    /// Unpriced calls add nothing: check <see cref="UnpricedCalls"/> or <see cref="IsLowerBound"/> before trusting it as the
    /// whole spend — an unknown cost is never a silent $0.
    /// </summary>
    public decimal TotalCostUsd => Totals.CostUsd;

    /// <summary>How many stored calls have no price (<c>cost_source=unpriced</c>).</summary>
    public long UnpricedCalls => Totals.UnpricedCalls;

    /// <summary>
    /// Whether <see cref="TotalCostUsd"/> is only a lower bound: some stored call is unpriced or its usage never arrived.
    /// </summary>
    public bool IsLowerBound => Totals.IsLowerBound;

    /// <inheritdoc />
    public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        Append(batch);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<AppendResult> AppendAsync(LedgerBatch batch, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Append(batch));

    private AppendResult Append(LedgerBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int ca = 0, cs = 0, ra = 0, rs = 0;
        lock (_gate)
        {
            foreach (var call in batch.Calls)
            {
                if (_callIds.Contains(call.Id) || (call.RequestId is { } rid && _requestIds.Contains(rid)))
                {
                    cs++;
                    continue;
                }

                _callIds.Add(call.Id);
                if (call.RequestId is { } r)
                {
                    _requestIds.Add(r);
                }

                _calls.Add(call);
                ca++;
            }

            foreach (var receipt in batch.Receipts)
            {
                if (!_receiptIds.Add(receipt.Id))
                {
                    rs++;
                    continue;
                }

                _receipts.Add(receipt);
                ra++;
            }
        }

        return new AppendResult(ca, cs, ra, rs);
    }

    /// <inheritdoc />
    public ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        List<CallRecord> calls;
        lock (_gate)
        {
            calls = _calls.Where(c => query.Window.Contains(c.Timestamp)).ToList();
        }

        var groups = calls
            .GroupBy(c => KeyOf(c, query.Dimension) ?? SpendReport.NoneKey, StringComparer.Ordinal)
            .Select(g => new SpendGroup(g.Key, Sum(g)))
            .OrderByDescending(g => g.Totals.CostUsd)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        return ValueTask.FromResult(new SpendReport(query.Dimension, query.Window, groups, Sum(calls)));
    }

    internal static string? KeyOf(CallRecord call, ReportDimension dimension) => dimension switch
    {
        ReportDimension.Route => call.Route,
        ReportDimension.Model => call.Model,
        ReportDimension.Provider => call.Provider,
        ReportDimension.Day => call.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ReportDimension.Agent => call.Agent,
        ReportDimension.Task => call.Task,
        ReportDimension.Session => call.Session,
        ReportDimension.Category => call.Category,
        ReportDimension.User => call.User,
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "unknown report dimension"),
    } is { Length: > 0 } key ? key : null;

    internal static SpendTotals Sum(IEnumerable<CallRecord> calls)
    {
        var totals = new SpendTotalsBuilder();
        foreach (var c in calls)
        {
            totals.Add(c);
        }

        return totals.Build();
    }

    /// <inheritdoc />
    public ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_calls.FirstOrDefault(c => c.Id == callId));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<SavingsReceipt>>(_receipts.Where(r => r.CallId == callId).OrderBy(r => r.Timestamp).ToList());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<CallRecord>>(_calls.Where(c => c.Task == task).OrderBy(c => c.Timestamp).ToList());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var callIds = _calls.Where(c => c.Task == task).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            return ValueTask.FromResult<IReadOnlyList<SavingsReceipt>>(
                _receipts.Where(r => r.Task == task || (r.CallId is { } id && callIds.Contains(id))).OrderBy(r => r.Timestamp).ToList());
        }
    }

    /// <inheritdoc />
    public ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_calls.Where(c => c.Task is not null).OrderBy(c => c.Timestamp).LastOrDefault()?.Task);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        List<CallRecord> snapshot;
        lock (_gate)
        {
            snapshot = _calls.Where(c => window.Contains(c.Timestamp)).OrderBy(c => c.Timestamp).ToList();
        }

        foreach (var call in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return call;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        List<SavingsReceipt> snapshot;
        lock (_gate)
        {
            snapshot = _receipts.Where(r => window.Contains(r.Timestamp)).OrderBy(r => r.Timestamp).ToList();
        }

        foreach (var receipt in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return receipt;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        List<ReceiptWithCall> snapshot;
        lock (_gate)
        {
            var calls = new Dictionary<string, CallRecord>(StringComparer.Ordinal);
            foreach (var call in _calls)
            {
                calls[call.Id] = call;
            }

            snapshot = _receipts.Where(r => window.Contains(r.Timestamp)).OrderBy(r => r.Timestamp)
                .Select(r => new ReceiptWithCall(r, r.CallId is { Length: > 0 } id && calls.TryGetValue(id, out var call) ? CallBasis.Of(call) : null))
                .ToList();
        }

        foreach (var item in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Small ledgers: one group per receipt is exact and simple.
        await foreach (var item in ReadReceiptsWithCallsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            yield return ReceiptTotal.Of(item.Receipt, item.Call);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<TaskOutcomeRecord>>(_outcomes.Values.OrderBy(o => o.Task, StringComparer.Ordinal).ToList());
        }
    }

    /// <inheritdoc />
    public ValueTask RecordOutcomeAsync(TaskOutcomeRecord outcome, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentException.ThrowIfNullOrWhiteSpace(outcome.Task, nameof(outcome));
        lock (_gate)
        {
            _outcomes[outcome.Task] = outcome;
        }

        return ValueTask.CompletedTask;
    }
}
