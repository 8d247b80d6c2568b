using System.Diagnostics.Metrics;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Metering;

/// <summary>The pipeline's guarantees under shutdown races and hostile loggers, listeners and clocks.</summary>
public class PipelineShutdownTests
{
    private static CallRecord Call(int i) => new() { Id = "c_" + i, Timestamp = DateTimeOffset.UnixEpoch, Provider = "p", Model = "m" };

    [Test, Repeat(20)]
    public async Task DrainAsync_ProducersRacingShutdown_EveryAcceptedRecordIsWritten()
    {
        var ledger = new InMemoryLedger();
        using var instruments = new CageInstruments(scope: new object());
        var pipeline = new LedgerPipeline(ledger, new MeteringOptions(), TimeProvider.System, NullLogger.Instance, instruments);
        var accepted = 0;
        var go = new ManualResetEventSlim();
        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            go.Wait();
            for (var i = 0; i < 5000; i++)
            {
                if (pipeline.TryEnqueue(Call(p * 10_000 + i)))
                {
                    Interlocked.Increment(ref accepted);
                }
            }
        })).ToArray();
        var flushes = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            go.Wait();
            await pipeline.FlushAsync(CancellationToken.None);
        })).ToArray();

        go.Set();
        await Task.Delay(1);
        await pipeline.DrainAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(producers);
        Assert.That(Task.WhenAll(flushes).Wait(TimeSpan.FromSeconds(10)), Is.True, "a flush racing shutdown must complete");
        Assert.That(ledger.Calls, Has.Count.EqualTo(accepted), "an accepted record is written, never stranded");
        var stats = pipeline.Statistics;
        Assert.That(stats.Written, Is.EqualTo(accepted));
        Assert.That(stats.Enqueued, Is.EqualTo(accepted));
    }

    [Test]
    public async Task Usage_ThrowingLogger_NeverReachesCallerAndPumpKeepsWriting()
    {
        var flaky = new FlakySink(1);
        var meter = new CageMeter(flaky, PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions { MaxRetries = 2 }, new ThrowingLogger());
        await using (meter)
        {
            Assert.DoesNotThrow(() =>
            {
                using var m = meter.Meter("chat");
                m.Usage("acme", "unknown-model", input: 1, output: 1); // logs "unpriced" through the throwing logger
            });
            await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // the retry path logs too
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", input: 1, output: 1);
            }

            await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(flaky.Inner.Calls, Has.Count.EqualTo(2));
        }
    }

    [Test]
    public async Task FlushAsync_ThrowingMetricListener_CompletesAndWritesContinue()
    {
        var scope = new object();
        using var instruments = new CageInstruments(scope: scope);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == scope && instrument.Name == CageTelemetry.WrittenRecords)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => throw new InvalidOperationException("listener bug"));
        listener.Start();
        var ledger = new InMemoryLedger();
        var meter = new CageMeter(ledger, PriceCatalog.BuiltIn, TimeProvider.System, instruments: instruments);
        await using (meter)
        {
            for (var round = 0; round < 3; round++)
            {
                using (var m = meter.Meter("chat"))
                {
                    m.Usage("openai", "gpt-4o", input: 1, output: 1);
                }

                await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }

            Assert.That(ledger.Calls, Has.Count.EqualTo(3));
            Assert.That(meter.Statistics.Written, Is.EqualTo(3));
            Assert.That(meter.Statistics.Dropped, Is.Zero);
        }
    }

    [Test]
    public async Task FlushAsync_TransientFaultUnderFakeClock_StillCompletes()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero));
        var sink = new FlakySink(1);
        var meter = new CageMeter(sink, PriceCatalog.BuiltIn, time);
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", input: 1, output: 1);
            }

            // Back-off runs on the real clock: a test's frozen clock must not stall the writer.
            await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(sink.Inner.Calls, Has.Count.EqualTo(1));
        }
    }

    [Test]
    public void Dispose_OutOfOrder_DisposedScopeIsNeverCurrentAgain()
    {
        var meter = new CageMeter(new InMemoryLedger(), PriceCatalog.BuiltIn, TimeProvider.System);
        var outer = meter.Meter("outer");
        var inner = meter.Meter("inner");
        outer.Dispose();
        Assert.That(MeterScope.Current, Is.SameAs(inner));
        inner.Dispose();
        Assert.That(MeterScope.Current, Is.Null, "the disposed outer scope must not come back");
        using var next = meter.Meter("next");
        Assert.That(next.Parent, Is.Null);
    }

    private sealed class ThrowingLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new AggregateException(new InvalidOperationException("logging provider bug"));
    }
}
