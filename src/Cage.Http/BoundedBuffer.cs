namespace CageNet.Http;

/// <summary>
/// A write-only buffer for a request body of unknown length: it takes at most <c>limit</c> bytes and stops the
/// serialization (with <see cref="RequestBodyTooLargeException"/>) when the body is larger, so nothing more is held.
/// </summary>
internal sealed class BoundedBuffer(long limit) : Stream
{
    private readonly MemoryStream _bytes = new();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _bytes.Length;

    public override long Position
    {
        get => _bytes.Length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_bytes.Length + buffer.Length > limit)
        {
            throw new RequestBodyTooLargeException();
        }

        _bytes.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>The bytes written.</summary>
    public byte[] Complete() => _bytes.ToArray();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _bytes.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>The request body is larger than <see cref="CageHttpMeteringOptions.MaxRequestBodyBytes"/>: it is sent uninspected.</summary>
#pragma warning disable CA1064, CA1032 // Internal control flow between the buffer and the handler only.
internal sealed class RequestBodyTooLargeException : Exception
#pragma warning restore CA1064, CA1032
{
}
