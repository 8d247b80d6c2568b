namespace CageNet.Pricing;

/// <summary>The six per-token prices a model, a tier or a service-tier variant can carry.</summary>
internal enum PriceField
{
    Input = 0,
    Output = 1,
    CacheRead = 2,
    CacheWrite5m = 3,
    CacheWrite1h = 4,
    Reasoning = 5,
}

/// <summary>
/// Collects one model's prices as the community map spells them (a field, optionally at a long-context threshold,
/// optionally for a service tier) and assembles the <see cref="ModelPrice"/>. The price-map parser and the built-in
/// table both go through here, so they cannot disagree about the rules.
/// </summary>
internal sealed class ModelPriceBuilder
{
    private const int FieldCount = 6;
    private const string Standard = "";

    private readonly Dictionary<(string Service, long Above), decimal?[]> _sets = [];

    /// <summary>The provider name (<c>litellm_provider</c>).</summary>
    public string? Provider { get; set; }

    /// <summary>Whether the standard tier has both an input and an output price (a model Cage can price).</summary>
    public bool HasInputAndOutput =>
        _sets.TryGetValue((Standard, 0), out var standard)
        && standard[(int)PriceField.Input] is not null
        && standard[(int)PriceField.Output] is not null;

    /// <summary>Sets one price in US dollars per token.</summary>
    /// <param name="field">Which price.</param>
    /// <param name="perToken">The price.</param>
    /// <param name="serviceTier"><c>batch</c>, <c>priority</c>, <c>flex</c>, or <see langword="null"/> for the standard tier.</param>
    /// <param name="aboveTokens">A long-context threshold, or 0 for the base price.</param>
    public void Set(PriceField field, decimal perToken, string? serviceTier = null, long aboveTokens = 0)
    {
        var key = (serviceTier ?? Standard, aboveTokens);
        if (!_sets.TryGetValue(key, out var set))
        {
            set = new decimal?[FieldCount];
            _sets[key] = set;
        }

        set[(int)field] = perToken;
    }

    /// <summary>The model's price, or <see langword="null"/> when the standard tier lacks an input or an output price.</summary>
    public ModelPrice? Build()
    {
        if (!HasInputAndOutput) return null;
        var standard = _sets[(Standard, 0)];

        var services = _sets.Keys.Select(k => k.Service).Where(s => s.Length != 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var variants = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (var service in services)
        {
            variants[service] = BuildVariant(service, standard);
        }

        return Create(standard, StandardTiers(), Provider, variants);
    }

    private List<PriceTier> StandardTiers() =>
        [.. _sets.Where(kv => kv.Key.Service.Length == 0 && kv.Key.Above > 0).Select(kv => Tier(kv.Key.Above, kv.Value))];

    /// <summary>
    /// A service-tier variant: its own prices where the map gives them, else the standard tier's. A long-context tier the
    /// variant does not price itself takes the standard tier's input and output prices scaled by the variant's discount
    /// or premium (a batch call above 200k tokens costs half the long-context price, not the short-context batch price
    /// nor the full long-context price); its cache prices then follow from the usual rules.
    /// </summary>
    private ModelPrice BuildVariant(string service, decimal?[] standard)
    {
        var own = _sets.TryGetValue((service, 0), out var set) ? set : new decimal?[FieldCount];
        var merged = new decimal?[FieldCount];
        for (var i = 0; i < FieldCount; i++)
        {
            merged[i] = own[i] ?? standard[i];
        }

        var thresholds = _sets.Keys
            .Where(k => k.Above > 0 && (k.Service.Length == 0 || string.Equals(k.Service, service, StringComparison.OrdinalIgnoreCase)))
            .Select(k => k.Above)
            .Distinct();

        var tiers = new List<PriceTier>();
        foreach (var above in thresholds)
        {
            var fields = _sets.TryGetValue((service, above), out var explicitTier) ? (decimal?[])explicitTier.Clone() : new decimal?[FieldCount];
            if (_sets.TryGetValue((Standard, above), out var standardTier))
            {
                foreach (var field in (ReadOnlySpan<PriceField>)[PriceField.Input, PriceField.Output])
                {
                    var i = (int)field;
                    fields[i] ??= ScaleByVariant(standardTier[i], merged[i], standard[i]);
                }
            }

            tiers.Add(Tier(above, fields));
        }

        return Create(merged, tiers, Provider, variants: null);
    }

    private static decimal? ScaleByVariant(decimal? standardTierPrice, decimal? variantPrice, decimal? standardPrice)
    {
        if (standardTierPrice is not { } tierPrice) return null;
        if (variantPrice is not { } variant || standardPrice is not { } basePrice || basePrice == 0m || variant == basePrice) return tierPrice;
        return tierPrice * variant / basePrice;
    }

    private static PriceTier Tier(long above, decimal?[] f) => new()
    {
        AboveTokens = above,
        Input = f[(int)PriceField.Input],
        Output = f[(int)PriceField.Output],
        CacheRead = f[(int)PriceField.CacheRead],
        CacheWrite5m = f[(int)PriceField.CacheWrite5m],
        CacheWrite1h = f[(int)PriceField.CacheWrite1h],
        Reasoning = f[(int)PriceField.Reasoning],
    };

    private static ModelPrice Create(decimal?[] f, IReadOnlyList<PriceTier> tiers, string? provider, IReadOnlyDictionary<string, ModelPrice>? variants) => new()
    {
        Input = f[(int)PriceField.Input] ?? 0m,
        Output = f[(int)PriceField.Output] ?? 0m,
        CacheRead = f[(int)PriceField.CacheRead],
        CacheWrite5m = f[(int)PriceField.CacheWrite5m],
        CacheWrite1h = f[(int)PriceField.CacheWrite1h],
        Reasoning = f[(int)PriceField.Reasoning],
        Provider = provider,
        Tiers = tiers,
        ServiceTiers = variants ?? new Dictionary<string, ModelPrice>(),
    };
}
