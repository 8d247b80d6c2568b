using System.Net;

namespace CageNet.Http;

/// <summary>
/// Wraps a response's content so the meter sees every byte the caller reads, as it is read. Nothing is buffered or
/// delayed: each read returns as soon as the inner stream returns, and the bytes go to the observer after they are
/// already in the caller's buffer.
/// </summary>
internal sealed class MeteredContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly MeteredExchange _exchange;

    public MeteredContent(HttpContent inner, MeteredExchange exchange)
    {
        _inner = inner;
        _exchange = exchange;
        CageMeteringHandler.CopyHeaders(inner.Headers, Headers);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        using var source = CreateContentReadStream(cancellationToken);
        source.CopyTo(stream);
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new MeteredStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _exchange);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
        new MeteredStream(_inner.ReadAsStream(cancellationToken), _exchange);

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? -1;
        return length >= 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _exchange.Complete(); // a body never read to its end is still a call that happened
        }

        base.Dispose(disposing);
    }
}

/// <summary>A read-only pass-through stream that shows each chunk to the meter after handing it to the caller.</summary>
internal sealed class MeteredStream(Stream inner, MeteredExchange exchange) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read;
        try
        {
            read = inner.Read(buffer);
        }
        catch
        {
            exchange.Complete();
            throw;
        }

        Seen(buffer[..read], buffer.IsEmpty);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            exchange.Complete();
            throw;
        }

        Seen(buffer.Span[..read], buffer.IsEmpty);
        return read;
    }

    private void Seen(ReadOnlySpan<byte> chunk, bool zeroByteRead)
    {
        if (!chunk.IsEmpty)
        {
            exchange.Observe(chunk);
        }
        else if (!zeroByteRead)
        {
            // 0 from a read into a non-empty buffer is the end of the body; a zero-byte read (PipeReader's
            // useZeroByteReads: "wait until data is available") returns 0 without ending anything.
            exchange.Complete();
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            exchange.Complete();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        exchange.Complete();
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
