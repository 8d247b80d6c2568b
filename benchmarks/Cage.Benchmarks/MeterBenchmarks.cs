using BenchmarkDotNet.Attributes;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;

namespace CageNet.Benchmarks;

/// <summary>
/// The metering hot path on the caller's thread (SPEC 9: ≤ 250 ns median; no allocation beyond the call record
/// and the ambient scope's bookkeeping). The sink discards, so what is measured is Cage, not a disk.
/// </summary>
[MemoryDiagnoser]
[MedianColumn] // the target is a median: always print it, not only when BenchmarkDotNet finds the distribution skewed
public class MeterBenchmarks
{
    private CageMeter _meter = null!;

    [GlobalSetup]
    public void Setup()
    {
        _meter = new CageMeter(new DiscardSink(), PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions { QueueCapacity = 1 << 20 });
        // Warm the price-resolution cache as a long-running app would have.
        using var m = _meter.Meter("code-edit");
        m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
    }

    [GlobalCleanup]
    public void Cleanup() => _meter.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Open a scope, report usage, dispose: one metered call.</summary>
    [Benchmark]
    public void ScopeUsageDispose()
    {
        using var m = _meter.Meter("code-edit");
        m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
    }

    /// <summary>The same with task/session/agent labels and cache buckets.</summary>
    [Benchmark]
    public void ScopeWithLabelsAndCache()
    {
        using var m = _meter.Meter("code-edit", task: "fix-handover-bug", session: "demo", agent: "claude-code");
        m.Usage("anthropic", "claude-opus-4-8", input: 2600, output: 1500, cacheRead: 6000, cacheWrite5m: 400);
    }

    /// <summary>Pricing alone (a cached catalog lookup plus decimal arithmetic).</summary>
    [Benchmark]
    public decimal? PriceOnly() => _meter.Prices.Price("anthropic", "claude-opus-4-8", new TokenUsage(8600, Output: 1500)).CostUsd;

    private sealed class DiscardSink : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
