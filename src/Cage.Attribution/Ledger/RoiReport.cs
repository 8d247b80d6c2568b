using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>Return on each tool over a window (<c>cage roi</c>, SPEC 6): what it saved, what it cost to run, and the net. Priced exactly as <c>attrib</c>.</summary>
/// <param name="Window">The window, on the receipts' timestamps.</param>
/// <param name="Tools">One row per tool, best net first (unknown nets last), then in the canonical order.</param>
public sealed record RoiReport(TimeWindow Window, IReadOnlyList<ToolRoi> Tools)
{
    /// <summary>Token receipts that could not be priced, over all tools.</summary>
    public int UnpricedReceipts => Tools.Sum(t => t.UnpricedReceipts);
}

/// <summary>One tool's return over a window.</summary>
public sealed record ToolRoi
{
    /// <summary>The tool.</summary>
    public required string Tool { get; init; }

    /// <summary>How many receipts, of every unit.</summary>
    public int Receipts { get; init; }

    /// <summary>Σ saved dollars (token savings priced by the attribution rule, <c>usd</c> savings as-is); <see langword="null"/> when nothing could be priced.</summary>
    public decimal? SavedUsd { get; init; }

    /// <summary>Token receipts that could not be priced (not in <see cref="SavedUsd"/>).</summary>
    public int UnpricedReceipts { get; init; }

    /// <summary>Σ <c>meta.tool_cost_usd</c>: what running the tool cost.</summary>
    public decimal OwnCostUsd { get; init; }

    /// <summary><see cref="SavedUsd"/> − <see cref="OwnCostUsd"/>; <see langword="null"/> when the savings are unpriced.</summary>
    public decimal? NetUsd => SavedUsd is { } saved ? saved - OwnCostUsd : (OwnCostUsd != 0 ? -OwnCostUsd : null);

    /// <summary>Σ <c>meta.added_latency_ms</c>: the latency the tool added.</summary>
    public double AddedLatencyMs { get; init; }

    /// <summary>Call-less receipts with nothing actually sent (<c>actual = 0</c>): calls the tool eliminated.</summary>
    public int EliminatedCalls { get; init; }

    /// <summary>The weakest evidence among the receipts.</summary>
    public SavingsMethod Method { get; init; }

    /// <summary>Savings in units that are never priced (<c>ms</c>, <c>gco2</c>), per unit.</summary>
    public IReadOnlyDictionary<SavingsUnit, decimal> OtherSavings { get; init; } = new Dictionary<SavingsUnit, decimal>();
}
