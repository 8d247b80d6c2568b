using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CageNet;

/// <summary>
/// Names of Cage's <see cref="System.Diagnostics.Metrics"/> instruments. Subscribe with
/// OpenTelemetry's <c>AddMeter(CageTelemetry.MeterName)</c> or a <c>MeterListener</c>; Cage itself has no
/// OpenTelemetry dependency.
/// </summary>
public static class CageTelemetry
{
    /// <summary>The meter name: <c>Cage</c>.</summary>
    public const string MeterName = "Cage";

    /// <summary>
    /// GenAI semantic-convention histogram of tokens per call, tagged by <c>gen_ai.token.type</c> (<c>input</c> / <c>output</c>),
    /// <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c> and <c>gen_ai.response.model</c>. As the conventions define
    /// it, <c>input</c> counts every prompt-side token (uncached, cache reads and cache writes) and <c>output</c> includes
    /// reasoning; the conventions have no token type for cache or reasoning, so that detail is in <see cref="TokenDetail"/>.
    /// </summary>
    public const string TokenUsage = "gen_ai.client.token.usage";

    /// <summary>
    /// Histogram of tokens per call by exclusive bucket, tagged <see cref="TokenBucketAttribute"/> = <c>input</c> (uncached),
    /// <c>cache_read</c>, <c>cache_write_5m</c>, <c>cache_write_1h</c>, <c>output</c> (reasoning included) or <c>reasoning</c>
    /// (the part of output spent reasoning; do not add it to output), with the same <c>gen_ai.*</c> attributes as
    /// <see cref="TokenUsage"/> and <c>gen_ai.token.type</c> = <c>input</c> for the prompt-side buckets, <c>output</c> for the
    /// others. <c>input</c> and <c>output</c> are recorded for every call; the cache and reasoning buckets when non-zero.
    /// </summary>
    public const string TokenDetail = "cage.token.usage";

    /// <summary>The attribute naming the bucket of a <see cref="TokenDetail"/> measurement: <c>cage.token.bucket</c>.</summary>
    public const string TokenBucketAttribute = "cage.token.bucket";

    /// <summary>Counter of metered cost in US dollars (priced calls only), tagged by provider and model.</summary>
    public const string Cost = "cage.cost";

    /// <summary>Counter of metered calls that could not be priced (unknown model).</summary>
    public const string UnpricedCalls = "cage.calls.unpriced";

    /// <summary>Counter of records dropped because the queue was full or the ledger kept failing.</summary>
    public const string DroppedRecords = "cage.ledger.dropped";

    /// <summary>Counter of ledger write faults (each failed attempt to write a batch).</summary>
    public const string LedgerFaults = "cage.ledger.faults";

    /// <summary>Counter of records committed to the ledger.</summary>
    public const string WrittenRecords = "cage.ledger.written";

    /// <summary>Counter of budget warn thresholds crossed, tagged <c>cage.budget.node</c> (the configured path) and <c>cage.budget.threshold</c>.</summary>
    public const string BudgetWarnings = "cage.budget.warnings";

    /// <summary>Counter of calls a blocking budget refused, tagged <c>cage.budget.node</c> (the configured path).</summary>
    public const string BudgetRefusals = "cage.budget.refusals";
}

/// <summary>The instruments behind <see cref="CageTelemetry"/>; one per meter instance.</summary>
internal sealed class CageInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    /// <param name="meterFactory">The host's meter factory; a standalone meter when null.</param>
    /// <param name="scope">The meter's scope for a standalone meter (tests use a private one to isolate their collectors).</param>
    public CageInstruments(IMeterFactory? meterFactory = null, object? scope = null)
    {
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(CageTelemetry.MeterName));
        }
        else
        {
            _meter = new Meter(CageTelemetry.MeterName, version: null, tags: null, scope: scope);
            _ownsMeter = true;
        }

        TokenUsage = _meter.CreateHistogram<long>(CageTelemetry.TokenUsage, "{token}", "Number of input and output tokens used per call.");
        TokenDetail = _meter.CreateHistogram<long>(CageTelemetry.TokenDetail, "{token}", "Tokens per call by exclusive bucket: uncached input, cache reads, 5-minute and 1-hour cache writes, output; and reasoning (part of output).");
        Cost = _meter.CreateCounter<double>(CageTelemetry.Cost, "USD", "Metered LLM cost (priced calls).");
        Unpriced = _meter.CreateCounter<long>(CageTelemetry.UnpricedCalls, "{call}", "Metered calls whose model has no price.");
        Dropped = _meter.CreateCounter<long>(CageTelemetry.DroppedRecords, "{record}", "Records dropped by the metering pipeline.");
        Faults = _meter.CreateCounter<long>(CageTelemetry.LedgerFaults, "{fault}", "Failed ledger batch writes.");
        Written = _meter.CreateCounter<long>(CageTelemetry.WrittenRecords, "{record}", "Records committed to the ledger.");
    }

    public Histogram<long> TokenUsage { get; }
    public Histogram<long> TokenDetail { get; }
    public Counter<double> Cost { get; }
    public Counter<long> Unpriced { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> Faults { get; }
    public Counter<long> Written { get; }

    public void RecordCall(CallRecord call)
    {
        if (TokenUsage.Enabled)
        {
            var tags = new TagList
            {
                { "gen_ai.operation.name", "chat" },
                { "gen_ai.provider.name", call.Provider },
                { "gen_ai.response.model", call.Model },
                { "gen_ai.token.type", "input" },
            };
            TokenUsage.Record(call.Usage.PromptTokens, tags);
            tags[3] = new KeyValuePair<string, object?>("gen_ai.token.type", "output");
            TokenUsage.Record(call.Usage.Output, tags);
        }

        if (TokenDetail.Enabled)
        {
            RecordDetail(call);
        }

        if (Cost.Enabled && call.CostUsd is { } cost)
        {
            Cost.Add((double)cost, new KeyValuePair<string, object?>("gen_ai.provider.name", call.Provider), new KeyValuePair<string, object?>("gen_ai.response.model", call.Model));
        }

        if (call.CostSource == CostSource.Unpriced && Unpriced.Enabled)
        {
            Unpriced.Add(1, new KeyValuePair<string, object?>("gen_ai.provider.name", call.Provider), new KeyValuePair<string, object?>("gen_ai.response.model", call.Model));
        }
    }

    private void RecordDetail(CallRecord call)
    {
        var usage = call.Usage;
        var tags = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { "gen_ai.provider.name", call.Provider },
            { "gen_ai.response.model", call.Model },
            { "gen_ai.token.type", "input" },
            { CageTelemetry.TokenBucketAttribute, "input" },
        };
        TokenDetail.Record(usage.Input, tags);
        Bucket(ref tags, usage.CacheRead, "cache_read");
        Bucket(ref tags, usage.CacheWrite5m, "cache_write_5m");
        Bucket(ref tags, usage.CacheWrite1h, "cache_write_1h");
        tags[3] = new KeyValuePair<string, object?>("gen_ai.token.type", "output");
        tags[4] = new KeyValuePair<string, object?>(CageTelemetry.TokenBucketAttribute, "output");
        TokenDetail.Record(usage.Output, tags);
        Bucket(ref tags, usage.Reasoning ?? 0, "reasoning");
    }

    private void Bucket(ref TagList tags, long value, string bucket)
    {
        if (value <= 0)
        {
            return;
        }

        tags[4] = new KeyValuePair<string, object?>(CageTelemetry.TokenBucketAttribute, bucket);
        TokenDetail.Record(value, tags);
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
