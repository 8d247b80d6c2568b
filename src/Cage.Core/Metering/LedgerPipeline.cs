using System.Collections.Concurrent;
using CageNet.Configuration;
using CageNet.Ledger;
using Microsoft.Extensions.Logging;

namespace CageNet.Metering;

/// <summary>
/// The pipeline between the code that meters and the <see cref="ILedgerSink"/>: a bounded in-process queue
/// drained by one background pump that writes batches, retries a failed batch with back-off, then drops and
/// counts it. Enqueuing never throws, and blocks only when the queue is full while the ledger is healthy: the producer
/// waits (bounded) for the writer to make room, so a writer that is only behind loses nothing. A failing ledger makes
/// a full queue drop and count records at once (fail-open).
/// </summary>
/// <remarks>
/// The pump is a dedicated background thread, not a thread-pool task: the SQLite ledger commits synchronously,
/// and a pool thread blocked in a commit (or spinning for the next work item between wake-ups) would be taken
/// from the application. Producers do not wait for it (except for room in a full queue); they wake it when a backlog of
/// <see cref="WakeBacklog"/> records has built up, so a burst is written (and its records released) within a
/// fraction of a millisecond instead of waiting for the next poll, and the records queued at any moment stay few
/// enough that garbage collections do not have to promote them. After <see cref="DefaultIdleExit"/> without a
/// record the thread ends, and the next record starts a new one: a meter that is never disposed holds no thread.
/// </remarks>
internal sealed class LedgerPipeline : IAsyncDisposable
{
    /// <summary>Queued records at which a producer wakes the pump instead of leaving it to its next poll.</summary>
    internal const int WakeBacklog = 1024;

    /// <summary>How long the pump waits without a record before its thread ends (the next record starts another).</summary>
    internal static readonly TimeSpan DefaultIdleExit = TimeSpan.FromSeconds(10);

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
    private int _count;      // records accepted and not yet written or dropped (the bound); settled per batch, not per record
    private int _sleeping;   // 1 while the pump waits for a signal
    private int _pumpRunning; // 1 while a pump thread owns the queue; 0 after it ended idle
    private readonly int _wakeAt;
    private readonly long _idleExitMs;
    private volatile bool _completed;
    private long _written;
    private long _dropped;
    private long _faults;
    private long _faultsSinceSuccess;
    private int _disposed;

    public LedgerPipeline(ILedgerSink sink, MeteringOptions options, TimeProvider time, ILogger logger, CageInstruments instruments, TimeSpan? idleExit = null)
    {
        _sink = sink;
        _ = time; // pipeline mechanics (back-off, drain timeout) use the real clock: a test's fake clock must not stall them
        _logger = logger;
        _instruments = instruments;
        _capacity = Math.Max(16, options.QueueCapacity);
        _maxBatch = Math.Max(1, options.MaxBatchSize);
        _maxRetries = Math.Max(0, options.MaxRetries);
        _throwOnLoss = options.ThrowOnFlushLoss;
        _wakeAt = Math.Min(WakeBacklog, _capacity / 2); // a small queue must not fill up before the wake-up
        _fullWaitMs = (long)Math.Max(0, options.FullQueueWait.TotalMilliseconds);
        _idleExitMs = (long)(idleExit ?? DefaultIdleExit).TotalMilliseconds;
        EnsurePump();
    }

    /// <summary>Whether a pump thread is running (it ends after an idle spell and restarts on the next record).</summary>
    internal bool PumpRunning => Volatile.Read(ref _pumpRunning) == 1;

    private void EnsurePump()
    {
        if (Volatile.Read(ref _pumpRunning) != 0 || Interlocked.CompareExchange(ref _pumpRunning, 1, 0) != 0)
        {
            return;
        }

        try
        {
            // UnsafeStart: the pump must not capture the ExecutionContext of whoever started it (a request's
            // AsyncLocals, its Activity): it would hold them and leak them into the sink.
            new Thread(RunPump) { IsBackground = true, Name = "Cage ledger pump" }.UnsafeStart();
        }
        catch
        {
            Volatile.Write(ref _pumpRunning, 0); // no thread after all: the next record tries again
            throw;
        }
    }

    // Enqueued is derived (written + dropped after acceptance + still queued) so producers touch one shared counter.
    private long _droppedAccepted;

    public MeteringStatistics Statistics => new(
        Interlocked.Read(ref _written) + Interlocked.Read(ref _droppedAccepted) + Volatile.Read(ref _count),
        Interlocked.Read(ref _written),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _faults));

    /// <summary>
    /// Hands a record to the pipeline without locking. It blocks only when the queue is full while the ledger is
    /// healthy (see <see cref="WaitForRoom"/>). Returns false (and counts a drop) when the queue is closed, the ledger
    /// is failing, or the wait for room ran out.
    /// </summary>
    public bool TryEnqueue(object record)
    {
        // Count first, then check for shutdown: the pump only exits once the count is back to zero, so a record
        // that got past this check is always written (or counted as dropped), never stranded in the queue.
        var count = Interlocked.Increment(ref _count);
        if (count > _capacity || _completed)
        {
            Interlocked.Decrement(ref _count);
            if (!_completed && WaitForRoom(record))
            {
                return true;
            }

            var dropped = Interlocked.Increment(ref _dropped);
            try
            {
                _instruments.Dropped.Add(1);
                if (Volatile.Read(ref _stalled) && Interlocked.Exchange(ref _stallLogged, 1) == 0)
                {
                    Log.QueueStalled(_logger, _capacity, TimeSpan.FromMilliseconds(_fullWaitMs), dropped);
                }
                else if (IsPowerOfTen(dropped))
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
        if (count == _wakeAt)
        {
            Wake(); // once per crossing: the pump drains the backlog as a batch now, not at its next poll
        }

        if (Volatile.Read(ref _pumpRunning) == 0)
        {
            EnsurePump(); // the pump ended after an idle spell
        }

        return true;
    }

    private readonly object _roomGate = new();
    private readonly long _fullWaitMs;
    private int _roomWaiters;   // producers waiting for room in a full queue
    private bool _stalled;      // a wait for room ran out; cleared by the next committed batch
    private int _stallLogged;   // the stall was logged (once per stall)

    /// <summary>
    /// Backpressure: a full queue while the ledger is healthy means the writer is only behind, so the producer waits
    /// for the pump to commit a batch and make room, up to <see cref="MeteringOptions.FullQueueWait"/>. It never waits
    /// while the ledger is failing (fail-open: the record is dropped and counted at once), nor once a wait has run out
    /// and the writer has not committed since (a stalled ledger costs one wait, not one per call). Returns true when
    /// the record was queued.
    /// </summary>
    private bool WaitForRoom(object record)
    {
        if (_fullWaitMs <= 0 || !Healthy)
        {
            return false;
        }

        var started = Environment.TickCount64;
        Interlocked.Increment(ref _roomWaiters);
        try
        {
            Wake();
            EnsurePump();
            while (true)
            {
                var count = Interlocked.Increment(ref _count);
                if (count <= _capacity && !_completed)
                {
                    _queue.Enqueue(record);
                    return true;
                }

                Interlocked.Decrement(ref _count);
                if (_completed || !Healthy)
                {
                    return false;
                }

                var left = _fullWaitMs - (Environment.TickCount64 - started);
                if (left <= 0)
                {
                    Volatile.Write(ref _stalled, true);
                    return false;
                }

                lock (_roomGate)
                {
                    // The pump frees room before it takes this lock to pulse, so a check made under the lock is never
                    // missed; the short timeout also rechecks the ledger's health while a batch is retried.
                    if (Volatile.Read(ref _count) >= _capacity)
                    {
                        Monitor.Wait(_roomGate, (int)Math.Min(left, 10));
                    }
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _roomWaiters);
        }
    }

    private bool Healthy => Interlocked.Read(ref _faultsSinceSuccess) == 0 && !Volatile.Read(ref _stalled);

    // After the pump freed room (a batch committed or dropped): wakes the producers waiting for it.
    private void RoomFreed()
    {
        if (Volatile.Read(ref _roomWaiters) > 0)
        {
            lock (_roomGate)
            {
                Monitor.PulseAll(_roomGate);
            }
        }
    }

    // Flushes, shutdown and a backlog of WakeBacklog records signal the pump; otherwise it polls (see Pump).
    private void Wake()
    {
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _signal.Release();
        }
    }

    private readonly object _flushGate = new();
    private long _flushedWritten; // the counters when the previous flush returned
    private long _flushedDropped;
    private readonly bool _throwOnLoss;

    /// <summary>
    /// Completes once everything enqueued before the call has been committed (or dropped), with what was written and
    /// dropped since the previous flush returned.
    /// </summary>
    /// <exception cref="MeteringLossException">Records were dropped and <see cref="Configuration.MeteringOptions.ThrowOnFlushLoss"/> is set.</exception>
    public async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken)
    {
        await DrainToHereAsync(cancellationToken).ConfigureAwait(false);
        FlushResult result;
        lock (_flushGate)
        {
            var written = Interlocked.Read(ref _written);
            var dropped = Interlocked.Read(ref _dropped);
            result = new FlushResult(written - _flushedWritten, dropped - _flushedDropped);
            (_flushedWritten, _flushedDropped) = (written, dropped);
        }

        return result.Dropped > 0 && _throwOnLoss ? throw new MeteringLossException(result) : result;
    }

    private async ValueTask DrainToHereAsync(CancellationToken cancellationToken)
    {
        // A flush marker is not a record: it bypasses the bound so a full queue can still be flushed.
        var marker = new FlushMarker();
        _queue.Enqueue(marker);
        Wake();
        EnsurePump();
        // If the pump has stopped (shutdown), the marker may never be read: everything before it was drained anyway.
        await Task.WhenAny(marker.Completion.Task, _pumpExited.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void RunPump()
    {
        try
        {
            if (!Pump())
            {
                return; // ended idle: the next record starts a new pump
            }
        }
#pragma warning disable CA1031 // An exception escaping a thread would end the process: the host must outlive its ledger.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _faults);
            Quietly(() => Log.PumpFailed(_logger, ex));
        }

        _pumpExited.TrySetResult(); // drained at shutdown (or broken): flushes and the drain stop waiting
    }

    // Returns true when the pipeline is complete and drained, false when it ends after an idle spell.
    private bool Pump()
    {
        var calls = new List<CallRecord>(Math.Min(_maxBatch, 1024));
        var receipts = new List<SavingsReceipt>();
        var markers = new List<FlushMarker>();
        var idleRounds = 0;
        var idleSince = 0L;
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
                    return true;
                }

                Thread.Yield(); // a producer that passed the shutdown check is about to enqueue
                continue;
            }

            // Poll every millisecond while records flow (a steady stream is batched without signals, and a spinning
            // pump would fight producers for the queue's cache lines), then back off to MaxPollInterval when idle.
            // Flushes, shutdown and a backlog of WakeBacklog records signal.
            if (++idleRounds == 1)
            {
                idleSince = Environment.TickCount64;
            }
            else if (Environment.TickCount64 - idleSince >= _idleExitMs)
            {
                // Give the queue up, then look again: a producer that enqueued before seeing the pump stopped did
                // not start a new one, so this pump takes the record (unless another pump already has).
                Interlocked.Exchange(ref _pumpRunning, 0);
                if ((_queue.IsEmpty && !_completed) || Interlocked.CompareExchange(ref _pumpRunning, 1, 0) != 0)
                {
                    return false;
                }

                idleRounds = 0;
                continue;
            }

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
        if (TryWrite(batch, out var refused))
        {
            return;
        }

        if (refused is not null)
        {
            // The sink refused a record (a timestamp outside the ledger's range, an amount it cannot store): a retry
            // would fail the same way, and it is not a fault of the ledger. Find the refused records by halving, so
            // that only they are lost and a 4,096-record batch costs about two dozen writes, not 4,096.
            WriteSplitting(batch, refused);
        }
    }

    // True when written; false when dropped, with the sink's refusal when that is why (nothing counted for it yet).
    private bool TryWrite(LedgerBatch batch, out CageValidationException? refused)
    {
        refused = null;
        var count = batch.Count;
        for (var attempt = 1; ; attempt++)
        {
            Exception? failure = null;
            try
            {
                // The pump's own thread: waiting for an asynchronous sink here blocks nothing else (and the SQLite
                // ledger completes synchronously anyway). A completed ValueTask is still consumed: its source may
                // be pooled and reset in GetResult.
                var write = _sink.WriteAsync(batch, _stopping.Token);
                if (write.IsCompleted)
                {
                    write.GetAwaiter().GetResult();
                }
                else
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
                Interlocked.Add(ref _count, -count); // after Written: Enqueued never dips while a batch settles
                var recovered = Interlocked.Exchange(ref _faultsSinceSuccess, 0);
                if (Volatile.Read(ref _stalled))
                {
                    Volatile.Write(ref _stalled, false); // the writer moves again: producers wait for room again
                    Volatile.Write(ref _stallLogged, 0);
                }

                RoomFreed();
                Quietly(() =>
                {
                    _instruments.Written.Add(count);
                    if (recovered > 0)
                    {
                        Log.LedgerRecovered(_logger, recovered);
                    }
                });
                return true;
            }

            if (failure is CageValidationException validation)
            {
                refused = validation;
                return false;
            }

            Interlocked.Increment(ref _faults);
            Interlocked.Increment(ref _faultsSinceSuccess);
            Quietly(() => _instruments.Faults.Add(1));
            if (attempt > _maxRetries || _stopping.IsCancellationRequested)
            {
                CountDropped(count);
                var attempts = attempt;
                Quietly(() => Log.LedgerBatchDropped(_logger, failure, count, attempts));
                return false;
            }

            var tries = attempt;
            Quietly(() => Log.LedgerWriteRetry(_logger, failure, count, tries));
            // Shutting down cuts the back-off short: one last attempt happens on the next loop turn, then the batch is dropped.
            _stopping.Token.WaitHandle.WaitOne(Backoff[Math.Min(attempt - 1, Backoff.Length - 1)]);
        }
    }

    // Writes a refused batch in halves (calls before receipts, each in arrival order, as a sink stores a batch). A
    // single record the sink refuses is dropped and logged with its field. If a half is dropped for a real fault
    // (after its retries), the rest is dropped with it rather than retried piece by piece: one back-off ladder,
    // as for any failed batch.
    private void WriteSplitting(LedgerBatch batch, CageValidationException refused)
    {
        var records = new List<object>(batch.Count);
        records.AddRange(batch.Calls);
        records.AddRange(batch.Receipts);
        var pending = new Stack<(int Start, int Length, CageValidationException? Refused)>();
        pending.Push((0, records.Count, refused));
        while (pending.TryPop(out var part))
        {
            var refusal = part.Refused;
            if (refusal is null)
            {
                var slice = Slice(records, part.Start, part.Length);
                if (TryWrite(slice, out refusal))
                {
                    continue;
                }

                if (refusal is null)
                {
                    // A real fault: this part was dropped after its retries; drop what is left without more writes.
                    var left = 0;
                    foreach (var rest in pending)
                    {
                        left += rest.Length;
                    }

                    CountDropped(left);
                    return;
                }
            }

            if (part.Length == 1)
            {
                CountDropped(1);
                var field = refusal.Field;
                var reason = refusal.Message;
                Quietly(() => Log.RecordRefused(_logger, field, reason));
                continue;
            }

            var half = part.Length / 2;
            pending.Push((part.Start + half, part.Length - half, null)); // second half after the first
            pending.Push((part.Start, half, null));
        }
    }

    private static LedgerBatch Slice(List<object> records, int start, int length)
    {
        var calls = new List<CallRecord>();
        var receipts = new List<SavingsReceipt>();
        for (var i = start; i < start + length; i++)
        {
            if (records[i] is CallRecord call)
            {
                calls.Add(call);
            }
            else
            {
                receipts.Add((SavingsReceipt)records[i]);
            }
        }

        return new LedgerBatch(calls, receipts);
    }

    private void CountDropped(int count)
    {
        if (count == 0)
        {
            return;
        }

        Interlocked.Add(ref _dropped, count);
        Interlocked.Add(ref _droppedAccepted, count);
        Interlocked.Add(ref _count, -count);
        RoomFreed();
        Quietly(() => _instruments.Dropped.Add(count));
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
        EnsurePump(); // a pump that ended idle is started again to see the end
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
