namespace CageNet.Ledger;

/// <summary>
/// Receipts summed per tool, unit, method and pricing basis: what the whole-ledger attribution views (ROI, recommend)
/// read instead of every receipt. A group's receipts all point to calls of one provider, model, route and long-context
/// price tier, or (call-less) all belong to one task.
/// </summary>
public sealed record ReceiptTotal
{
    /// <summary>The tool.</summary>
    public required string Tool { get; init; }

    /// <summary>The unit of the sums.</summary>
    public SavingsUnit Unit { get; init; }

    /// <summary>The receipts' method.</summary>
    public SavingsMethod Method { get; init; }

    /// <summary>
    /// The basis of the calls the receipts point to; its <see cref="CallBasis.PromptTokens"/> may stand for any prompt
    /// size priced at the same long-context tier. <see langword="null"/> for call-less receipts (and receipts whose call
    /// the ledger does not have), which are priced at the latest call of <see cref="Task"/>.
    /// </summary>
    public CallBasis? Call { get; init; }

    /// <summary>The task of call-less receipts; <see langword="null"/> when <see cref="Call"/> is set or the receipts name no task.</summary>
    public string? Task { get; init; }

    /// <summary>How many receipts.</summary>
    public long Receipts { get; init; }

    /// <summary>Σ raw alternative.</summary>
    public decimal RawAlternative { get; init; }

    /// <summary>Σ actual.</summary>
    public decimal Actual { get; init; }

    /// <summary>Σ saved (raw − actual).</summary>
    public decimal Saved => RawAlternative - Actual;

    /// <summary>Σ <c>meta.tool_cost_usd</c>.</summary>
    public decimal ToolCostUsd { get; init; }

    /// <summary>Σ <c>meta.added_latency_ms</c>.</summary>
    public double AddedLatencyMs { get; init; }

    /// <summary>Call-less receipts that sent nothing (<c>actual = 0</c>, <c>raw_alternative &gt; 0</c>): eliminated calls.</summary>
    public long EliminatedCalls { get; init; }

    /// <summary>The lowest confidence among the receipts.</summary>
    public double MinConfidence { get; init; } = 1.0;

    /// <summary>The group of a single receipt.</summary>
    /// <param name="receipt">The receipt.</param>
    /// <param name="call">The call it points to, when the ledger has it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="receipt"/> is <see langword="null"/>.</exception>
    public static ReceiptTotal Of(SavingsReceipt receipt, CallBasis? call)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return new ReceiptTotal
        {
            Tool = receipt.Tool,
            Unit = receipt.Unit,
            Method = receipt.Method,
            Call = call,
            Task = call is null ? receipt.Task : null,
            Receipts = 1,
            RawAlternative = receipt.RawAlternative,
            Actual = receipt.Actual,
            ToolCostUsd = receipt.ToolCostUsd ?? 0m,
            AddedLatencyMs = receipt.AddedLatencyMs ?? 0,
            EliminatedCalls = IsEliminatedCall(receipt) ? 1 : 0,
            MinConfidence = receipt.Confidence,
        };
    }

    /// <summary>A call-less receipt that sent nothing: a call the tool eliminated (a response-cache hit).</summary>
    /// <param name="receipt">The receipt.</param>
    /// <exception cref="ArgumentNullException"><paramref name="receipt"/> is <see langword="null"/>.</exception>
    public static bool IsEliminatedCall(SavingsReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return string.IsNullOrEmpty(receipt.CallId) && receipt.Actual == 0 && receipt.RawAlternative > 0;
    }
}
