using System.Globalization;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;

namespace CageNet.Benchmarks;

/// <summary>
/// A plain loop over the metering hot path (the same call as <see cref="MeterBenchmarks.ScopeUsageDispose"/>), for
/// profiling with <c>perf</c>: prints ns/op per round with the garbage collections and the time paused in them.
/// Run: <c>dotnet run -c Release --project benchmarks/Cage.Benchmarks -- meterloop [seconds]</c>.
/// </summary>
internal static class MeterLoop
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var meter = new CageMeter(new DiscardSink(), PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions { QueueCapacity = 1 << 20 });
        for (var round = 0; round < 5; round++)
        {
            var pause = GC.GetTotalPauseDuration();
            var (gen0, gen1) = (GC.CollectionCount(0), GC.CollectionCount(1));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long n = 0;
            while (clock.Elapsed.TotalSeconds < seconds / 5)
            {
                for (var i = 0; i < 1000; i++)
                {
                    using var m = meter.Meter("code-edit");
                    m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
                }

                n += 1000;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{clock.Elapsed.TotalNanoseconds / n:F1} ns/op  gen0 {GC.CollectionCount(0) - gen0}  gen1 {GC.CollectionCount(1) - gen1}  paused {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0} ms of {clock.Elapsed.TotalMilliseconds:F0} ms"));
        }

        meter.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }

    private sealed class DiscardSink : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
