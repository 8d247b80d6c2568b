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

    public async IAsyncEnumerable<ScannedReceipt> ReceiptsAsync(TimeWindow window, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in ledger.ReadReceiptsWithCallsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            var receipt = item.Receipt;
            var call = item.Call;
            CallBasis? taskModel = null;
            if (call is null)
            {
                taskModel = await TaskModelAsync(receipt.Task, cancellationToken).ConfigureAwait(false);
            }

            var priced = pricer.Price(receipt, call, taskModel);
            yield return new ScannedReceipt(receipt, priced, (call ?? taskModel)?.Route, (call ?? taskModel)?.Task ?? receipt.Task);
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

/// <summary>A receipt with its priced saving and the route and task it belongs to.</summary>
internal readonly record struct ScannedReceipt(SavingsReceipt Receipt, PricedSaving Priced, string? Route, string? Task)
{
    /// <summary>An eliminated call: a call-less receipt that sent nothing.</summary>
    public bool EliminatedCall => string.IsNullOrEmpty(Receipt.CallId) && Receipt.Actual == 0 && Receipt.RawAlternative > 0;
}

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

    public void Add(in ScannedReceipt scanned)
    {
        var receipt = scanned.Receipt;
        Receipts++;
        Method = Evidence.Worst(Method, receipt.Method);
        OwnCost += receipt.ToolCostUsd ?? 0m;
        AddedLatencyMs += receipt.AddedLatencyMs ?? 0;
        if (scanned.EliminatedCall)
        {
            Eliminated++;
        }

        if (scanned.Priced.Usd is { } usd)
        {
            _saved += usd;
            _priced++;
        }
        else if (scanned.Priced.Unpriced)
        {
            Unpriced++;
        }
        else if (receipt.Unit is SavingsUnit.Ms or SavingsUnit.Gco2)
        {
            _other[receipt.Unit] = _other.GetValueOrDefault(receipt.Unit) + receipt.Saved;
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
