namespace CageNet.Budgets;

/// <summary>
/// Shares round trips between concurrent callers, like a group commit: a request that finds no round trip in flight is
/// sent at once, alone (a lone caller waits for nothing but its own round trip); requests that arrive while one is in
/// flight queue up and all go together, in arrival order, in the next one. Each caller awaits its own result. Thread-safe.
/// </summary>
/// <typeparam name="TRequest">What a caller asks.</typeparam>
/// <typeparam name="TResult">What it gets back.</typeparam>
/// <param name="send">Sends a batch (1 or more requests, in order) in one round trip and returns one result per request,
/// in the same order; an exception fails every request of the batch.</param>
/// <param name="most">The most requests one round trip carries; more wait for the next.</param>
internal sealed class RoundTripCombiner<TRequest, TResult>(Func<IReadOnlyList<TRequest>, Task<TResult[]>> send, int most)
{
    private readonly object _gate = new();
    private List<(TRequest Request, TaskCompletionSource<TResult> Done)> _queued = [];
    private bool _sending;
    private long _batches;
    private long _combined;

    /// <summary>Round trips that carried more than one request (tests and benchmarks read it).</summary>
    public long CombinedRoundTrips => Interlocked.Read(ref _combined);

    /// <summary>Round trips sent.</summary>
    public long RoundTrips => Interlocked.Read(ref _batches);

    /// <summary>Queues <paramref name="request"/> and returns its result when the round trip that carried it is back.</summary>
    public Task<TResult> SubmitAsync(TRequest request)
    {
        var done = new TaskCompletionSource<TResult>();
        lock (_gate)
        {
            _queued.Add((request, done));
            if (_sending)
            {
                return done.Task;
            }

            _sending = true;
        }

        _ = SendAllAsync();
        return done.Task;
    }

    // Runs on the first caller's thread up to its first await, then on the round trips' continuations: sends what is
    // queued, and again while more was queued meanwhile; stops (and lets the next request start a new run) when nothing is.
    private async Task SendAllAsync()
    {
        while (true)
        {
            List<(TRequest Request, TaskCompletionSource<TResult> Done)> batch;
            lock (_gate)
            {
                if (_queued.Count == 0)
                {
                    _sending = false;
                    return;
                }

                if (_queued.Count <= most)
                {
                    (batch, _queued) = (_queued, []);
                }
                else
                {
                    batch = _queued.GetRange(0, most);
                    _queued.RemoveRange(0, most);
                }
            }

            Interlocked.Increment(ref _batches);
            if (batch.Count > 1)
            {
                Interlocked.Increment(ref _combined);
            }

            TResult[]? results = null;
            Exception? failure = null;
            try
            {
                results = await send([.. batch.Select(b => b.Request)]).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // every caller of the batch gets the exception, as it would have alone
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }

            // Nothing queued meanwhile: this run ends here, and the callers continue on this thread, as they would after
            // their own round trip (one that sends again starts a new run). Else the next round trip goes first and the
            // callers continue on the thread pool, so that none of them can hold it up.
            bool more;
            lock (_gate)
            {
                more = _queued.Count > 0;
                _sending = more;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                var (done, result) = (batch[i].Done, results is null ? default : results[i]);
                if (!more)
                {
                    Complete(done, result, failure);
                }
                else
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static s => Complete(s.done, s.result, s.failure), (done, result, failure), preferLocal: false);
                }
            }

            if (!more)
            {
                return;
            }
        }
    }

    private static void Complete(TaskCompletionSource<TResult> done, TResult? result, Exception? failure)
    {
        if (failure is null)
        {
            done.TrySetResult(result!);
        }
        else
        {
            done.TrySetException(failure);
        }
    }
}
