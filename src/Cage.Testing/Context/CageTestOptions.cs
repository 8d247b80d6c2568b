using CageNet.Budgets;
using CageNet.Configuration;
using CageNet.Pricing;

namespace CageNet.Testing;

/// <summary>How a <see cref="CageTestContext"/> is set up: its clock's start, its prices, its budgets.</summary>
public sealed class CageTestOptions
{
    private readonly Dictionary<string, ModelPriceOverride> _fixed = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The instant the test's clock starts at by default: 2026-01-01T00:00:00Z.</summary>
    public static DateTimeOffset DefaultStart { get; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Where the test's <see cref="CageTestContext.Clock"/> starts. Default <see cref="DefaultStart"/>.</summary>
    public DateTimeOffset Start { get; set; } = DefaultStart;

    /// <summary>
    /// The price catalog calls are priced with, before the fixed prices of <see cref="Price"/> are layered over it.
    /// Default <see cref="PriceCatalog.BuiltIn"/>; set <see cref="PriceCatalog.Empty"/> to price only the fixed models
    /// (every other model is then recorded unpriced, which <c>Has.No.UnpricedCalls</c> catches).
    /// </summary>
    public PriceCatalog Prices { get; set; } = PriceCatalog.BuiltIn;

    /// <summary>
    /// Whether the static <see cref="Cage"/> facade (<c>Cage.Meter(...)</c>, <see cref="Cage.Instance"/>) uses this
    /// test's meter on the test's async flow while the context is alive. Default <see langword="true"/>.
    /// </summary>
    public bool BindStaticFacade { get; set; } = true;

    internal Action<BudgetOptions>? ConfigureBudgets { get; private set; }

    /// <summary>
    /// Fixes one model's price, in US dollars per 1M tokens, over <see cref="Prices"/> (a model the catalog lacks is
    /// added). Served model names with a date suffix (<c>gpt-4o-2024-08-06</c>) match the undated key.
    /// </summary>
    /// <param name="model">The model (<c>gpt-4o</c>), or a catalog key with its provider (<c>openai/gpt-4o</c>).</param>
    /// <param name="input">Uncached input, $ per 1M tokens.</param>
    /// <param name="output">Output, $ per 1M tokens.</param>
    /// <param name="cacheRead">Cache reads, $ per 1M tokens; default the catalog's, else the input price.</param>
    /// <param name="cacheWrite">Cache writes (5-minute and 1-hour), $ per 1M tokens; default the catalog's, else the input price.</param>
    /// <returns>These options.</returns>
    /// <exception cref="ArgumentException"><paramref name="model"/> is blank or a price is negative.</exception>
    public CageTestOptions Price(string model, decimal input, decimal output, decimal? cacheRead = null, decimal? cacheWrite = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (input < 0 || output < 0 || cacheRead < 0 || cacheWrite < 0)
        {
            throw new ArgumentException($"the price of '{model}' is negative", nameof(model));
        }

        var slash = model.IndexOf('/', StringComparison.Ordinal);
        _fixed[model] = new ModelPriceOverride
        {
            Provider = slash > 0 ? model[..slash] : null,
            Input = input,
            Output = output,
            CacheRead = cacheRead,
            CacheWrite5m = cacheWrite,
            CacheWrite1h = cacheWrite,
        };
        return this;
    }

    /// <summary>
    /// Gives the test a budget guard with this tree (the fluent API: <c>b.Node("org").CapUsd(0.02m).Block()</c>). Metered
    /// calls are charged to it, <c>UseCage()</c> and <c>AddCageMetering()</c> check it once the context is registered in
    /// the test's services, and its warnings and refusals are in <see cref="CageTestContext.BudgetEvents"/>.
    /// </summary>
    /// <param name="configure">Configures the tree; called again on each call (they add up).</param>
    /// <returns>These options.</returns>
    public CageTestOptions Budgets(Action<BudgetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ConfigureBudgets += configure;
        return this;
    }

    internal PriceCatalog BuildPrices() => _fixed.Count == 0 ? Prices : Prices.WithOverrides(_fixed);
}
