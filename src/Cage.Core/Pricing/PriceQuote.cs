namespace CageNet.Pricing;

/// <summary>The price of one call and how it is known.</summary>
/// <param name="CostUsd">
/// The cost in US dollars; <see langword="null"/> when the model is unknown (<see cref="CostSource.Unpriced"/>), never a silent $0.
/// </param>
/// <param name="Source">
/// How the cost is known: <see cref="CostSource.Catalog"/>, <see cref="CostSource.Provider"/> (reported by the API),
/// <see cref="CostSource.Local"/> (free by policy) or <see cref="CostSource.Unpriced"/>.
/// </param>
/// <param name="PriceKey">
/// The catalog key the model matched (for example <c>anthropic/claude-opus-4-8</c>), the local-model pattern that
/// matched, or <see langword="null"/> when nothing matched.
/// </param>
public readonly record struct PriceQuote(decimal? CostUsd, CostSource Source, string? PriceKey);
