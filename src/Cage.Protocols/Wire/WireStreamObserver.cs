using System.Buffers;

namespace CageNet.Protocols;

/// <summary>
/// Watches a provider response as it streams past, fed the raw bytes chunk by chunk exactly as they come off the
/// wire (SSE, a Gemini JSON array, or a plain JSON body), and at the end yields the normalized usage, the served
/// model, the response id, the finish reason and whether usage was reported or is missing.
/// </summary>
/// <remarks>
/// Chunks may split anywhere: inside a <c>data:</c> line, a <c>\r\n</c>, or a UTF-8 sequence. The observer keeps
/// bounded state: the current event's bytes only (pooled, at most <see cref="WireStreamOptions.MaxEventBytes"/>),
/// never the stream's text, and it does not allocate per chunk once the id and model are known. It never throws for
/// bad input: malformed events are skipped and flagged in <see cref="WireUsage.Problem"/>. Not thread-safe: one
/// observer per response.
/// </remarks>
public sealed class WireStreamObserver : IDisposable
{
    private const int InitialBuffer = 4 * 1024;

    private enum Framing : byte { Detect, Sse, JsonBody, JsonArray }

    private enum LineState : byte { FieldName, AfterColon, DataValue, Ignore }

    private readonly int _maxEventBytes;
    private readonly bool _estimate;
    private WireState _state;
    private Framing _framing;
    private byte[]? _buffer;
    private int _length;
    private bool _oversized;
    private int _oversizedEvents;

    // SSE
    private LineState _line;
    private int _fieldLength;
    private bool _fieldIsData;
    private bool _lastWasCr;
    private int _dataLines;
    private int _bomBytes;
    private bool _sawSpace;

    // JSON array (Gemini without alt=sse)
    private int _depth;
    private bool _inString;
    private bool _escaped;

    private long _bytes;
    private WireUsage? _result;

    /// <summary>Creates an observer.</summary>
    /// <param name="protocol">The wire format, when known from the route; <see cref="WireProtocol.Unknown"/> infers it from the events.</param>
    /// <param name="options">Limits and the estimate switch; defaults when <see langword="null"/>.</param>
    public WireStreamObserver(WireProtocol protocol = WireProtocol.Unknown, WireStreamOptions? options = null)
    {
        _state.Protocol = protocol;
        _maxEventBytes = Math.Max(1024, options?.MaxEventBytes ?? WireStreamOptions.DefaultMaxEventBytes);
        _estimate = options?.EstimateWhenMissing ?? false;
        _fieldIsData = true;
    }

    /// <summary>The wire format: as given, or as inferred from the events so far.</summary>
    public WireProtocol Protocol => _state.Protocol;

    /// <summary>Bytes observed so far.</summary>
    public long BytesObserved => _bytes;

    /// <summary>JSON documents (events) parsed so far.</summary>
    public int DocumentsObserved => _state.Documents;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _result is not null;

    /// <summary>Feeds the next chunk of the response, exactly as received. Ignored after <see cref="Complete"/>.</summary>
    /// <param name="chunk">The bytes; not retained.</param>
    public void Observe(ReadOnlySpan<byte> chunk)
    {
        if (_result is not null || chunk.IsEmpty) return;
        _bytes += chunk.Length;
        if (_framing == Framing.Detect)
        {
            chunk = DetectFraming(chunk);
            if (chunk.IsEmpty) return;
        }

        switch (_framing)
        {
            case Framing.Sse: ObserveSse(chunk); break;
            case Framing.JsonBody: Append(chunk); break;
            case Framing.JsonArray: ObserveArray(chunk); break;
        }
    }

    /// <summary>Ends the response and returns what it said. Idempotent: later calls return the same result.</summary>
    /// <returns>
    /// The usage: <see cref="UsageStatus.Reported"/> when the final usage arrived; otherwise
    /// <see cref="UsageStatus.Missing"/> (or <see cref="UsageStatus.Estimated"/> when configured), with
    /// <see cref="WireUsage.Truncated"/> and <see cref="WireUsage.Problem"/> saying what happened. Never a silent $0.
    /// </returns>
    public WireUsage Complete()
    {
        if (_result is not null) return _result;
        string? extra = null;
        switch (_framing)
        {
            case Framing.Sse:
                if (_dataLines > 0) DispatchSse(); // a last event without its blank line
                break;
            case Framing.JsonBody:
                DispatchDocument(streaming: false);
                break;
            case Framing.JsonArray:
                if (_length > 0 || _depth > 1) extra = "the JSON array stream was cut inside an element";
                break;
            default:
                extra = _bytes == 0 ? "the response was empty" : null;
                break;
        }

        if (_oversizedEvents > 0)
        {
            extra = $"{_oversizedEvents} event(s) over {_maxEventBytes} bytes were skipped";
            _state.Problem ??= extra;
        }

        _result = _state.Build(streaming: _framing != Framing.JsonBody, _estimate, extra);
        ReturnBuffer();
        return _result;
    }

    /// <summary>Returns the pooled buffer without completing (for an abandoned response).</summary>
    public void Dispose() => ReturnBuffer();

    private ReadOnlySpan<byte> DetectFraming(ReadOnlySpan<byte> chunk)
    {
        var i = 0;
        for (; i < chunk.Length; i++)
        {
            var b = chunk[i];
            if (_bomBytes < 3 && !_sawSpace && b == "\uFEFF"u8[_bomBytes])
            {
                _bomBytes++; // a UTF-8 byte order mark at the very start (possibly split across chunks)
                continue;
            }

            _bomBytes = 3;
            _sawSpace = true;

            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            _framing = b switch
            {
                (byte)'{' => Framing.JsonBody,
                (byte)'[' => Framing.JsonArray,
                _ => Framing.Sse,
            };
            break;
        }

        return i < chunk.Length ? chunk[i..] : default;
    }

    private void ObserveSse(ReadOnlySpan<byte> chunk)
    {
        var i = 0;
        while (i < chunk.Length)
        {
            var b = chunk[i];
            if (_lastWasCr)
            {
                _lastWasCr = false;
                if (b == (byte)'\n')
                {
                    i++;
                    continue;
                }
            }

            if (b is (byte)'\n' or (byte)'\r')
            {
                EndOfLine();
                _lastWasCr = b == (byte)'\r';
                i++;
                continue;
            }

            switch (_line)
            {
                case LineState.FieldName:
                    if (b == (byte)':')
                    {
                        if (_fieldLength == 4 && _fieldIsData)
                        {
                            BeginDataLine();
                            _line = LineState.AfterColon;
                        }
                        else
                        {
                            _line = LineState.Ignore; // a comment (": OPENROUTER PROCESSING"), event:, id:, retry:
                        }
                    }
                    else
                    {
                        if (_fieldLength >= 4 || b != "data"u8[_fieldLength]) _fieldIsData = false;
                        _fieldLength++;
                        if (_fieldLength > 64) _line = LineState.Ignore; // not a field name: skip the line
                    }

                    i++;
                    break;

                case LineState.AfterColon:
                    _line = LineState.DataValue;
                    if (b == (byte)' ') i++;
                    break;

                case LineState.DataValue:
                {
                    var rest = chunk[i..];
                    var end = rest.IndexOfAny((byte)'\r', (byte)'\n');
                    var value = end < 0 ? rest : rest[..end];
                    Append(value);
                    i += value.Length;
                    break;
                }

                default: // Ignore
                {
                    var end = chunk[i..].IndexOfAny((byte)'\r', (byte)'\n');
                    i = end < 0 ? chunk.Length : i + end;
                    break;
                }
            }
        }
    }

    private void BeginDataLine()
    {
        if (_dataLines > 0) Append("\n"u8);
        _dataLines++;
    }

    private void EndOfLine()
    {
        if (_line == LineState.FieldName)
        {
            if (_fieldLength == 0)
            {
                DispatchSse(); // a blank line ends the event
            }
            else if (_fieldLength == 4 && _fieldIsData)
            {
                BeginDataLine(); // "data" with no colon: an empty data line
            }
        }

        _line = LineState.FieldName;
        _fieldLength = 0;
        _fieldIsData = true;
    }

    private void DispatchSse()
    {
        if (_dataLines == 0) return;
        _dataLines = 0;
        if (_oversized)
        {
            _oversizedEvents++;
        }
        else
        {
            var payload = WireFraming.Trim(_buffer.AsSpan(0, _length));
            if (payload.SequenceEqual("[DONE]"u8))
            {
                _state.DoneSeen = true;
            }
            else if (!payload.IsEmpty)
            {
                Parse(payload, streaming: true);
            }
        }

        _length = 0;
        _oversized = false;
    }

    private void ObserveArray(ReadOnlySpan<byte> chunk)
    {
        // Top-level '[' is depth 1; each element object spans depth >= 2 and is dispatched when it closes.
        var start = _depth >= 2 ? 0 : -1;
        for (var i = 0; i < chunk.Length; i++)
        {
            var b = chunk[i];
            if (_inString)
            {
                if (_escaped) _escaped = false;
                else if (b == (byte)'\\') _escaped = true;
                else if (b == (byte)'"') _inString = false;
                continue;
            }

            switch (b)
            {
                case (byte)'"':
                    _inString = true;
                    break;
                case (byte)'{' or (byte)'[':
                    if (_depth == 1) start = i;
                    _depth++;
                    break;
                case (byte)'}' or (byte)']':
                    _depth--;
                    if (_depth == 1 && start >= 0)
                    {
                        Append(chunk[start..(i + 1)]);
                        start = -1;
                        DispatchDocument(streaming: true);
                    }
                    else if (_depth < 0)
                    {
                        _depth = 0; // stray closer: tolerate, flag once
                        _state.Problem ??= "unbalanced brackets in the JSON array stream";
                    }

                    break;
            }
        }

        if (start >= 0 && _depth >= 2) Append(chunk[start..]);
    }

    private void DispatchDocument(bool streaming)
    {
        if (_oversized)
        {
            _oversizedEvents++;
        }
        else if (_length > 0)
        {
            Parse(_buffer.AsSpan(0, _length), streaming);
        }

        _length = 0;
        _oversized = false;
    }

    private void Parse(ReadOnlySpan<byte> payload, bool streaming)
    {
        var document = default(WireDocument);
        if (!WireDocumentReader.Read(payload, ref document, _state.WantsIdentity))
        {
            _state.BadDocuments++;
            _state.Problem ??= document.Problem;
            return;
        }

        _state.Apply(ref document, streaming);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_oversized || bytes.IsEmpty) return;
        var needed = _length + bytes.Length;
        if (needed > _maxEventBytes)
        {
            _oversized = true;
            _length = 0;
            return;
        }

        if (_buffer is null || needed > _buffer.Length)
        {
            var size = Math.Min(_maxEventBytes, Math.Max(needed, Math.Max(InitialBuffer, (_buffer?.Length ?? 0) * 2)));
            var grown = ArrayPool<byte>.Shared.Rent(size);
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = grown;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length = needed;
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        _length = 0;
    }
}
