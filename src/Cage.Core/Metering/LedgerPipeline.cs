using System.Collections.Concurrent;
using CageNet.Configuration;
using CageNet.Ledger;
using Microsoft.Extensions.Logging;

namespace CageNet.Metering;

/// <summary>
/// The pipeline between the code that meters and the <see cref="ILedgerSink"/>: a bounded in-process queue
/// drained by one background pump that writes batches, retries a failed batch with back-off, then drops and
/// counts it. Enqueuing never blocks and never throws: a full queue drops the record and counts it.
/// </summary>
/// <remarks>
/// The pump is a dedicated background thread, not a thread-pool task: the SQLite ledger commits synchronously,
/// and a pool thread blocked in a commit (or spinning for the next work item between wake-ups) would be taken
/// from the application. Producers never wait for it; they wake it only when a backlog of
/// <see cref="WakeBacklog"/> records has built up, so a burst is written (and its records released) within a
/// fraction of a millisecond instead of waiting for the next poll, and the records queued at any moment stay few
/// enough that garbage collections do not have to promote them.
/// </remarks>
internal sealed class LedgerPipeline : IAsyncDisposable
{
    /// <summary>Queued records at which a producer wakes the pump instead of leaving it to its next poll.</summary>
    internal const int WakeBacklog = 1024;

    private const int ActiveRounds = 16;
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    private readonly ConcurrentQueue<object> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly ILedgerSink _sink;
    private readonly ILogger _logger;
    private readonly CageInstruments _instruments;
    private readonly int _capacity;
    private readonly int _maxBatch;
    private readonly int _maxRetries;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _pumpExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;      // records in the queue (the bound); the pump subtracts per batch, not per record
    private int _sleeping;   // 1 while the pump waits for a signal
    private volatile bool _completed;
    private long _written;
    private long _dropped;
    private long _faults;
    private long _faultsSinceSuccess;
    private int _disposed;

    public LedgerPipeline(ILedgerSink sink, MeteringOptions options, TimeProvider time, ILogger logger, CageInstruments instruments)
    {
        _sink = sink;
        _ = time; // pipeline mechanics (back-off, drain timeout) use the real clock: a test's fake clock must not stall them
        _logger = logger;
        _instruments = instruments;
        _capacity = Math.Max(16, options.QueueCapacity);
        _maxBatch = Math.Max(1, options.MaxBatchSize);
        _maxRetries = Math.Max(0, options.MaxRetries);
        // The pump must not capture the ExecutionContext of whoever created the meter (a request's AsyncLocals,
        // its Activity): it would hold them for the process's lifetime and leak them into the sink.
        using (ExecutionContext.SuppressFlow())
        {
            new Thread(RunPump) { IsBackground = true, Name = "Cage ledger pump" }.Start();
        }
    }

    // Enqueued is derived (written + dropped after acceptance + still queued) so producers touch one shared counter.
    private long _droppedAccepted;

    public MeteringStatistics Statistics => new(
        Interlocked.Read(ref _written) + Interlocked.Read(ref _droppedAccepted) + Volatile.Read(ref _count),
        Interlocked.Read(ref _written),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _faults));

    /// <summary>Hands a record to the pipeline without blocking or locking. Returns false (and counts a drop) when the queue is full or closed.</summary>
    public bool TryEnqueue(object record)
    {
        // Count first, then check for shutdown: the pump only exits once the count is back to zero, so a record
        // that got past this check is always written (or counted as dropped), never stranded in the queue.
        var count = Interlocked.Increment(ref _count);
        if (count > _capacity || _completed)
        {
            Interlocked.Decrement(ref _count);
            var dropped = Interlocked.Increment(ref _dropped);
            try
            {
                _instruments.Dropped.Add(1);
                if (IsPowerOfTen(dropped))
                {
                    Log.QueueFull(_logger, _capacity, dropped);
                }
            }
#pragma warning disable CA1031 // Fail-open: a throwing listener or logger never reaches the caller.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            return false;
        }

        _queue.Enqueue(record);
        if (count == WakeBacklog)
        {
            Wake(); // once per crossing: the pump drains the backlog as a batch now, not at its next poll
        }

        return true;
    }

    // Flushes, shutdown and a backlog of WakeBacklog records signal the pump; otherwise it polls (see Pump).
    private void Wake()
    {
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _signal.Release();
        }
    }

    /// <summary>Completes once everything enqueued before the call has been committed (or dropped).</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        // A flush marker is not a record: it bypasses the bound so a full queue can still be flushed.
        var marker = new FlushMarker();
        _queue.Enqueue(marker);
        Wake();
        // If the pump has stopped (shutdown), the marker may never be read: everything before it was drained anyway.
        await Task.WhenAny(marker.Completion.Task, _pumpExited.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void RunPump()
    {
        try
        {
            Pump();
        }
#pragma warning disable CA1031 // An exception escaping a thread would end the process: the host must outlive its ledger.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _faults);
            Quietly(() => Log.PumpFailed(_logger, ex));
        }
        finally
        {
            _pumpExited.TrySetResult();
        }
    }

    private void Pump()
    {
        var calls = new List<CallRecord>(Math.Min(_maxBatch, 1024));
        var receipts = new List<SavingsReceipt>();
        var markers = new List<FlushMarker>();
        var idleRounds = 0;
        while (true)
        {
            while (calls.Count + receipts.Count < _maxBatch && _queue.TryDequeue(out var item))
            {
                switch (item)
                {
                    case CallRecord call: calls.Add(call); break;
                    case SavingsReceipt receipt: receipts.Add(receipt); break;
                    case FlushMarker marker: markers.Add(marker); break;
                }

                if (markers.Count > 0)
                {
                    break; // a flush is a batch boundary: commit what precedes it now
                }
            }

            if (calls.Count + receipts.Count > 0)
            {
                Interlocked.Add(ref _count, -(calls.Count + receipts.Count));
                // The lists are reused for the next batch: sinks copy what they keep (see ILedgerSink).
                WriteWithRetries(new LedgerBatch(calls, receipts));
                calls.Clear();
                receipts.Clear();
                idleRounds = 0;
            }

            if (markers.Count > 0)
            {
                foreach (var marker in markers)
                {
                    marker.Completion.TrySetResult();
                }

                markers.Clear();
                continue;
            }

            if (!_queue.IsEmpty)
            {
                continue;
            }

            if (_completed)
            {
                if (Volatile.Read(ref _count) == 0 && _queue.IsEmpty)
                {
                    return;
                }

                Thread.Yield(); // a producer that passed the shutdown check is about to enqueue
                continue;
            }

            // Poll every millisecond while records flow (a steady stream is batched without signals, and a spinning
            // pump would fight producers for the queue's cache lines), then back off to MaxPollInterval when idle.
            // Flushes, shutdown and a backlog of WakeBacklog records signal.
            idleRounds++;
            var wait = idleRounds <= ActiveRounds
                ? TimeSpan.FromMilliseconds(1)
                : TimeSpan.FromMilliseconds(Math.Min(MaxPollInterval.TotalMilliseconds, 1 << Math.Min(10, (idleRounds - ActiveRounds) / 4)));
            Interlocked.Exchange(ref _sleeping, 1);
            if (!_queue.IsEmpty || _completed)
            {
                Interlocked.Exchange(ref _sleeping, 0);
                continue;
            }

            _signal.Wait(wait);
            Interlocked.Exchange(ref _sleeping, 0);
        }
    }

    // Never throws: a sink, logger or metric listener that throws is counted and logged (if logging works at all),
    // so the pump keeps running and flushes keep completing.
    private void WriteWithRetries(LedgerBatch batch)
    {
        var count = batch.Count;
        for (var attempt = 1; ; attempt++)
        {
            Exception? failure = null;
            try
            {
                // The pump's own thread: waiting for an asynchronous sink here blocks nothing else (and the SQLite
                // ledger completes synchronously anyway).
                var write = _sink.WriteAsync(batch, _stopping.Token);
                if (!write.IsCompletedSuccessfully)
                {
                    write.AsTask().GetAwaiter().GetResult();
                }
            }
#pragma warning disable CA1031 // A sink fault must never escape the pipeline: it is logged and counted.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }

            if (failure is null)
            {
                Interlocked.Add(ref _written, count);
                var recovered = Interlocked.Exchange(ref _faultsSinceSuccess, 0);
                Quietly(() =>
                {
                    _instruments.Written.Add(count);
                    if (recovered > 0)
                    {
                        Log.LedgerRecovered(_logger, recovered);
                    }
                });
                return;
            }

            Interlocked.Increment(ref _faults);
            Interlocked.Increment(ref _faultsSinceSuccess);
            Quietly(() => _instruments.Faults.Add(1));
            if (failure is CageValidationException refused)
            {
                // The sink refused a record (a timestamp outside the ledger's range, an amount it cannot store): a
                // retry would fail the same way. Write the others one by one so that only the refused record is lost.
                if (count > 1)
                {
                    WriteOneByOne(batch);
                }
                else
                {
                    Interlocked.Add(ref _dropped, 1);
                    Interlocked.Add(ref _droppedAccepted, 1);
                    Quietly(() =>
                    {
                        _instruments.Dropped.Add(1);
                        Log.RecordRefused(_logger, refused.Field, refused.Message);
                    });
                }

                return;
            }

            if (attempt > _maxRetries || _stopping.IsCancellationRequested)
            {
                Interlocked.Add(ref _dropped, count);
                Interlocked.Add(ref _droppedAccepted, count);
                var attempts = attempt;
                Quietly(() =>
                {
                    _instruments.Dropped.Add(count);
                    Log.LedgerBatchDropped(_logger, failure, count, attempts);
                });
                return;
            }

            var tries = attempt;
            Quietly(() => Log.LedgerWriteRetry(_logger, failure, count, tries));
            // Shutting down cuts the back-off short: one last attempt happens on the next loop turn, then the batch is dropped.
            _stopping.Token.WaitHandle.WaitOne(Backoff[Math.Min(attempt - 1, Backoff.Length - 1)]);
        }
    }

    // Calls before receipts, each in arrival order: the order in which a sink stores a batch.
    private void WriteOneByOne(LedgerBatch batch)
    {
        foreach (var call in batch.Calls)
        {
            WriteWithRetries(new LedgerBatch([call], []));
        }

        foreach (var receipt in batch.Receipts)
        {
            WriteWithRetries(new LedgerBatch([], [receipt]));
        }
    }

    private static void Quietly(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // Telemetry and logging are best effort inside the pipeline.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Stops accepting records and drains the queue, waiting at most <paramref name="timeout"/>.</summary>
    public async ValueTask DrainAsync(TimeSpan timeout)
    {
        _completed = true;
        Wake();
        _signal.Release();
        try
        {
            await _pumpExited.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Quietly(() => Log.DrainTimedOut(_logger, timeout, Volatile.Read(ref _count)));
            await _stopping.CancelAsync().ConfigureAwait(false);
            // Give an in-flight write a moment to observe the cancellation before the caller disposes the sink.
            await Task.WhenAny(_pumpExited.Task, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Shutdown is best effort: nothing from the pump escapes to the disposer.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await DrainAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    private static bool IsPowerOfTen(long n)
    {
        while (n >= 10 && n % 10 == 0)
        {
            n /= 10;
        }

        return n == 1;
    }

    private sealed class FlushMarker
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
