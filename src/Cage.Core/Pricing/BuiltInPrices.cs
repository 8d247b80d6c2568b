namespace CageNet.Pricing;

/// <summary>
/// The built-in price table: common current models keyed <c>provider/model</c>, in US dollars per 1M tokens as the
/// providers publish them (converted to per token on load). Numbers follow the community price map
/// (LiteLLM's <c>model_prices_and_context_window.json</c>) so a built-in price and the map never disagree, with one
/// deliberate exception: <c>anthropic/claude-opus-4-8</c> carries the reference table's $3 / $15 that the SPEC's
/// worked example is defined against. A user who points Cage at a full map gets the map's prices on top.
/// </summary>
/// <remarks>
/// Deliberately left out: the map's <c>cache_creation_input_token_cost_above_200k_tokens</c> on Gemini models (Gemini
/// reports no cache writes; the value is cache storage, not a write price) and gpt-5-nano's lone
/// <c>input_cost_per_token_priority</c> (a priority price 50× the standard one with no output price is almost surely a
/// data error). Facts as of the map snapshot in <c>shared/data</c>; keep them current.
/// </remarks>
internal static class BuiltInPrices
{
    private const long Above200k = 200_000;
    private const long Above272k = 272_000;

    /// <summary>The table's entries.</summary>
    public static IEnumerable<CatalogEntry> Entries()
    {
        // Anthropic: cache read 0.1×, 5-minute write 1.25×, 1-hour write 2× the input price.
        yield return Model("anthropic/claude-opus-4-8", new(In: 3m, Out: 15m, CacheRead: 0.30m, Write5m: 3.75m, Write1h: 6m));
        yield return Model("anthropic/claude-opus-4-7", new(In: 5m, Out: 25m, CacheRead: 0.50m, Write5m: 6.25m, Write1h: 10m));
        yield return Model("anthropic/claude-opus-4-6", new(In: 5m, Out: 25m, CacheRead: 0.50m, Write5m: 6.25m, Write1h: 10m));
        yield return Model("anthropic/claude-opus-4-5", new(In: 5m, Out: 25m, CacheRead: 0.50m, Write5m: 6.25m, Write1h: 10m));
        yield return Model("anthropic/claude-opus-4-1", new(In: 15m, Out: 75m, CacheRead: 1.50m, Write5m: 18.75m, Write1h: 30m));
        yield return Model("anthropic/claude-opus-4", new(In: 15m, Out: 75m, CacheRead: 1.50m, Write5m: 18.75m, Write1h: 30m));
        yield return Model("anthropic/claude-sonnet-4-6", new(In: 3m, Out: 15m, CacheRead: 0.30m, Write5m: 3.75m, Write1h: 6m));
        yield return Model(
            "anthropic/claude-sonnet-4-5",
            new(In: 3m, Out: 15m, CacheRead: 0.30m, Write5m: 3.75m, Write1h: 6m),
            tiers: [(Above200k, new(In: 6m, Out: 22.50m, CacheRead: 0.60m, Write5m: 7.50m, Write1h: 12m))]);
        yield return Model(
            "anthropic/claude-sonnet-4",
            new(In: 3m, Out: 15m, CacheRead: 0.30m, Write5m: 3.75m, Write1h: 6m),
            tiers: [(Above200k, new(In: 6m, Out: 22.50m, CacheRead: 0.60m, Write5m: 7.50m))]);
        yield return Model("anthropic/claude-haiku-4-5", new(In: 1m, Out: 5m, CacheRead: 0.10m, Write5m: 1.25m, Write1h: 2m));

        // OpenAI: cached input is a read; OpenAI bills no cache writes.
        yield return Model(
            "openai/gpt-4.1",
            new(In: 2m, Out: 8m, CacheRead: 0.50m),
            batch: new(In: 1m, Out: 4m),
            priority: new(In: 3.50m, Out: 14m, CacheRead: 0.875m));
        yield return Model(
            "openai/gpt-4.1-mini",
            new(In: 0.40m, Out: 1.60m, CacheRead: 0.10m),
            batch: new(In: 0.20m, Out: 0.80m),
            priority: new(In: 0.70m, Out: 2.80m, CacheRead: 0.175m));
        yield return Model(
            "openai/gpt-4.1-nano",
            new(In: 0.10m, Out: 0.40m, CacheRead: 0.025m),
            batch: new(In: 0.05m, Out: 0.20m),
            priority: new(In: 0.20m, Out: 0.80m, CacheRead: 0.05m));
        yield return Model(
            "openai/gpt-4o",
            new(In: 2.50m, Out: 10m, CacheRead: 1.25m),
            batch: new(In: 1.25m, Out: 5m),
            priority: new(In: 4.25m, Out: 17m, CacheRead: 2.125m));
        yield return Model(
            "openai/gpt-4o-mini",
            new(In: 0.15m, Out: 0.60m, CacheRead: 0.075m),
            batch: new(In: 0.075m, Out: 0.30m),
            priority: new(In: 0.25m, Out: 1m, CacheRead: 0.125m));
        yield return Model(
            "openai/gpt-5",
            new(In: 1.25m, Out: 10m, CacheRead: 0.125m),
            flex: new(In: 0.625m, Out: 5m, CacheRead: 0.0625m),
            priority: new(In: 2.50m, Out: 20m, CacheRead: 0.25m));
        yield return Model(
            "openai/gpt-5-mini",
            new(In: 0.25m, Out: 2m, CacheRead: 0.025m),
            flex: new(In: 0.125m, Out: 1m, CacheRead: 0.0125m),
            priority: new(In: 0.45m, Out: 3.60m, CacheRead: 0.045m));
        yield return Model(
            "openai/gpt-5-nano",
            new(In: 0.05m, Out: 0.40m, CacheRead: 0.005m),
            flex: new(In: 0.025m, Out: 0.20m, CacheRead: 0.0025m));
        yield return Model(
            "openai/gpt-5.1",
            new(In: 1.25m, Out: 10m, CacheRead: 0.125m),
            priority: new(In: 2.50m, Out: 20m, CacheRead: 0.25m));
        yield return Model(
            "openai/gpt-5.2",
            new(In: 1.75m, Out: 14m, CacheRead: 0.175m),
            priority: new(In: 3.50m, Out: 28m, CacheRead: 0.35m));
        yield return Model(
            "openai/gpt-5.4",
            new(In: 2.50m, Out: 15m, CacheRead: 0.25m),
            tiers: [(Above272k, new(In: 5m, Out: 22.50m, CacheRead: 0.50m))],
            batch: new(In: 1.25m, Out: 7.50m),
            flex: new(In: 1.25m, Out: 7.50m, CacheRead: 0.13m),
            priority: new(In: 5m, Out: 30m, CacheRead: 0.50m));
        yield return Model(
            "openai/gpt-5.4-mini",
            new(In: 0.75m, Out: 4.50m, CacheRead: 0.075m),
            batch: new(In: 0.375m, Out: 2.25m),
            flex: new(In: 0.375m, Out: 2.25m, CacheRead: 0.0375m),
            priority: new(In: 1.50m, Out: 9m, CacheRead: 0.15m));
        yield return Model(
            "openai/o3",
            new(In: 2m, Out: 8m, CacheRead: 0.50m),
            flex: new(In: 1m, Out: 4m, CacheRead: 0.25m),
            priority: new(In: 3.50m, Out: 14m, CacheRead: 0.875m));
        yield return Model("openai/o3-mini", new(In: 1.10m, Out: 4.40m, CacheRead: 0.55m));
        yield return Model(
            "openai/o4-mini",
            new(In: 1.10m, Out: 4.40m, CacheRead: 0.275m),
            flex: new(In: 0.55m, Out: 2.20m, CacheRead: 0.1375m),
            priority: new(In: 2m, Out: 8m, CacheRead: 0.50m));

        // Google Gemini: thinking tokens are billed as output.
        yield return Model(
            "gemini/gemini-2.5-pro",
            new(In: 1.25m, Out: 10m, CacheRead: 0.125m),
            tiers: [(Above200k, new(In: 2.50m, Out: 15m, CacheRead: 0.25m))]);
        yield return Model("gemini/gemini-2.5-flash", new(In: 0.30m, Out: 2.50m, CacheRead: 0.03m, Reasoning: 2.50m));
        yield return Model("gemini/gemini-2.5-flash-lite", new(In: 0.10m, Out: 0.40m, CacheRead: 0.01m, Reasoning: 0.40m));
        yield return Model(
            "gemini/gemini-3-pro-preview",
            new(In: 2m, Out: 12m, CacheRead: 0.20m),
            tiers: [(Above200k, new(In: 4m, Out: 18m, CacheRead: 0.40m))],
            batch: new(In: 1m, Out: 6m),
            priority: new(In: 3.60m, Out: 21.60m, CacheRead: 0.36m),
            priorityTiers: [(Above200k, new(In: 7.20m, Out: 32.40m, CacheRead: 0.72m))]);

        // Others.
        yield return Model("deepseek/deepseek-chat", new(In: 0.28m, Out: 0.42m, CacheRead: 0.028m));
        yield return Model("deepseek/deepseek-reasoner", new(In: 0.28m, Out: 0.42m, CacheRead: 0.028m));
        yield return Model("xai/grok-4.5", new(In: 2m, Out: 6m, CacheRead: 0.50m));
    }

    private static CatalogEntry Model(
        string key,
        Rates standard,
        (long Above, Rates Rates)[]? tiers = null,
        Rates? batch = null,
        Rates? priority = null,
        Rates? flex = null,
        (long Above, Rates Rates)[]? priorityTiers = null)
    {
        var builder = new ModelPriceBuilder { Provider = key[..key.IndexOf('/', StringComparison.Ordinal)] };
        standard.AddTo(builder, serviceTier: null, aboveTokens: 0);
        foreach (var (above, rates) in tiers ?? [])
        {
            rates.AddTo(builder, serviceTier: null, above);
        }

        batch?.AddTo(builder, "batch", 0);
        flex?.AddTo(builder, "flex", 0);
        priority?.AddTo(builder, "priority", 0);
        foreach (var (above, rates) in priorityTiers ?? [])
        {
            rates.AddTo(builder, "priority", above);
        }

        return new CatalogEntry(key, builder.Build() ?? throw new InvalidOperationException($"built-in price '{key}' lacks input or output"));
    }

    /// <summary>Prices in US dollars per 1M tokens, as providers publish them.</summary>
    private sealed record Rates(
        decimal? In = null,
        decimal? Out = null,
        decimal? CacheRead = null,
        decimal? Write5m = null,
        decimal? Write1h = null,
        decimal? Reasoning = null)
    {
        public void AddTo(ModelPriceBuilder builder, string? serviceTier, long aboveTokens)
        {
            Add(PriceField.Input, In);
            Add(PriceField.Output, Out);
            Add(PriceField.CacheRead, CacheRead);
            Add(PriceField.CacheWrite5m, Write5m);
            Add(PriceField.CacheWrite1h, Write1h);
            Add(PriceField.Reasoning, Reasoning);

            void Add(PriceField field, decimal? perMillion)
            {
                if (perMillion is { } value) builder.Set(field, value / 1_000_000m, serviceTier, aboveTokens);
            }
        }
    }
}
