using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Attribution;

/// <summary>What one receipt's saving is worth in dollars, and how that is known.</summary>
/// <param name="Usd">The dollars saved; <see langword="null"/> when unpriced or not a money unit (<c>ms</c>, <c>gco2</c>).</param>
/// <param name="Unpriced">A token saving whose model the catalog does not price, or that has no model at all.</param>
/// <param name="Local">Priced at a local model's zero price.</param>
internal readonly record struct PricedSaving(decimal? Usd, bool Unpriced, bool Local);

/// <summary>
/// The one pricing rule of attribution, shared by <c>attrib</c>, <c>roi</c> and <c>recommend</c> (SPEC 6): a token saving
/// is worth its tokens at the uncached input price of the model of the call the receipt points to (at the long-context
/// tier that call was priced at); a call-less receipt (an eliminated call) at the standard input price of the model of
/// its task's latest call; no model → unpriced. A <c>usd</c> saving is dollars as-is; <c>ms</c> and <c>gco2</c> are
/// never priced.
/// </summary>
internal sealed class SavingsPricer(PriceCatalog catalog)
{
    public PriceCatalog Catalog { get; } = catalog;

    /// <param name="receipt">The receipt.</param>
    /// <param name="call">The call it points to, when the ledger has it.</param>
    /// <param name="taskModel">The latest call of the receipt's task, for call-less receipts.</param>
    public PricedSaving Price(SavingsReceipt receipt, CallBasis? call, CallBasis? taskModel)
    {
        switch (receipt.Unit)
        {
            case SavingsUnit.Usd:
                return new PricedSaving(receipt.Saved, false, false);
            case SavingsUnit.Tokens:
                var rate = TokenRate(call, taskModel, out var source);
                return rate is { } r
                    ? new PricedSaving(receipt.Saved * r, false, source == CostSource.Local)
                    : new PricedSaving(null, true, false);
            default:
                return new PricedSaving(null, false, false);
        }
    }

    /// <summary>The dollar value of one saved token, or <see langword="null"/> when unpriced.</summary>
    public decimal? TokenRate(CallBasis? call, CallBasis? taskModel, out CostSource source)
    {
        if (call is not null)
        {
            return Catalog.InputRate(call.Provider, call.Model, call.PromptTokens, out source);
        }

        if (taskModel is not null)
        {
            return Catalog.InputRate(taskModel.Provider, taskModel.Model, 0, out source);
        }

        source = CostSource.Unpriced;
        return null;
    }
}
