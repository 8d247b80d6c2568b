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

    /// <summary>GenAI semantic-convention histogram of tokens per call, tagged by <c>gen_ai.token.type</c> (<c>input</c> / <c>output</c>).</summary>
    public const string TokenUsage = "gen_ai.client.token.usage";

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
        Cost = _meter.CreateCounter<double>(CageTelemetry.Cost, "USD", "Metered LLM cost (priced calls).");
        Unpriced = _meter.CreateCounter<long>(CageTelemetry.UnpricedCalls, "{call}", "Metered calls whose model has no price.");
        Dropped = _meter.CreateCounter<long>(CageTelemetry.DroppedRecords, "{record}", "Records dropped by the metering pipeline.");
        Faults = _meter.CreateCounter<long>(CageTelemetry.LedgerFaults, "{fault}", "Failed ledger batch writes.");
        Written = _meter.CreateCounter<long>(CageTelemetry.WrittenRecords, "{record}", "Records committed to the ledger.");
    }

    public Histogram<long> TokenUsage { get; }
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

        if (call.CostUsd is { } cost && Cost.Enabled)
        {
            Cost.Add((double)cost, new KeyValuePair<string, object?>("gen_ai.provider.name", call.Provider), new KeyValuePair<string, object?>("gen_ai.response.model", call.Model));
        }

        if (call.CostSource == CostSource.Unpriced && Unpriced.Enabled)
        {
            Unpriced.Add(1, new KeyValuePair<string, object?>("gen_ai.provider.name", call.Provider), new KeyValuePair<string, object?>("gen_ai.response.model", call.Model));
        }
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
