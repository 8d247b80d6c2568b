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
        var pipeline = new LedgerPipeline(sink, new MeteringOptions { MaxRetries = 10 }, TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
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
        // Once per halving step (at most 1 + log2(5) rounded up); with retries it would be 11 times or more.
        Assert.That(sink.Refusals, Is.InRange(1, 4), "a refused record is never retried");
        var stats = pipeline.Statistics;
        Assert.That((stats.Written, stats.Dropped), Is.EqualTo((4L, 1L)));
    }

    [Test]
    public async Task Pump_OneRefusedRecordInALargeBatch_FoundByHalvingNotOneByOne()
    {
        var sink = new RefusingSink("c_77");
        var pipeline = new LedgerPipeline(sink, new MeteringOptions(), TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
        await using (pipeline)
        {
            for (var i = 0; i < 200; i++)
            {
                pipeline.TryEnqueue(Call("c_" + i));
            }

            await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.That(sink.Inner.Calls, Has.Count.EqualTo(199));
        Assert.That(sink.Inner.Calls.Select(c => c.Id), Is.EqualTo(Enumerable.Range(0, 200).Where(i => i != 77).Select(i => "c_" + i)), "arrival order kept");
        Assert.That(sink.Writes, Is.LessThan(40), "about 2·log2(n) writes, not one per record");
        var stats = pipeline.Statistics;
        Assert.That((stats.Written, stats.Dropped, stats.Faults), Is.EqualTo((199L, 1L, 0L)), "a refusal is a dropped record, not a ledger fault");
    }

    [Test]
    public async Task Pump_RefusedRecordThenTheLedgerFails_RestDroppedAfterOneBackOffNotPerRecord()
    {
        var sink = new RefusingSink("c_0") { FailAfterRefusal = true };
        var pipeline = new LedgerPipeline(sink, new MeteringOptions { MaxRetries = 1 }, TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
        await using (pipeline)
        {
            for (var i = 0; i < 20; i++)
            {
                pipeline.TryEnqueue(Call("c_" + i));
            }

            var flushed = pipeline.FlushAsync(CancellationToken.None).AsTask();
            Assert.That(flushed.Wait(TimeSpan.FromSeconds(5)), Is.True, "one back-off ladder (50 ms here), not one per record");
        }

        var stats = pipeline.Statistics;
        Assert.That((stats.Written, stats.Dropped, stats.Enqueued), Is.EqualTo((0L, 20L, 20L)));
        Assert.That(sink.Writes, Is.LessThan(10));
    }

    [Test]
    public async Task Pump_SinkReturningAPooledValueTaskSource_ResultConsumedEveryTime()
    {
        var sink = new PooledSourceSink();
        var pipeline = new LedgerPipeline(sink, new MeteringOptions { MaxRetries = 0 }, TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
        await using (pipeline)
        {
            for (var i = 0; i < 3; i++)
            {
                pipeline.TryEnqueue(Call("c_" + i));
                await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }

        var stats = pipeline.Statistics;
        Assert.That((stats.Written, stats.Dropped, stats.Faults), Is.EqualTo((3L, 0L, 0L)));
    }

    [Test]
    public async Task Pump_IdleSpell_ThreadEndsAndTheNextRecordStartsAnother()
    {
        var sink = new InMemoryLedger();
        var pipeline = new LedgerPipeline(sink, new MeteringOptions(), TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()), idleExit: TimeSpan.FromMilliseconds(100));
        await using (pipeline)
        {
            pipeline.TryEnqueue(Call("c_1"));
            await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(await WaitUntil(() => !pipeline.PumpRunning), Is.True, "an idle pump gives its thread back");

            pipeline.TryEnqueue(Call("c_2"));
            Assert.That(pipeline.PumpRunning, Is.True);
            await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.That(sink.Calls.Select(c => c.Id), Is.EqualTo(new[] { "c_1", "c_2" }));

            Assert.That(await WaitUntil(() => !pipeline.PumpRunning), Is.True);
            await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // a flush alone restarts it too
        }

        Assert.That(pipeline.Statistics.Written, Is.EqualTo(2));
    }

    [Test]
    public async Task DrainAsync_AfterThePumpEndedIdle_Completes()
    {
        var sink = new InMemoryLedger();
        var pipeline = new LedgerPipeline(sink, new MeteringOptions(), TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()), idleExit: TimeSpan.FromMilliseconds(50));
        pipeline.TryEnqueue(Call("c_1"));
        Assert.That(await WaitUntil(() => !pipeline.PumpRunning), Is.True);
        await pipeline.DrainAsync(TimeSpan.FromSeconds(10)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(sink.Calls, Has.Count.EqualTo(1));
        Assert.That(pipeline.TryEnqueue(Call("c_2")), Is.False, "a drained pipeline takes nothing more");
    }

    [Test]
    public async Task Statistics_WhileABatchIsBeingWritten_CountEveryAcceptedRecord()
    {
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var sink = new GatedSink(entered, release);
        var pipeline = new LedgerPipeline(sink, new MeteringOptions(), TimeProvider.System, NullLogger.Instance, new CageInstruments(scope: new object()));
        await using (pipeline)
        {
            for (var i = 0; i < 10; i++)
            {
                pipeline.TryEnqueue(Call("c_" + i));
            }

            Assert.That(entered.Wait(TimeSpan.FromSeconds(10)), Is.True);
            var during = pipeline.Statistics;
            Assert.That((during.Enqueued, during.Written), Is.EqualTo((10L, 0L)), "records in the sink's hands are still counted as enqueued");
            release.Set();
            await pipeline.FlushAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        var after = pipeline.Statistics;
        Assert.That((after.Enqueued, after.Written, after.Dropped), Is.EqualTo((10L, 10L, 0L)));
    }

    private sealed class GatedSink(ManualResetEventSlim entered, ManualResetEventSlim release) : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(30), cancellationToken);
            return ValueTask.CompletedTask;
        }
    }

    private static async Task<bool> WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        return condition();
    }

    private sealed class PooledSourceSink : ILedgerSink, System.Threading.Tasks.Sources.IValueTaskSource
    {
        private System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<bool> _core;

        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            _core.SetResult(true); // completes synchronously, like a pooled source that had the result at hand
            return new ValueTask(this, _core.Version);
        }

        public void GetResult(short token)
        {
            _core.GetResult(token);
            _core.Reset(); // the usual pooling pattern: the next write needs this reset
        }

        public System.Threading.Tasks.Sources.ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
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

        public int Writes { get; private set; }

        /// <summary>After the first refusal, every write fails as a broken ledger would.</summary>
        public bool FailAfterRefusal { get; init; }

        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
        {
            Writes++;
            if (FailAfterRefusal && Refusals > 0)
            {
                throw new IOException("disk gone (simulated)");
            }

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
