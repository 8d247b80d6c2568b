using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>Everything attribution reads about one task: its calls (oldest first), its receipts, and the calls they point to.</summary>
internal sealed class TaskRecords
{
    public TaskRecords(string task, IReadOnlyList<CallRecord> calls, IReadOnlyList<SavingsReceipt> receipts, IReadOnlyDictionary<string, CallRecord> pointedCalls)
    {
        Task = task;
        Calls = calls;
        Receipts = receipts;
        PointedCalls = pointedCalls;

        // The task's model: its latest call by timestamp (the ledger returns calls oldest first; a tie keeps the later row).
        CallRecord? latest = null;
        foreach (var call in calls)
        {
            if (latest is null || call.Timestamp >= latest.Timestamp)
            {
                latest = call;
            }
        }

        LatestCall = latest;
    }

    public string Task { get; }

    public IReadOnlyList<CallRecord> Calls { get; }

    public IReadOnlyList<SavingsReceipt> Receipts { get; }

    /// <summary>Every call a receipt points to that the ledger has, by id (the task's own calls and any other).</summary>
    public IReadOnlyDictionary<string, CallRecord> PointedCalls { get; }

    /// <summary>The task's latest call: its model prices call-less receipts.</summary>
    public CallRecord? LatestCall { get; }

    public CallBasis? TaskModel => LatestCall is null ? null : CallBasis.Of(LatestCall);

    /// <summary>The call a receipt points to, when it names one the ledger has.</summary>
    public CallRecord? CallOf(SavingsReceipt receipt) =>
        receipt.CallId is { Length: > 0 } id && PointedCalls.TryGetValue(id, out var call) ? call : null;

    public static async ValueTask<TaskRecords> LoadAsync(ILedgerReader ledger, string task, CancellationToken cancellationToken)
    {
        var calls = await ledger.CallsForTaskAsync(task, cancellationToken).ConfigureAwait(false);
        var receipts = await ledger.ReceiptsForTaskAsync(task, cancellationToken).ConfigureAwait(false);
        var byId = new Dictionary<string, CallRecord>(StringComparer.Ordinal);
        foreach (var call in calls)
        {
            byId[call.Id] = call;
        }

        foreach (var receipt in receipts)
        {
            if (receipt.CallId is { Length: > 0 } id && !byId.ContainsKey(id)
                && await ledger.FindCallAsync(id, cancellationToken).ConfigureAwait(false) is { } other)
            {
                byId[id] = other;
            }
        }

        return new TaskRecords(task, calls, receipts, byId);
    }
}

/// <summary>The canonical tool order: the policy's <c>tools.order</c>, then every other tool by name (ordinal).</summary>
internal sealed class ToolOrder(IReadOnlyList<string> configured) : IComparer<string>
{
    private readonly Dictionary<string, int> _rank = configured
        .Select((tool, index) => (tool, index))
        .GroupBy(p => p.tool, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.First().index, StringComparer.Ordinal);

    public int Compare(string? x, string? y)
    {
        var rx = x is not null && _rank.TryGetValue(x, out var a) ? a : int.MaxValue;
        var ry = y is not null && _rank.TryGetValue(y, out var b) ? b : int.MaxValue;
        return rx != ry ? rx.CompareTo(ry) : string.CompareOrdinal(x, y);
    }
}

/// <summary>Savings methods from the weakest evidence to the strongest.</summary>
internal static class Evidence
{
    /// <summary>The weaker of two methods: estimated &lt; modeled &lt; measured.</summary>
    public static SavingsMethod Worst(SavingsMethod a, SavingsMethod b) => Rank(a) <= Rank(b) ? a : b;

    private static int Rank(SavingsMethod method) => method switch
    {
        SavingsMethod.Estimated => 0,
        SavingsMethod.Modeled => 1,
        _ => 2,
    };
}
