using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using CageNet.Configuration;

namespace CageNet.Pricing;

/// <summary>
/// An immutable price catalog: model keys (case-insensitive) mapped to per-token prices, plus local-model patterns and
/// aliases. Every <c>With…</c> method returns a new catalog. Thread-safe; <see cref="Price"/> is built for the metering
/// hot path and does not allocate once a (provider, model) pair has been seen.
/// </summary>
/// <remarks>
/// Lookup (SPEC 3), recording the key matched: local-model patterns first (cost 0, <see cref="CostSource.Local"/>);
/// then the exact <c>model</c> key → <c>provider/model</c> → the model with a date suffix stripped (<c>-20250219</c>,
/// <c>-2024-08-06</c>, <c>@20240620</c>; also <c>provider/</c> + stripped) → a configured alias, whose target must be
/// an exact key. There is no fuzzy or "contains" matching: an unknown model is <see cref="CostSource.Unpriced"/>.
/// </remarks>
public sealed class PriceCatalog
{
    /// <summary>The local-model patterns <see cref="FromOptions"/> uses when the options list none.</summary>
    internal static readonly string[] DefaultLocalModels = ["ollama/*"];

    // Distinct (provider, model) pairs remembered per catalog; beyond this, lookups still work but are not cached, so a
    // stream of made-up model names cannot grow memory without bound.
    private const int MaxCachedResolutions = 16_384;
    private const int RecentSlots = 256;

    private static readonly FrozenDictionary<string, string> NoAliases =
        new Dictionary<string, string>().ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, CatalogEntry> _entries;
    private readonly ReadOnlyCollection<string> _keys;
    private readonly string[] _localModels;
    private readonly FrozenDictionary<string, string> _aliases;
    private readonly ConcurrentDictionary<ModelId, Resolution> _resolved = new();
    private readonly Resolution?[] _recent = new Resolution?[RecentSlots];
    private int _resolvedCount;

    private PriceCatalog(
        IEnumerable<CatalogEntry> entries,
        IEnumerable<string>? localModels = null,
        IReadOnlyDictionary<string, string>? aliases = null)
    {
        var map = new Dictionary<string, CatalogEntry>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries)
        {
            map[entry.Key] = entry;
        }

        _entries = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _keys = Array.AsReadOnly(map.Values.Select(e => e.Key).Order(StringComparer.Ordinal).ToArray());
        _localModels = localModels?.ToArray() ?? [];
        _aliases = Freeze(aliases);
    }

    /// <summary>A catalog sharing <paramref name="source"/>'s entries, with other local models and aliases.</summary>
    private PriceCatalog(PriceCatalog source, IEnumerable<string> localModels, IReadOnlyDictionary<string, string> aliases)
    {
        _entries = source._entries;
        _keys = source._keys;
        _localModels = localModels.ToArray();
        _aliases = Freeze(aliases);
    }

    /// <summary>An empty catalog: every model is unpriced.</summary>
    public static PriceCatalog Empty { get; } = new([]);

    /// <summary>
    /// The built-in table of common current models (Anthropic Claude 4.x, OpenAI GPT-4.1 / GPT-4o / GPT-5 / o-series,
    /// Gemini 2.5 and 3, a few others), keyed <c>provider/model</c>. It includes the reference table's
    /// <c>anthropic/claude-opus-4-8</c> at $3 in / $15 out per 1M tokens.
    /// </summary>
    public static PriceCatalog BuiltIn { get; } = new(BuiltInPrices.Entries());

    /// <summary>The number of keys (a map entry registered also under <c>provider/model</c> counts twice).</summary>
    public int Count => _entries.Count;

    /// <summary>The catalog keys in ordinal order, spelled as they were added.</summary>
    public IEnumerable<string> Keys => _keys;

    /// <summary>Reads a price map file in the community format (LiteLLM's <c>model_prices_and_context_window.json</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>A catalog of the map's token-priced models, without local models or aliases.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or blank.</exception>
    /// <exception cref="PriceMapException">
    /// The file is missing or unreadable, is not valid JSON (the message names the line and byte), or holds a bad price
    /// (the message names the model key and field).
    /// </exception>
    public static PriceCatalog LoadPriceMap(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 64 * 1024);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PriceMapException($"price map '{path}' was not found", path, innerException: ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            throw new PriceMapException($"price map '{path}' could not be read: {ex.Message}", path, innerException: ex);
        }

        using (stream)
        {
            try
            {
                return ParsePriceMap(stream, path);
            }
            catch (IOException ex)
            {
                throw new PriceMapException($"price map '{path}' could not be read: {ex.Message}", path, innerException: ex);
            }
        }
    }

    /// <summary>Parses a price map in the community format from a stream.</summary>
    /// <param name="json">UTF-8 JSON; read to the end, not disposed.</param>
    /// <param name="sourceName">The name error messages use for the map (usually its file path).</param>
    /// <returns>A catalog of the map's token-priced models, without local models or aliases.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="PriceMapException">Invalid JSON, a top level that is not an object, or a bad price value.</exception>
    /// <remarks>
    /// Reads <c>input_cost_per_token</c>, <c>output_cost_per_token</c>, <c>cache_read_input_token_cost</c>,
    /// <c>cache_creation_input_token_cost</c> (5-minute write), <c>cache_creation_input_token_cost_above_1hr</c> (1-hour
    /// write), <c>output_cost_per_reasoning_token</c> and <c>litellm_provider</c>; each price also with a long-context
    /// threshold (<c>_above_200k_tokens</c>, any <c>_above_&lt;N&gt;k_tokens</c>) and/or a service tier (<c>_batches</c>,
    /// <c>_priority</c>, <c>_flex</c>). Prices are parsed to <see cref="decimal"/> exactly as written. Skips
    /// <c>sample_spec</c>, non-object values, and entries without both an input and an output token price (image,
    /// audio and embedding-only entries), so such models stay unpriced rather than half-priced. An entry whose key has
    /// no '/' is also registered under <c>litellm_provider/key</c> unless the map has that key.
    /// </remarks>
    public static PriceCatalog ParsePriceMap(Stream json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(sourceName);
        return new PriceCatalog(PriceMapParser.Parse(json, sourceName).Values);
    }

    /// <summary>
    /// Builds the catalog a policy describes: <see cref="BuiltIn"/>, then the price map file layered on top, then the
    /// overrides, local models and aliases.
    /// </summary>
    /// <param name="options">The pricing policy.</param>
    /// <param name="baseDirectory">The folder relative map paths resolve against (the policy file's folder); default the working directory.</param>
    /// <param name="mapFileOverride">A map file that wins over <see cref="PricingOptions.MapFile"/> (<c>CAGE_PRICES</c>, <c>--prices</c>).</param>
    /// <returns>The catalog.</returns>
    /// <remarks>When <see cref="PricingOptions.LocalModels"/> is empty, the default pattern <c>ollama/*</c> applies.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="PriceMapException">The map file is missing, unreadable or malformed.</exception>
    /// <exception cref="ArgumentException">An override, local-model pattern or alias is invalid (the message names it).</exception>
    public static PriceCatalog FromOptions(PricingOptions options, string? baseDirectory = null, string? mapFileOverride = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var catalog = BuiltIn;

        var mapFile = string.IsNullOrWhiteSpace(mapFileOverride) ? options.MapFile : mapFileOverride;
        if (!string.IsNullOrWhiteSpace(mapFile))
        {
            var root = Path.GetFullPath(string.IsNullOrWhiteSpace(baseDirectory) ? Directory.GetCurrentDirectory() : baseDirectory);
            catalog = catalog.WithEntries(LoadPriceMap(Path.GetFullPath(mapFile, root)));
        }

        if (options.Overrides is { Count: > 0 } overrides) catalog = catalog.WithOverrides(overrides);
        catalog = catalog.WithLocalModels(options.LocalModels is { Count: > 0 } local ? local : DefaultLocalModels);
        if (options.Aliases is { Count: > 0 } aliases) catalog = catalog.WithAliases(aliases);
        return catalog;
    }

    /// <summary>A catalog with <paramref name="other"/>'s entries layered on top: they replace the same keys; the rest stay.</summary>
    /// <param name="other">The catalog to layer on top; its local-model patterns and aliases are added too (its aliases win).</param>
    /// <returns>The new catalog.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public PriceCatalog WithEntries(PriceCatalog other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var aliases = new Dictionary<string, string>(_aliases, StringComparer.OrdinalIgnoreCase);
        foreach (var (alias, target) in other._aliases)
        {
            aliases[alias] = target;
        }

        return new PriceCatalog(
            _entries.Values.Concat(other._entries.Values),
            _localModels.Concat(other._localModels).Distinct(StringComparer.OrdinalIgnoreCase),
            aliases);
    }

    /// <summary>
    /// A catalog with per-model overrides applied, in US dollars per 1M tokens. Merged per model and per field: an
    /// override changes only the fields it sets on only the model it names (and that model's <c>provider/model</c>
    /// twin from the same map entry), so no sibling model is ever un-priced. An override whose key is not in the
    /// catalog adds a model and must then set both input and output.
    /// </summary>
    /// <param name="overrides">Catalog key (<c>provider/model</c> or <c>model</c>, case-insensitive) → prices per 1M tokens.</param>
    /// <returns>The new catalog.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="overrides"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// A key is blank, an override is <see langword="null"/> or negative, or a new model lacks input or output; the
    /// message names the key.
    /// </exception>
    public PriceCatalog WithOverrides(IReadOnlyDictionary<string, ModelPriceOverride> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var entries = new Dictionary<string, CatalogEntry>(_entries, StringComparer.OrdinalIgnoreCase);

        foreach (var (key, o) in overrides.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (string.IsNullOrWhiteSpace(key)) throw new ArgumentException("a price override has an empty model key", nameof(overrides));
            if (o is null) throw new ArgumentException($"price override '{key}' is null", nameof(overrides));
            CheckNonNegative(key, o, nameof(overrides));

            if (entries.TryGetValue(key, out var existing))
            {
                var updated = existing.Price.With(
                    PerToken(o.Input), PerToken(o.Output), PerToken(o.CacheRead), PerToken(o.CacheWrite5m),
                    PerToken(o.CacheWrite1h), PerToken(o.Reasoning), o.Provider);

                // A map entry and its provider/model twin share one price instance: override both, nothing else.
                var twins = entries.Values.Where(e => ReferenceEquals(e.Price, existing.Price)).ToList();
                foreach (var twin in twins)
                {
                    entries[twin.Key] = twin with { Price = updated };
                }
            }
            else
            {
                if (o.Input is null || o.Output is null)
                {
                    var near = entries.Keys.Where(k => k.EndsWith("/" + key, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
                    var hint = near.Count > 0 ? $"; did you mean {string.Join(" or ", near.Select(k => $"'{k}'"))}?" : string.Empty;
                    throw new ArgumentException(
                        $"price override '{key}' names a model the catalog does not have, so it adds one and must set both Input and Output (US dollars per 1M tokens){hint}",
                        nameof(overrides));
                }

                entries[key] = new CatalogEntry(key, new ModelPrice
                {
                    Input = PerToken(o.Input)!.Value,
                    Output = PerToken(o.Output)!.Value,
                    CacheRead = PerToken(o.CacheRead),
                    CacheWrite5m = PerToken(o.CacheWrite5m),
                    CacheWrite1h = PerToken(o.CacheWrite1h),
                    Reasoning = PerToken(o.Reasoning),
                    Provider = o.Provider ?? ProviderOf(key),
                });
            }
        }

        return new PriceCatalog(entries.Values, _localModels, _aliases);
    }

    /// <summary>
    /// A catalog that also treats models matching these patterns as local: cost 0 with <see cref="CostSource.Local"/>.
    /// A pattern is a case-insensitive glob where <c>*</c> matches any run of characters, matched against
    /// <c>provider/model</c> and against <c>model</c> (for example <c>ollama/*</c>).
    /// </summary>
    /// <param name="patterns">The patterns, added to the catalog's existing ones.</param>
    /// <returns>The new catalog.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="patterns"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A pattern is <see langword="null"/> or blank.</exception>
    public PriceCatalog WithLocalModels(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        var added = patterns.ToList();
        for (var i = 0; i < added.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(added[i])) throw new ArgumentException($"local-model pattern #{i} is empty", nameof(patterns));
        }

        return new PriceCatalog(this, _localModels.Concat(added).Distinct(StringComparer.OrdinalIgnoreCase), _aliases);
    }

    /// <summary>
    /// A catalog with aliases added: a model name (or <c>provider/model</c>) → the catalog key to price it with. Aliases
    /// are tried last, and the target must be an exact catalog key; an alias to a missing key leaves the model unpriced.
    /// </summary>
    /// <param name="aliases">Alias → target key, case-insensitive; replaces existing aliases of the same name.</param>
    /// <returns>The new catalog.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="aliases"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An alias or a target is blank; the message names it.</exception>
    public PriceCatalog WithAliases(IReadOnlyDictionary<string, string> aliases)
    {
        ArgumentNullException.ThrowIfNull(aliases);
        var merged = new Dictionary<string, string>(_aliases, StringComparer.OrdinalIgnoreCase);
        foreach (var (alias, target) in aliases)
        {
            if (string.IsNullOrWhiteSpace(alias)) throw new ArgumentException("a price alias has an empty name", nameof(aliases));
            if (string.IsNullOrWhiteSpace(target)) throw new ArgumentException($"price alias '{alias}' has no target", nameof(aliases));
            merged[alias] = target;
        }

        return new PriceCatalog(this, _localModels, merged);
    }

    /// <summary>Finds a model's catalog price by the lookup rules (local-model patterns are not consulted).</summary>
    /// <param name="provider">The provider that served the call (may be empty).</param>
    /// <param name="model">The model that served the call.</param>
    /// <param name="key">The catalog key matched.</param>
    /// <param name="price">The price.</param>
    /// <returns><see langword="true"/> when the catalog prices the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="model"/> is <see langword="null"/>.</exception>
    public bool TryResolve(string provider, string model, [MaybeNullWhen(false)] out string key, [MaybeNullWhen(false)] out ModelPrice price)
    {
        var resolution = Resolve(provider, model);
        key = resolution.Key;
        price = resolution.Price;
        return price is not null;
    }

    /// <summary>
    /// Prices one call. A provider-reported cost wins; then a local-model pattern (cost 0); then the catalog price; an
    /// unknown model is unpriced (cost <see langword="null"/>, never $0).
    /// </summary>
    /// <param name="provider">The provider that served the call (may be empty).</param>
    /// <param name="model">The model that served the call.</param>
    /// <param name="usage">The call's token buckets.</param>
    /// <param name="providerCost">The cost the provider reported (for example OpenRouter <c>usage.cost</c>), if any.</param>
    /// <param name="serviceTier">
    /// The service tier the call ran on (<c>batch</c>, <c>priority</c>, <c>flex</c>); priced with the model's variant for
    /// that tier when it has one, else at the standard price.
    /// </param>
    /// <returns>
    /// The quote: <c>(providerCost, Provider, key or null)</c>; <c>(0, Local, pattern)</c>;
    /// <c>(cost, Catalog, key)</c>; or <c>(null, Unpriced, null)</c>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="model"/> is <see langword="null"/>.</exception>
    public PriceQuote Price(string provider, string model, in TokenUsage usage, decimal? providerCost = null, string? serviceTier = null)
    {
        var resolution = Resolve(provider, model);
        if (providerCost is { } reported) return new PriceQuote(reported, CostSource.Provider, resolution.Key);
        if (resolution.LocalPattern is { } pattern) return new PriceQuote(0m, CostSource.Local, pattern);
        if (resolution.Price is not { } price) return new PriceQuote(null, CostSource.Unpriced, null);
        return new PriceQuote(price.ForServiceTier(serviceTier).Cost(usage), CostSource.Catalog, resolution.Key);
    }

    /// <summary>
    /// The price of one uncached input token of a model, at the long-context tier a call with
    /// <paramref name="promptTokens"/> prompt-side tokens is priced at: 0 for a local model, <see langword="null"/>
    /// when the catalog does not price the model. Attribution prices token savings with it.
    /// </summary>
    internal decimal? InputRate(string provider, string model, long promptTokens, out CostSource source)
    {
        var resolution = Resolve(provider, model);
        if (resolution.LocalPattern is not null)
        {
            source = CostSource.Local;
            return 0m;
        }

        if (resolution.Price is { } price)
        {
            source = CostSource.Catalog;
            return price.InputRate(promptTokens);
        }

        source = CostSource.Unpriced;
        return null;
    }

    private Resolution Resolve(string provider, string model)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(model);

        // A direct-mapped front of recent pairs answers a steady stream of calls without hashing the strings; the
        // dictionary behind it (randomized string hashing) stays robust against any mix of names.
        var slot = RecentSlot(provider, model);
        var recent = _recent[slot];
        if (recent is not null && string.Equals(recent.Model, model) && string.Equals(recent.Provider, provider)) return recent;

        var id = new ModelId(provider, model);
        if (!_resolved.TryGetValue(id, out var resolution))
        {
            resolution = ResolveUncached(provider, model);
            if (Volatile.Read(ref _resolvedCount) < MaxCachedResolutions && _resolved.TryAdd(id, resolution))
            {
                Interlocked.Increment(ref _resolvedCount);
            }
        }

        _recent[slot] = resolution;
        return resolution;
    }

    private static int RecentSlot(string provider, string model)
    {
        var hash = (uint)((model.Length * 31) + provider.Length);
        if (model.Length != 0) hash = (((hash * 31) + model[^1]) * 31) + model[model.Length / 2];
        if (provider.Length != 0) hash = (hash * 31) + provider[^1];
        return (int)(hash & (RecentSlots - 1));
    }

    private Resolution ResolveUncached(string provider, string model)
    {
        var hasProvider = provider.Length != 0;
        var qualified = hasProvider ? $"{provider}/{model}" : null;

        string? localPattern = null;
        foreach (var pattern in _localModels)
        {
            if (ModelNames.GlobMatch(pattern, model) || (qualified is not null && ModelNames.GlobMatch(pattern, qualified)))
            {
                localPattern = pattern;
                break;
            }
        }

        var entry = Find(model) ?? Find(qualified);
        if (entry is null && ModelNames.StripDateSuffix(model) is { } undated)
        {
            entry = Find(undated) ?? (hasProvider ? Find($"{provider}/{undated}") : null);
        }

        if (entry is null
            && (_aliases.TryGetValue(model, out var target) || (qualified is not null && _aliases.TryGetValue(qualified, out target))))
        {
            entry = Find(target);
        }

        return new Resolution(provider, model, localPattern, entry?.Key, entry?.Price);
    }

    private static FrozenDictionary<string, string> Freeze(IReadOnlyDictionary<string, string>? aliases) =>
        aliases is null || aliases.Count == 0 ? NoAliases : aliases.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private CatalogEntry? Find(string? key) => key is not null && _entries.TryGetValue(key, out var entry) ? entry : null;

    private static decimal? PerToken(decimal? perMillion) => perMillion / 1_000_000m;

    private static string? ProviderOf(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? key[..slash] : null;
    }

    private static void CheckNonNegative(string key, ModelPriceOverride o, string paramName)
    {
        Check(o.Input, nameof(o.Input));
        Check(o.Output, nameof(o.Output));
        Check(o.CacheRead, nameof(o.CacheRead));
        Check(o.CacheWrite5m, nameof(o.CacheWrite5m));
        Check(o.CacheWrite1h, nameof(o.CacheWrite1h));
        Check(o.Reasoning, nameof(o.Reasoning));

        void Check(decimal? value, string field)
        {
            if (value < 0m)
            {
                throw new ArgumentException($"price override '{key}': {field} must be >= 0 (got {value})", paramName);
            }
        }
    }

    /// <summary>The cache key: the caller's two strings as given (ordinal), so a hit needs no concatenation.</summary>
    private readonly record struct ModelId(string Provider, string Model);

    /// <summary>What a (provider, model) pair resolved to: a local pattern and/or a catalog entry.</summary>
    private sealed record Resolution(string Provider, string Model, string? LocalPattern, string? Key, ModelPrice? Price);
}
