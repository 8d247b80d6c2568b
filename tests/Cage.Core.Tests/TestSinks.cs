using CageNet.Ledger;

namespace CageNet.Tests;

/// <summary>A sink that always throws, counting the attempts.</summary>
internal sealed class ThrowingSink : ILedgerSink
{
    public int Attempts;

    public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Attempts);
        throw new IOException("disk full (simulated)");
    }
}

/// <summary>A sink that blocks every write until released: a stalled disk or a locked database.</summary>
internal sealed class StalledSink : ILedgerSink
{
    private readonly ManualResetEventSlim _release = new(false);
    public readonly InMemoryLedger Inner = new();

    public void Release() => _release.Set();

    public async ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        _release.Wait(cancellationToken);
        await Inner.WriteAsync(batch, cancellationToken);
    }
}

/// <summary>A healthy sink that takes <paramref name="delay"/> per batch: a writer that is only slow, never failing.</summary>
internal sealed class SlowSink(TimeSpan delay) : ILedgerSink
{
    public int Batches;
    public readonly InMemoryLedger Inner = new();

    public async ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        Thread.Sleep(delay);
        Interlocked.Increment(ref Batches);
        await Inner.WriteAsync(batch, cancellationToken);
    }
}

/// <summary>A sink that fails the first N writes, then works: a fault that clears.</summary>
internal sealed class FlakySink(int failures) : ILedgerSink
{
    private int _remaining = failures;
    public readonly InMemoryLedger Inner = new();

    public async ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Decrement(ref _remaining) >= 0)
        {
            throw new InvalidOperationException("database is locked (simulated)");
        }

        await Inner.WriteAsync(batch, cancellationToken);
    }
}
