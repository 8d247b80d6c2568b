namespace CageNet.Ledger;

/// <summary>
/// Streams the lines of a file as UTF-8 bytes without loading it whole. A line longer than
/// <see cref="MaxLineBytes"/> is not buffered: it is skipped up to its end and reported through
/// <see cref="TooLong"/>, so a huge or newline-less garbage line costs no more memory than a normal one.
/// </summary>
internal sealed class JsonlLineReader : IAsyncDisposable
{
    /// <summary>The longest line kept: 1 MiB (a real ledger line is a few hundred bytes).</summary>
    public const int MaxLineBytes = 1 << 20;

    private readonly Stream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _eof;
    private bool _first = true;

    public JsonlLineReader(string path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
    }

    /// <summary>The 1-based number of the current line.</summary>
    public int LineNumber { get; private set; }

    /// <summary>The current line, without its line ending; valid until the next read. Empty when <see cref="TooLong"/>.</summary>
    public ReadOnlyMemory<byte> Current { get; private set; }

    /// <summary>Whether the current line was longer than <see cref="MaxLineBytes"/> and was skipped.</summary>
    public bool TooLong { get; private set; }

    /// <summary>Moves to the next line; <see langword="false"/> at the end of the file.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        TooLong = false;
        var scanned = _start;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', scanned, _end - scanned);
            if (newline >= 0)
            {
                var line = new ReadOnlyMemory<byte>(_buffer, _start, newline - _start);
                _start = newline + 1;
                return Emit(line);
            }

            scanned = _end;
            if (_eof)
            {
                if (_start == _end)
                {
                    Current = ReadOnlyMemory<byte>.Empty;
                    return false;
                }

                var last = new ReadOnlyMemory<byte>(_buffer, _start, _end - _start);
                _start = _end;
                return Emit(last);
            }

            if (_end - _start > MaxLineBytes)
            {
                await SkipRestOfLineAsync(cancellationToken);
                LineNumber++;
                TooLong = true;
                Current = ReadOnlyMemory<byte>.Empty;
                return true;
            }

            // Make room: move the partial line to the front, and grow only when a single line fills the buffer.
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                scanned -= _start;
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, MaxLineBytes + 64 * 1024));
            }

            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                _eof = true;
            }

            _end += read;
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private bool Emit(ReadOnlyMemory<byte> line)
    {
        LineNumber++;
        if (_first)
        {
            _first = false;
            if (line.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            {
                line = line[3..];
            }
        }

        if (!line.IsEmpty && line.Span[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        Current = line;
        return true;
    }

    private async ValueTask SkipRestOfLineAsync(CancellationToken cancellationToken)
    {
        _first = false;
        _start = _end = 0;
        while (true)
        {
            var read = await _stream.ReadAsync(_buffer, cancellationToken);
            if (read == 0)
            {
                _eof = true;
                return;
            }

            var newline = Array.IndexOf(_buffer, (byte)'\n', 0, read);
            if (newline >= 0)
            {
                _start = newline + 1;
                _end = read;
                return;
            }
        }
    }
}
