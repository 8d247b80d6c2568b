namespace CageNet.Protocols;

/// <summary>
/// Reads a JSONL file line by line into a reused buffer. A line longer than the cap is skipped (reported through
/// <see cref="TooLong"/>) without holding it, so a runaway line cannot exhaust memory; CR before LF is dropped.
/// </summary>
internal sealed class LineReader : IDisposable
{
    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _eof;
    private byte[] _line = new byte[4 * 1024];

    public LineReader(string path, int maxLineBytes)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.SequentialScan);
        _maxLineBytes = maxLineBytes;
    }

    public int LineNumber { get; private set; }

    public bool TooLong { get; private set; }

    public ReadOnlySpan<byte> Current => _line.AsSpan(0, CurrentLength);

    private int CurrentLength { get; set; }

    public bool Read()
    {
        TooLong = false;
        CurrentLength = 0;
        var found = false;
        while (true)
        {
            if (_start < _end)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var newline = span.IndexOf((byte)'\n');
                var piece = newline >= 0 ? span[..newline] : span;
                AppendLine(piece);
                found = true;
                _start += piece.Length;
                if (newline >= 0)
                {
                    _start++;
                    break;
                }
            }

            if (_eof)
            {
                if (!found) return false;
                break;
            }

            _start = 0;
            _end = _stream.Read(_buffer, 0, _buffer.Length);
            if (_end == 0) _eof = true;
        }

        LineNumber++;
        if (CurrentLength > 0 && _line[CurrentLength - 1] == (byte)'\r') CurrentLength--;
        return true;
    }

    private void AppendLine(ReadOnlySpan<byte> piece)
    {
        if (TooLong || piece.IsEmpty) return;
        var needed = CurrentLength + piece.Length;
        if (needed > _maxLineBytes)
        {
            TooLong = true;
            CurrentLength = 0;
            return;
        }

        if (needed > _line.Length)
        {
            Array.Resize(ref _line, Math.Min(_maxLineBytes, Math.Max(needed, _line.Length * 2)));
        }

        piece.CopyTo(_line.AsSpan(CurrentLength));
        CurrentLength = needed;
    }

    public void Dispose() => _stream.Dispose();
}
