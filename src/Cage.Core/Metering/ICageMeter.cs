using CageNet.Pricing;

namespace CageNet;

/// <summary>
/// The metering service: opens scopes around LLM calls, records receipts, and hands everything to the
/// ledger without blocking. Inject it in DI-first code; the static <see cref="Cage"/> facade uses the
/// same service. Every member is fail-open towards the ledger: a ledger fault is logged and counted, never thrown.
/// </summary>
public interface ICageMeter
{
    /// <summary>
    /// Opens an ambient metering scope that flows through <c>async</c>/<c>await</c>. Nested scopes inherit
    /// task, session, agent, user and category from the enclosing scope unless given here.
    /// </summary>
    /// <param name="route">The feature or intent (for example <c>code-edit</c>).</param>
    /// <param name="task">The unit of work.</param>
    /// <param name="session">The conversation or run.</param>
    /// <param name="agent">The agent or application.</param>
    /// <param name="user">The end user or tenant.</param>
    /// <param name="category">The call-site kind (main, delegate, summarize…).</param>
    /// <returns>The scope; dispose it to hand its calls to the ledger.</returns>
    MeterScope Meter(string route, string? task = null, string? session = null, string? agent = null, string? user = null, string? category = null);

    /// <summary>Records a fully built call (from an adapter or importer), pricing nothing: the record is taken as is.</summary>
    /// <param name="call">The call.</param>
    void Record(CallRecord call);

    /// <summary>Records a receipt built with <see cref="SavingsReceipt.Create"/>.</summary>
    /// <param name="receipt">The receipt.</param>
    void Record(SavingsReceipt receipt);

    /// <summary>
    /// Records a tool's saving. Inside a scope, <paramref name="call"/> and <paramref name="task"/> default to the
    /// scope's call and task.
    /// </summary>
    /// <param name="tool">The tool name; required.</param>
    /// <param name="rawAlternative">What it would have been without the tool; ≥ 0.</param>
    /// <param name="actual">What it was with the tool; ≥ 0.</param>
    /// <param name="call">The call id the saving applies to; empty for a call-less receipt.</param>
    /// <param name="task">The task.</param>
    /// <param name="unit">The unit; default tokens.</param>
    /// <param name="method">How it is known; default modeled.</param>
    /// <param name="confidence">0..1; default 1.</param>
    /// <param name="meta">Small metadata (<c>tool_cost_usd</c>, <c>added_latency_ms</c>).</param>
    /// <returns>The recorded receipt.</returns>
    /// <exception cref="CageValidationException">A field is invalid (empty tool, negative amount, confidence outside 0..1).</exception>
    SavingsReceipt RecordReceipt(string tool, decimal rawAlternative, decimal actual, string? call = null, string? task = null, SavingsUnit unit = SavingsUnit.Tokens, SavingsMethod method = SavingsMethod.Modeled, double confidence = 1.0, IReadOnlyDictionary<string, string>? meta = null);

    /// <summary>The price catalog calls are priced with.</summary>
    PriceCatalog Prices { get; }

    /// <summary>The clock used for timestamps and latency.</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>Counters of the pipeline: enqueued, written, dropped, faults.</summary>
    MeteringStatistics Statistics { get; }

    /// <summary>
    /// Completes when every record handed over before the call is committed to the ledger or was dropped and counted,
    /// and says which: the records written and dropped since the previous flush returned. A flush that returns
    /// <see cref="FlushResult.IsComplete"/> means everything metered before it is committed.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the writes).</param>
    /// <returns>What was written and dropped since the previous flush.</returns>
    /// <exception cref="MeteringLossException">Records were dropped and <see cref="Configuration.MeteringOptions.ThrowOnFlushLoss"/> is set.</exception>
    ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default);
}
