using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>
/// One pass over a window's receipts, each priced by the attribution rule and placed on a route: the input of
/// <c>roi</c> and <c>recommend</c>. Call-less receipts (and receipts whose call the ledger lacks) take the task's latest
/// call as their model and route.
/// </summary>
internal sealed class LedgerScan(ILedgerReader ledger, SavingsPricer pricer)
{
    private readonly Dictionary<string, CallBasis?> _taskModels = new(StringComparer.Ordinal);

    /// <summary>The window's receipts as the ledger sums them (per tool, unit, method and basis), each group priced.</summary>
    public async IAsyncEnumerable<ScannedReceipts> ReceiptsAsync(TimeWindow window, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var total in ledger.ReadReceiptTotalsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            var call = total.Call;
            var taskModel = call is null ? await TaskModelAsync(total.Task, cancellationToken).ConfigureAwait(false) : null;
            decimal? usd = null;
            long unpriced = 0;
            switch (total.Unit)
            {
                case SavingsUnit.Usd:
                    usd = total.Saved;
                    break;
                case SavingsUnit.Tokens:
                    if (pricer.TokenRate(call, taskModel, out _) is { } rate)
                    {
                        usd = total.Saved * rate;
                    }
                    else
                    {
                        unpriced = total.Receipts;
                    }

                    break;
            }

            var basis = call ?? taskModel;
            yield return new ScannedReceipts(total, usd, unpriced, basis?.Route, basis?.Task ?? total.Task);
        }
    }

    private async ValueTask<CallBasis?> TaskModelAsync(string? task, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(task))
        {
            return null;
        }

        if (!_taskModels.TryGetValue(task, out var basis))
        {
            var calls = await ledger.CallsForTaskAsync(task, cancellationToken).ConfigureAwait(false);
            CallRecord? latest = null;
            foreach (var c in calls)
            {
                if (latest is null || c.Timestamp >= latest.Timestamp)
                {
                    latest = c;
                }
            }

            basis = latest is null ? null : CallBasis.Of(latest);
            _taskModels[task] = basis;
        }

        return basis;
    }
}

/// <summary>A group of receipts with its priced saving and the route and task it belongs to.</summary>
/// <param name="Total">The group.</param>
/// <param name="Usd">The dollars saved (token savings priced, usd as-is); null when unpriced or not a money unit.</param>
/// <param name="Unpriced">Token receipts of the group that could not be priced.</param>
/// <param name="Route">The route of the calls (or of the task's latest call).</param>
/// <param name="Task">The task, when known.</param>
internal readonly record struct ScannedReceipts(ReceiptTotal Total, decimal? Usd, long Unpriced, string? Route, string? Task);

/// <summary>Sums one tool's receipts for <c>roi</c> and <c>recommend</c>.</summary>
internal sealed class ToolTally(string tool)
{
    private readonly Dictionary<SavingsUnit, decimal> _other = [];
    private decimal _saved;
    private int _priced;

    public string Tool => tool;

    public int Receipts { get; private set; }

    public int Unpriced { get; private set; }

    public decimal OwnCost { get; private set; }

    public double AddedLatencyMs { get; private set; }

    public int Eliminated { get; private set; }

    public SavingsMethod Method { get; private set; } = SavingsMethod.Measured;

    public decimal? SavedUsd => _priced > 0 ? _saved : null;

    public void Add(in ScannedReceipts scanned)
    {
        var total = scanned.Total;
        Receipts += (int)total.Receipts;
        Method = Evidence.Worst(Method, total.Method);
        OwnCost += total.ToolCostUsd;
        AddedLatencyMs += total.AddedLatencyMs;
        Eliminated += (int)total.EliminatedCalls;
        Unpriced += (int)scanned.Unpriced;
        if (scanned.Usd is { } usd)
        {
            _saved += usd;
            _priced++;
        }
        else if (total.Unit is SavingsUnit.Ms or SavingsUnit.Gco2)
        {
            _other[total.Unit] = _other.GetValueOrDefault(total.Unit) + total.Saved;
        }
    }

    public ToolRoi ToRoi() => new()
    {
        Tool = tool,
        Receipts = Receipts,
        SavedUsd = SavedUsd,
        UnpricedReceipts = Unpriced,
        OwnCostUsd = OwnCost,
        AddedLatencyMs = AddedLatencyMs,
        EliminatedCalls = Eliminated,
        Method = Method,
        OtherSavings = new Dictionary<SavingsUnit, decimal>(_other),
    };
}
