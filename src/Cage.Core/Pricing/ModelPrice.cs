using System.Collections.Frozen;
using System.Collections.ObjectModel;

namespace CageNet.Pricing;

/// <summary>
/// One model's prices in US dollars <b>per token</b>, exactly as written in the price map.
/// Missing cache prices fall back when a call is priced: cache reads and 5-minute writes to <see cref="Input"/>,
/// 1-hour writes to <see cref="CacheWrite5m"/> and then <see cref="Input"/>, reasoning to <see cref="Output"/>.
/// </summary>
public sealed class ModelPrice
{
    private static readonly FrozenDictionary<string, ModelPrice> NoServiceTiers =
        FrozenDictionary<string, ModelPrice>.Empty.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private static readonly PriceTier[] NoTiers = [];

    private IReadOnlyList<PriceTier> _tiers = NoTiers;
    private FrozenDictionary<string, ModelPrice> _serviceTiers = NoServiceTiers;

    // Compiled on the first priced call; a race builds two identical plans, which is harmless.
    private PricePlan? _plan;

    /// <summary>Uncached input, $ per token.</summary>
    public required decimal Input { get; init; }

    /// <summary>Output (reasoning included unless <see cref="Reasoning"/> is set), $ per token.</summary>
    public required decimal Output { get; init; }

    /// <summary>Cache reads, $ per token; <see langword="null"/> means the input price.</summary>
    public decimal? CacheRead { get; init; }

    /// <summary>5-minute cache writes, $ per token; <see langword="null"/> means the input price.</summary>
    public decimal? CacheWrite5m { get; init; }

    /// <summary>1-hour cache writes, $ per token; <see langword="null"/> means the 5-minute write price, then the input price.</summary>
    public decimal? CacheWrite1h { get; init; }

    /// <summary>Reasoning tokens (a part of output), $ per token; <see langword="null"/> means the output price.</summary>
    public decimal? Reasoning { get; init; }

    /// <summary>The provider the price map names for this model (<c>litellm_provider</c>), when known.</summary>
    public string? Provider { get; init; }

    /// <summary>
    /// Long-context tiers in ascending <see cref="PriceTier.AboveTokens"/> order (sorted on assignment). When a call's
    /// prompt-side tokens exceed a threshold, the highest such tier prices every bucket of the call. Default empty.
    /// </summary>
    /// <exception cref="ArgumentNullException">The list, or one of its tiers, is <see langword="null"/>.</exception>
    public IReadOnlyList<PriceTier> Tiers
    {
        get => _tiers;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            var sorted = value.ToArray();
            foreach (var tier in sorted)
            {
                ArgumentNullException.ThrowIfNull(tier, nameof(value));
            }

            // A stable sort keeps the caller's order for equal thresholds; the last of them wins when pricing.
            _tiers = sorted.Length == 0 ? NoTiers : new ReadOnlyCollection<PriceTier>([.. sorted.OrderBy(t => t.AboveTokens)]);
        }
    }

    /// <summary>
    /// Service-tier variants keyed <c>batch</c>, <c>priority</c> or <c>flex</c> (case-insensitive), from the map's
    /// <c>*_batches</c>, <c>*_priority</c> and <c>*_flex</c> keys. Each variant is complete: fields the map leaves out
    /// are the standard tier's. Empty when the model has none.
    /// </summary>
    /// <exception cref="ArgumentNullException">The dictionary is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">Two keys differ only by case.</exception>
    public IReadOnlyDictionary<string, ModelPrice> ServiceTiers
    {
        get => _serviceTiers;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            _serviceTiers = value.Count == 0 ? NoServiceTiers : value.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>The variant for a service tier, or this price when the model has no such variant.</summary>
    internal ModelPrice ForServiceTier(string? serviceTier) =>
        serviceTier is not null && _serviceTiers.Count != 0 && _serviceTiers.TryGetValue(serviceTier, out var variant)
            ? variant
            : this;

    /// <summary>
    /// The cost of one call in US dollars: Σ bucket × its price, at the highest long-context tier whose threshold the
    /// call's prompt-side tokens exceed (strictly), with the fallbacks described on the properties. Exact, with
    /// trailing zeros removed.
    /// </summary>
    internal decimal Cost(in TokenUsage usage) => (_plan ??= new PricePlan(this)).Cost(usage);

    internal decimal InputRate(long promptTokens) => (_plan ??= new PricePlan(this)).InputRate(promptTokens);

    /// <summary>A copy with the given fields replaced; tiers and service tiers are kept.</summary>
    internal ModelPrice With(
        decimal? input = null,
        decimal? output = null,
        decimal? cacheRead = null,
        decimal? cacheWrite5m = null,
        decimal? cacheWrite1h = null,
        decimal? reasoning = null,
        string? provider = null) => new()
        {
            Input = input ?? Input,
            Output = output ?? Output,
            CacheRead = cacheRead ?? CacheRead,
            CacheWrite5m = cacheWrite5m ?? CacheWrite5m,
            CacheWrite1h = cacheWrite1h ?? CacheWrite1h,
            Reasoning = reasoning ?? Reasoning,
            Provider = provider ?? Provider,
            _tiers = _tiers,
            _serviceTiers = _serviceTiers,
        };
}

/// <summary>
/// A long-context price tier: when a call's prompt-side tokens (input + cache reads + cache writes) are strictly more
/// than <see cref="AboveTokens"/>, every bucket of the call is priced here. Prices are US dollars per token.
/// A cache price left out scales the model's standard cache price by (tier input ÷ standard input); an output price
/// left out is the model's standard output price; a reasoning price left out is the model's reasoning price if it has
/// one, else the tier's output price.
/// </summary>
public sealed class PriceTier
{
    /// <summary>The threshold: the tier applies when prompt-side tokens are strictly greater than this.</summary>
    public required long AboveTokens { get; init; }

    /// <summary>Uncached input, $ per token; <see langword="null"/> means the model's standard input price.</summary>
    public decimal? Input { get; init; }

    /// <summary>Output, $ per token; <see langword="null"/> means the model's standard output price.</summary>
    public decimal? Output { get; init; }

    /// <summary>Cache reads, $ per token; <see langword="null"/> scales the standard cache-read price by the tier's input ratio.</summary>
    public decimal? CacheRead { get; init; }

    /// <summary>5-minute cache writes, $ per token; <see langword="null"/> scales the standard price by the tier's input ratio.</summary>
    public decimal? CacheWrite5m { get; init; }

    /// <summary>1-hour cache writes, $ per token; <see langword="null"/> scales the standard price by the tier's input ratio.</summary>
    public decimal? CacheWrite1h { get; init; }

    /// <summary>Reasoning tokens, $ per token; <see langword="null"/> means the model's reasoning price, else the tier's output price.</summary>
    public decimal? Reasoning { get; init; }
}
