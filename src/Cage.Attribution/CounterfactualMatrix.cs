namespace CageNet.Attribution;

/// <summary>
/// The counterfactual matrix of one task (<c>cage matrix</c>, SPEC 6): for the tools with token receipts, every on/off
/// combination's input tokens and cost. A row re-prices each affected call with its input raised by the savings of the
/// tools that are off (long-context tiers apply), plus the call-less savings at the task model. The all-on row equals
/// the task's recorded spend exactly and is the only <c>measured</c> row.
/// </summary>
public sealed record CounterfactualMatrix
{
    /// <summary>The task.</summary>
    public required string Task { get; init; }

    /// <summary>The provider of the task's latest call, if any.</summary>
    public string? Provider { get; init; }

    /// <summary>The model of the task's latest call, if any.</summary>
    public string? Model { get; init; }

    /// <summary>The tools, in the canonical order (the columns).</summary>
    public required IReadOnlyList<string> Tools { get; init; }

    /// <summary>Prompt-side tokens no matrix tool accounted for: Σ prompt tokens − Σ actual of the tools' receipts (held constant).</summary>
    public decimal BaseTokens { get; init; }

    /// <summary>Σ output tokens of the task's calls (held constant).</summary>
    public long OutputTokens { get; init; }

    /// <summary>All 2ⁿ rows, most expensive first (then by input tokens, then all-off to all-on).</summary>
    public required IReadOnlyList<MatrixRow> Rows { get; init; }

    /// <summary>The row with every tool off.</summary>
    public required MatrixRow AllOff { get; init; }

    /// <summary>The row with every tool on: what was recorded.</summary>
    public required MatrixRow AllOn { get; init; }

    /// <summary>Calls of the task without a recorded cost: left out of every row's cost (never counted as $0).</summary>
    public int UnpricedCalls { get; init; }

    /// <summary>
    /// Whether the rows' costs are only lower bounds: some call of the task has no recorded cost
    /// (<see cref="UnpricedCalls"/> above 0) or its usage never arrived.
    /// </summary>
    public bool IsLowerBound { get; init; }

    /// <summary>
    /// How much cheaper the all-on row is than the all-off row, as a fraction of the all-off cost (negative when the tools
    /// made it dearer); <see langword="null"/> when either cost is unknown or the all-off cost is 0.
    /// </summary>
    public decimal? Cheaper => AllOff.CostUsd is { } off && AllOn.CostUsd is { } on && off != 0 ? (off - on) / off : null;
}

/// <summary>One on/off combination of the matrix.</summary>
/// <param name="On">Which tools are on, by the matrix's tool index (the same order as <see cref="CounterfactualMatrix.Tools"/>).</param>
/// <param name="InputTokens">The task's prompt-side tokens under this combination.</param>
/// <param name="CostUsd">The task's cost under this combination; <see langword="null"/> when a re-priced call's model is not priced.</param>
/// <param name="Source"><c>measured</c> for the all-on row; <c>estimated</c> when an off tool's evidence is estimated; else <c>modeled</c>.</param>
public sealed record MatrixRow(IReadOnlyList<bool> On, decimal InputTokens, decimal? CostUsd, SavingsMethod Source);
