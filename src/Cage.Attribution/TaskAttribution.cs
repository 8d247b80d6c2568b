namespace CageNet.Attribution;

/// <summary>
/// Per-tool marginal attribution of one task's savings (<c>cage attrib</c>, SPEC 6): one row per tool and unit, in the
/// canonical tool order, with the residual of every call the receipts point to.
/// </summary>
public sealed record TaskAttribution
{
    /// <summary>The task.</summary>
    public required string Task { get; init; }

    /// <summary>The provider of the task's latest call (the task model), or <see langword="null"/> when the task has no call.</summary>
    public string? Provider { get; init; }

    /// <summary>The model of the task's latest call: it prices call-less receipts. <see langword="null"/> when the task has no call.</summary>
    public string? Model { get; init; }

    /// <summary>One row per tool and unit, in the policy's <c>tools.order</c>, then by tool name; within a tool, by unit.</summary>
    public required IReadOnlyList<ToolSavings> Tools { get; init; }

    /// <summary>Σ saved tokens over the <c>tokens</c> rows (other units are never added in).</summary>
    public decimal TotalSavedTokens { get; init; }

    /// <summary>Σ priced dollars over the <c>tokens</c> and <c>usd</c> rows; unpriced receipts are counted in <see cref="UnpricedReceipts"/>, not added as $0.</summary>
    public decimal TotalSavedUsd { get; init; }

    /// <summary>Token receipts that could not be priced (no model, or a model the catalog does not price).</summary>
    public int UnpricedReceipts { get; init; }

    /// <summary>The residual of every call with token receipts, in call order.</summary>
    public required IReadOnlyList<CallResidual> Residuals { get; init; }

    /// <summary>The Shapley audit, when asked for (<c>--shapley</c>); <see langword="null"/> otherwise.</summary>
    public ShapleyAudit? Shapley { get; init; }

    /// <summary><see langword="true"/> when the task has no receipt at all.</summary>
    public bool HasReceipts => Tools.Count > 0;
}

/// <summary>One tool's savings in one unit over a task or a window.</summary>
public sealed record ToolSavings
{
    /// <summary>The tool.</summary>
    public required string Tool { get; init; }

    /// <summary>The unit of <see cref="RawAlternative"/>, <see cref="Actual"/> and <see cref="Saved"/>.</summary>
    public SavingsUnit Unit { get; init; }

    /// <summary>How many receipts.</summary>
    public int Receipts { get; init; }

    /// <summary>Σ what it would have been without the tool.</summary>
    public decimal RawAlternative { get; init; }

    /// <summary>Σ what it was with the tool.</summary>
    public decimal Actual { get; init; }

    /// <summary>Σ saved, always recomputed as raw − actual (negative when the tool made it worse).</summary>
    public decimal Saved { get; init; }

    /// <summary>The weakest evidence among the receipts: estimated &lt; modeled &lt; measured.</summary>
    public SavingsMethod Method { get; init; }

    /// <summary>The lowest confidence among the receipts.</summary>
    public double Confidence { get; init; }

    /// <summary>The saved tokens for a <c>tokens</c> row; <see langword="null"/> for other units.</summary>
    public decimal? SavedTokens => Unit == SavingsUnit.Tokens ? Saved : null;

    /// <summary>
    /// The saved dollars: token savings priced by the attribution rule, <c>usd</c> savings as-is; <see langword="null"/>
    /// for <c>ms</c> / <c>gco2</c> rows and when no receipt of the row could be priced.
    /// </summary>
    public decimal? SavedUsd { get; init; }

    /// <summary>Receipts of this row that could not be priced (not included in <see cref="SavedUsd"/>).</summary>
    public int UnpricedReceipts { get; init; }
}

/// <summary>
/// The residual of one call (SPEC 6): its prompt-side tokens minus Σ <c>actual</c> of its token receipts — the context
/// no tool accounted for. A negative residual means the receipts claim more context than the call had: an over-claim,
/// flagged and never absorbed.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="PromptTokens">The call's prompt-side tokens (input + cache reads + cache writes).</param>
/// <param name="ReceiptsActual">Σ <c>actual</c> of the call's token receipts.</param>
/// <param name="TokenReceipts">How many token receipts point to the call.</param>
public sealed record CallResidual(string CallId, long PromptTokens, decimal ReceiptsActual, int TokenReceipts)
{
    /// <summary>Prompt-side tokens − Σ actual.</summary>
    public decimal Tokens => PromptTokens - ReceiptsActual;

    /// <summary><see langword="true"/> when the receipts claim more context than the call had.</summary>
    public bool OverClaim => Tokens < 0;

    /// <summary>The residual of a call given the receipts filed against it (receipts of other units are ignored).</summary>
    /// <param name="call">The call.</param>
    /// <param name="receipts">The receipts against it.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static CallResidual Of(CallRecord call, IEnumerable<SavingsReceipt> receipts)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(receipts);
        decimal actual = 0;
        var count = 0;
        foreach (var receipt in receipts)
        {
            if (receipt.Unit == SavingsUnit.Tokens)
            {
                actual += receipt.Actual;
                count++;
            }
        }

        return new CallResidual(call.Id, call.Usage.PromptTokens, actual, count);
    }
}

/// <summary>
/// The Shapley audit of a task (SPEC 6): each matrix tool's order-independent share of the all-off → all-on saving,
/// beside its fixed-order marginal over the same cost function. The two agree when costs are linear in the input and
/// differ when a long-context tier makes the tools interact.
/// </summary>
/// <param name="Tools">One entry per matrix tool, in the canonical order.</param>
/// <param name="TotalUsd">The all-off cost minus the all-on cost: what both columns add up to.</param>
public sealed record ShapleyAudit(IReadOnlyList<ShapleyShare> Tools, decimal TotalUsd);

/// <summary>One tool's credit in the Shapley audit.</summary>
/// <param name="Tool">The tool.</param>
/// <param name="FixedOrderUsd">Its marginal when the tools are switched on in the canonical order, starting from all-off.</param>
/// <param name="ShapleyUsd">Its Shapley value: the marginal averaged over every order (rounded to 10 decimals).</param>
public sealed record ShapleyShare(string Tool, decimal FixedOrderUsd, decimal ShapleyUsd)
{
    /// <summary><see cref="ShapleyUsd"/> − <see cref="FixedOrderUsd"/>.</summary>
    public decimal DifferenceUsd => ShapleyUsd - FixedOrderUsd;
}
