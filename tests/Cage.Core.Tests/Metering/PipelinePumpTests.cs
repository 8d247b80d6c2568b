using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Tests.Metering;

/// <summary>How the pipeline's pump writes: on its own thread, with asynchronous sinks, and around refused records.</summary>
public class PipelinePumpTests
{
    private static readonly DateTimeOffset At = new(2026, 6, 20, 10, 0, 0, TimeSpan.Zero);

    private static CallRecord Call(string id, DateTimeOffset? at = null) => new() { Id = id, Timestamp = at ?? At, Provider = "p", Model = "m" };

    [Test]
    public async Task Pump_WritesOnItsOwnBackgroundThread_NotOnThePool()
    {
        var sink = new ThreadRecordingSink();
        await using (var meter = new CageMeter(sink, PriceCatalog.BuiltIn, TimeProvider.System))
        {
            meter.Record(Call("c_1"));
            await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.That(sink.Threads, Is.Not.Empty);
        Assert.That(sink.Threads.All(t => !t.Pool && t.Background && t.Name == "Cage ledger pump"), Is.True,
            "a sink that commits synchronously must not hold a thread-pool thread");
    }

    [Test]
    public async Task Pump_SinkCompletingAsynchronously_IsAwaitedBeforeTheFlushCompletes()
    {
        var sink = new SlowAsyncSink();
        await using (var meter = new CageMeter(sink, PriceCatalog.BuiltIn, TimeProvider.System))
        {
            for (var i = 0; i < 3; i++)
            {
                meter.Record(Call("c_" + i));
                await meter.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.That(sink.Inner.Calls, Has.Count.EqualTo(i + 1), "a flush completes once the sink's write has");
            }

            Assert.That(meter.Statistics.Written, Is.EqualTo(3));
        }
    }

    [Test]
    public async Task Pump_SinkRefusesOneRecord_OthersWrittenInOrderWithoutRetrying()
    {
        var sink = new RefusingSink("c_bad");
        var pipeline = new LedgerPipeline(sink, new MeteringOptions { MaxRetries = 3 }, TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
        await using (pipeline)
        {
            // Enqueued back to back, they reach the pump as one batch (or a few): either way only c_bad is lost.
            foreach (var id in new[] { "c_1", "c_2", "c_bad", "c_3" })
            {
                pipeline.TryEnqueue(Call(id));
            }

            pipeline.TryEnqueue(SavingsReceipt.Create("r_1", At, "tool", 10, 5, "c_1"));
            var flushed = pipeline.FlushAsync(CancellationToken.None).AsTask();
            Assert.That(flushed.Wait(TimeSpan.FromSeconds(5)), Is.True, "a refused record is not retried with back-off");
        }

        Assert.That(sink.Inner.Calls.Select(c => c.Id), Is.EqualTo(new[] { "c_1", "c_2", "c_3" }));
        Assert.That(sink.Inner.Receipts.Select(r => r.Id), Is.EqualTo(new[] { "r_1" }));
        // Once in its batch, once alone (or only once, if it arrived alone); with retries it would be 4 times or more.
        Assert.That(sink.Refusals, Is.InRange(1, 2), "a refused record is never retried");
        var stats = pipeline.Statistics;
        Assert.That((stats.Written, stats.Dropped), Is.EqualTo((4L, 1L)));
    }

    private sealed class ThreadRecordingSink : ILedgerSink
    {
        public List<(bool Pool, bool Background, string? Name)> Threads { get; } = [];

        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            var thread = Thread.CurrentThread;
            lock (Threads)
            {
                Threads.Add((thread.IsThreadPoolThread, thread.IsBackground, thread.Name));
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class SlowAsyncSink : ILedgerSink
    {
        public InMemoryLedger Inner { get; } = new();

        public async ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            await Task.Delay(20, cancellationToken);
            await Inner.WriteAsync(batch, cancellationToken);
        }
    }

    private sealed class RefusingSink(string refusedId) : ILedgerSink
    {
        public InMemoryLedger Inner { get; } = new();

        public int Refusals { get; private set; }

        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            // Like the SQLite ledger: the whole batch is validated before anything is stored.
            if (batch.Calls.Any(c => c.Id == refusedId))
            {
                Refusals++;
                throw new CageValidationException("ts", $"call {refusedId}: refused");
            }

            return Inner.WriteAsync(batch, cancellationToken);
        }
    }
}
