namespace CageNet.Configuration;

/// <summary>
/// Cage's policy: the <c>Cage</c> configuration section of a host's appsettings, and the same schema in the
/// CLI's <c>.cage/cage.json</c>, so an app and the <c>cage</c> tool read one format.
/// </summary>
public sealed class CageOptions
{
    /// <summary>The configuration section name: <c>Cage</c>.</summary>
    public const string SectionName = "Cage";

    /// <summary>Tool settings (the canonical tool order).</summary>
    public ToolsOptions Tools { get; set; } = new();

    /// <summary>Pricing settings (price map file, per-model overrides, local models, aliases).</summary>
    public PricingOptions Pricing { get; set; } = new();

    /// <summary>Metering pipeline settings (queue, batching).</summary>
    public MeteringOptions Metering { get; set; } = new();
}

/// <summary>Tool settings.</summary>
public sealed class ToolsOptions
{
    /// <summary>
    /// The canonical tool order: a receipt reports the saving its tool made at this position, given the tools
    /// upstream of it. Attribution rows follow this order, then tool name. Default empty.
    /// </summary>
    public List<string> Order { get; set; } = [];
}

/// <summary>Pricing settings.</summary>
public sealed class PricingOptions
{
    /// <summary>
    /// A price map in the community format (LiteLLM's <c>model_prices_and_context_window.json</c>) layered over
    /// the built-in table. Relative paths resolve against the policy file's folder (or the working directory).
    /// <c>CAGE_PRICES</c> and the CLI's <c>--prices</c> override it. Default: none (built-in table only).
    /// </summary>
    public string? MapFile { get; set; }

    /// <summary>
    /// Per-model price overrides in US dollars per 1M tokens, keyed by catalog key (<c>provider/model</c> or
    /// <c>model</c>). Merged per model and per field: overriding one model never un-prices its siblings, and
    /// fields left out keep the catalog's value.
    /// </summary>
    public Dictionary<string, ModelPriceOverride> Overrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Patterns of local models that cost $0 by policy (<c>cost_source=local</c>), matched against
    /// <c>provider/model</c> and <c>model</c>; <c>*</c> matches any run of characters. Default <c>ollama/*</c>.
    /// </summary>
    public List<string> LocalModels { get; set; } = [];

    /// <summary>Aliases: a model name → the catalog key to price it with. Tried last, after exact and date-stripped matches.</summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One model's price override, in US dollars per 1M tokens. Unset fields keep the catalog's value.</summary>
public sealed class ModelPriceOverride
{
    /// <summary>The provider name, used when the override adds a model the catalog did not have.</summary>
    public string? Provider { get; set; }
    /// <summary>Uncached input, $ per 1M tokens.</summary>
    public decimal? Input { get; set; }
    /// <summary>Output, $ per 1M tokens.</summary>
    public decimal? Output { get; set; }
    /// <summary>Cache reads, $ per 1M tokens (defaults to the input price when the model has none).</summary>
    public decimal? CacheRead { get; set; }
    /// <summary>5-minute cache writes, $ per 1M tokens (defaults to the input price when the model has none).</summary>
    public decimal? CacheWrite5m { get; set; }
    /// <summary>1-hour cache writes, $ per 1M tokens (defaults to the 5-minute write price, then the input price).</summary>
    public decimal? CacheWrite1h { get; set; }
    /// <summary>Reasoning tokens, $ per 1M tokens (defaults to the output price).</summary>
    public decimal? Reasoning { get; set; }
}

/// <summary>Metering pipeline settings.</summary>
public sealed class MeteringOptions
{
    /// <summary>
    /// Records the in-process queue holds. When it is full because the ledger writer is behind, a producer waits for
    /// room (up to <see cref="FullQueueWait"/>); a record is dropped (and counted) only when the ledger is failing or
    /// the wait runs out. Default 65,536.
    /// </summary>
    public int QueueCapacity { get; set; } = 65_536;

    /// <summary>
    /// How long a producer waits for room when the queue is full while the ledger is healthy (writing, only behind).
    /// Default 5 seconds. While the ledger is failing (a write is being retried) nothing waits: records are dropped and
    /// counted at once, so metering stays fail-open. After one wait runs out, later producers drop at once until the
    /// writer commits again, so a stalled ledger costs one wait, not one per call. <see cref="TimeSpan.Zero"/> never waits.
    /// </summary>
    public TimeSpan FullQueueWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most records written in one ledger transaction. Default 4,096.</summary>
    public int MaxBatchSize { get; set; } = 4_096;

    /// <summary>
    /// Times a failed batch is retried (with back-off) before it is dropped and counted. Default 3. A record the sink
    /// refuses with <see cref="CageValidationException"/> is not retried: it is isolated and dropped alone.
    /// </summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// Whether a meter built by dependency injection becomes the process-wide instance behind the static
    /// <c>Cage</c> facade. Default <see langword="true"/>.
    /// </summary>
    public bool SetAsStaticDefault { get; set; } = true;

    /// <summary>
    /// Whether <c>FlushAsync</c> throws <see cref="MeteringLossException"/> when records were dropped since the
    /// previous flush (a full queue, or a ledger that kept failing). Default <see langword="false"/>: the flush returns
    /// a <see cref="FlushResult"/> that says so instead.
    /// </summary>
    public bool ThrowOnFlushLoss { get; set; }

    /// <summary>
    /// Warn once per session when its cloud cost reaches this many dollars (seed 001's "you've spent $1 this session"):
    /// logged as event 1012 and raised by <see cref="Budgets.SessionCostTracker.Warned"/>. Default none.
    /// </summary>
    public decimal? SessionWarnAtUsd { get; set; }

    /// <summary>Warn once per session when its prompt + completion tokens reach this. Default none.</summary>
    public long? SessionWarnAtTokens { get; set; }
}
