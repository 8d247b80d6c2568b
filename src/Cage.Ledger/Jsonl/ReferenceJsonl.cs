using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Ledger;

/// <summary>
/// Moves a ledger to and from the reference tool's files, <c>calls.jsonl</c> and <c>receipts.jsonl</c> (SPEC 5):
/// each call line carries the reference's 15 fields followed by ours, so the reference can read our export and an
/// export imported into a fresh ledger loses nothing.
/// </summary>
public static class ReferenceJsonl
{
    /// <summary>The calls file name: <c>calls.jsonl</c>.</summary>
    public const string CallsFileName = "calls.jsonl";

    /// <summary>The receipts file name: <c>receipts.jsonl</c>.</summary>
    public const string ReceiptsFileName = "receipts.jsonl";

    private const int BatchSize = 10_000;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Imports calls then receipts into <paramref name="store"/>, streaming the files and appending in batches of
    /// 10,000 records. Lines already in the ledger (same id and content, or same call request id) are skipped, so
    /// importing the same files again adds nothing; into a <see cref="SqliteLedger"/>, a line whose id the ledger holds
    /// with other content (the reference tool's short ids collide) is a different record, stored under the derived id
    /// <c>{id}~{8 hex digits}</c>, the same on every import. A bad line (malformed JSON, a field with a bad value, a line over 1 MiB) is
    /// reported in <see cref="ImportResult.Errors"/> with its file, line and field, and skipped; the rest still imports.
    /// </summary>
    /// <remarks>
    /// Call lines: our own fields win when present (<c>input</c>, <c>cache_read</c>, <c>cost_usd</c>,
    /// <c>cost_source</c>…), and a line with a <c>cost_source</c> keeps its cost as written. A reference line is
    /// priced with <paramref name="catalog"/>: a known model gets the catalog cost; an unknown one is unpriced (cost
    /// null, never a silent $0) unless the reference recorded a positive <c>est_cost_usd</c>, which is kept with
    /// <c>cost_source=catalog</c> and <c>price_key=reference</c>. Receipt lines: <c>saved</c> is recomputed, a missing
    /// <c>method</c> means modeled, an unknown unit or method or a negative amount rejects the line. Unknown fields
    /// are ignored and never stored.
    /// </remarks>
    /// <param name="store">The ledger to append to.</param>
    /// <param name="path">
    /// A <c>calls.jsonl</c> or <c>receipts.jsonl</c> file (a file whose name contains <c>receipt</c> is read as
    /// receipts, any other as calls), or a folder holding them directly, in <c>ledger/</c>, or in <c>.cage/ledger/</c>.
    /// </param>
    /// <param name="catalog">Prices reference lines.</param>
    /// <param name="progress">Receives the number of lines read so far, after every batch.</param>
    /// <param name="cancellationToken">Stops the import between batches; committed batches stay.</param>
    /// <returns>What was appended, lines read and the rejected lines.</returns>
    /// <exception cref="FileNotFoundException">Neither file was found at <paramref name="path"/>.</exception>
    public static async Task<ImportResult> ImportAsync(
        ILedgerStore store,
        string path,
        PriceCatalog catalog,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(catalog);

        var (callsFile, receiptsFile) = Locate(path);
        var state = new ImportState(store, progress);

        // The two files are read side by side and merged by timestamp (calls first on a tie), so a receipt is stored
        // in the batch of its call or soon after it: the ledger prices it from memory instead of looking its call up.
        await using var calls = callsFile is null ? null : new LineSource(state, callsFile, receipts: false, catalog);
        await using var receipts = receiptsFile is null ? null : new LineSource(state, receiptsFile, receipts: true, catalog);
        var callBatch = new List<CallRecord>(BatchSize);
        var receiptBatch = new List<SavingsReceipt>(BatchSize);
        var haveCall = calls is not null && await calls.MoveNextAsync(cancellationToken);
        var haveReceipt = receipts is not null && await receipts.MoveNextAsync(cancellationToken);
        while (haveCall || haveReceipt)
        {
            if (haveCall && (!haveReceipt || calls!.Call!.Timestamp <= receipts!.Receipt!.Timestamp))
            {
                callBatch.Add(calls!.Call!);
                haveCall = await calls.MoveNextAsync(cancellationToken);
            }
            else
            {
                receiptBatch.Add(receipts!.Receipt!);
                haveReceipt = await receipts.MoveNextAsync(cancellationToken);
            }

            if (callBatch.Count + receiptBatch.Count >= BatchSize)
            {
                await state.FlushAsync(callBatch, receiptBatch, cancellationToken);
            }
        }

        await state.FlushAsync(callBatch, receiptBatch, cancellationToken);
        await state.CompleteAsync();
        progress?.Report(state.LinesRead);
        return new ImportResult(state.Appended, state.LinesRead, state.Errors) { Renamed = state.Renamed };
    }

    /// <summary>
    /// Writes every call and receipt, oldest first, to <c>calls.jsonl</c> and <c>receipts.jsonl</c> in
    /// <paramref name="folder"/> (created when missing; existing files are replaced once complete). Call lines
    /// start with the reference's 15 fields (<c>est_cost_usd</c> is the cost, or null when unpriced; <c>ts</c> is
    /// <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, without the fraction when it is zero) followed by ours; money is written as
    /// exact JSON numbers.
    /// </summary>
    /// <param name="reader">The ledger to read.</param>
    /// <param name="folder">The folder to write into.</param>
    /// <param name="cancellationToken">Cancels the export; a cancelled export leaves any previous files in place.</param>
    /// <returns>Lines written and the file paths.</returns>
    public static async Task<ExportResult> ExportAsync(ILedgerReader reader, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        var fullFolder = Path.GetFullPath(folder);
        Directory.CreateDirectory(fullFolder);
        var callsFile = Path.Combine(fullFolder, CallsFileName);
        var receiptsFile = Path.Combine(fullFolder, ReceiptsFileName);

        var calls = await WriteLinesAsync(callsFile, reader.ReadCallsAsync(TimeWindow.All, cancellationToken), WriteCall, cancellationToken);
        var receipts = await WriteLinesAsync(receiptsFile, reader.ReadReceiptsAsync(TimeWindow.All, cancellationToken), WriteReceipt, cancellationToken);
        return new ExportResult(calls, receipts, callsFile, receiptsFile);
    }

    internal static (string? Calls, string? Receipts) Locate(string path)
    {
        if (File.Exists(path))
        {
            var full = Path.GetFullPath(path);
            return Path.GetFileName(full).Contains("receipt", StringComparison.OrdinalIgnoreCase) ? (null, full) : (full, null);
        }

        if (Directory.Exists(path))
        {
            var root = Path.GetFullPath(path);
            foreach (var folder in new[] { root, Path.Combine(root, "ledger"), Path.Combine(root, LedgerLocation.FolderName, "ledger") })
            {
                var calls = Path.Combine(folder, CallsFileName);
                var receipts = Path.Combine(folder, ReceiptsFileName);
                var hasCalls = File.Exists(calls);
                var hasReceipts = File.Exists(receipts);
                if (hasCalls || hasReceipts)
                {
                    return (hasCalls ? calls : null, hasReceipts ? receipts : null);
                }
            }
        }

        throw new FileNotFoundException(
            $"No {CallsFileName} or {ReceiptsFileName} at '{path}' (looked at the path itself, ledger/ and .cage/ledger/).", path);
    }

    /// <summary>One JSONL file read record by record; bad lines are reported with their file, line and field, and skipped.</summary>
    private sealed class LineSource(ImportState state, string file, bool receipts, PriceCatalog catalog) : IAsyncDisposable
    {
        private readonly JsonlLineReader _lines = new(file);

        public CallRecord? Call { get; private set; }

        public SavingsReceipt? Receipt { get; private set; }

        public async Task<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            Call = null;
            Receipt = null;
            while (await _lines.ReadAsync(cancellationToken))
            {
                state.LinesRead++;
                if (_lines.TooLong)
                {
                    state.Errors.Add(new ImportError(file, _lines.LineNumber, null, $"line is longer than {JsonlLineReader.MaxLineBytes} bytes; skipped"));
                    continue;
                }

                if (Parse(_lines.Current.Span))
                {
                    return true;
                }
            }

            return false;
        }

        private bool Parse(ReadOnlySpan<byte> line)
        {
            if (IsBlank(line))
            {
                return false;
            }

            try
            {
                if (receipts)
                {
                    Receipt = ReferenceLineParser.ParseReceipt(line);
                }
                else
                {
                    Call = ReferenceLineParser.ParseCall(line, catalog);
                }

                return true;
            }
            catch (JsonException ex)
            {
                state.Errors.Add(new ImportError(file, _lines.LineNumber, null, string.Create(CultureInfo.InvariantCulture,
                    $"malformed JSON at byte {(ex.BytePositionInLine ?? 0) + 1}: {Describe(ex)}")));
            }
            catch (InvalidOperationException)
            {
                state.Errors.Add(new ImportError(file, _lines.LineNumber, null, "malformed JSON: invalid UTF-8 text"));
            }
            catch (CageValidationException ex)
            {
                state.Errors.Add(new ImportError(file, _lines.LineNumber, ex.Field, StripParameterSuffix(ex.Message)));
            }

            return false;
        }

        public ValueTask DisposeAsync() => _lines.DisposeAsync();
    }

    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
            {
                return false;
            }
        }

        return true;
    }

    // Our own parser messages are written for the user; System.Text.Json's are generic, keep their first sentence.
    private static string Describe(JsonException ex)
    {
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        return (cut >= 0 ? message[..cut] : message).TrimEnd();
    }

    // ArgumentException appends " (Parameter 'field')" to its message; the field is reported on its own.
    private static string StripParameterSuffix(string message)
    {
        var cut = message.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return cut >= 0 ? message[..cut] : message;
    }

    private static async Task<int> WriteLinesAsync<T>(
        string file,
        IAsyncEnumerable<T> records,
        Action<Utf8JsonWriter, T> write,
        CancellationToken cancellationToken)
    {
        var temporary = file + ".tmp";
        var count = 0;
        var buffer = new ArrayBufferWriter<byte>(1024);
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                await foreach (var record in records.WithCancellation(cancellationToken))
                {
                    write(writer, record);
                    writer.Flush();
                    buffer.Write("\n"u8);
                    count++;
                    if (buffer.WrittenCount >= 1 << 16)
                    {
                        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken);
                        buffer.ResetWrittenCount();
                    }

                    writer.Reset(buffer);
                }

                await stream.WriteAsync(buffer.WrittenMemory, cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }

            File.Move(temporary, file, overwrite: true);
            return count;
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes one call as a reference-compatible JSON object (the 15 reference fields, then ours); shared with <c>cage why --json</c>.</summary>
    internal static void WriteCall(Utf8JsonWriter w, CallRecord call)
    {
        w.WriteStartObject();
        // The reference's 15 fields, in its order.
        w.WriteString("id", call.Id);
        w.WriteString("ts", FormatTimestamp(call.Timestamp));
        WriteOptional(w, "session", call.Session);
        WriteOptional(w, "task", call.Task);
        WriteOptional(w, "agent", call.Agent);
        WriteOptional(w, "route", call.Route);
        w.WriteString("provider", call.Provider);
        w.WriteString("model", call.Model);
        w.WriteNumber("tokens_in", call.TokensIn);
        w.WriteNumber("tokens_out", call.TokensOut);
        w.WriteNumber("cached_in", call.CachedIn);
        WriteMoney(w, "est_cost_usd", call.CostUsd);
        w.WriteNumber("latency_ms", call.LatencyMs);
        w.WriteBoolean("ok", call.Ok);
        w.WriteNumber("retries", call.Retries);
        // Ours: the exclusive buckets and provenance, so a round trip is lossless.
        w.WriteNumber("input", call.Usage.Input);
        w.WriteNumber("cache_read", call.Usage.CacheRead);
        w.WriteNumber("cache_write_5m", call.Usage.CacheWrite5m);
        w.WriteNumber("cache_write_1h", call.Usage.CacheWrite1h);
        w.WriteNumber("output", call.Usage.Output);
        if (call.Usage.Reasoning is { } reasoning)
        {
            w.WriteNumber("reasoning", reasoning);
        }
        else
        {
            w.WriteNull("reasoning");
        }

        WriteMoney(w, "cost_usd", call.CostUsd);
        w.WriteString("cost_source", call.CostSource.ToWire());
        WriteOptional(w, "price_key", call.PriceKey);
        w.WriteString("usage_status", call.UsageStatus.ToWire());
        WriteOptional(w, "category", call.Category);
        WriteOptional(w, "user", call.User);
        w.WriteNumber("attempt", call.Attempt);
        WriteOptional(w, "request_id", call.RequestId);
        WriteOptional(w, "error", call.Error);
        if (call.Tags is { Count: > 0 } tags)
        {
            w.WriteStartObject("tags");
            foreach (var pair in tags.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteString(pair.Key, pair.Value);
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("tags");
        }

        w.WriteEndObject();
    }

    /// <summary>Writes one receipt as the reference wrote it; shared with <c>cage why --json</c>.</summary>
    internal static void WriteReceipt(Utf8JsonWriter w, SavingsReceipt receipt)
    {
        w.WriteStartObject();
        w.WriteString("id", receipt.Id);
        w.WriteString("ts", FormatTimestamp(receipt.Timestamp));
        w.WriteString("call", receipt.CallId ?? ""); // the reference writes "" for a call-less receipt
        WriteOptional(w, "task", receipt.Task);
        w.WriteString("tool", receipt.Tool);
        w.WriteString("unit", receipt.Unit.ToWire());
        w.WriteNumber("raw_alternative", receipt.RawAlternative);
        w.WriteNumber("actual", receipt.Actual);
        w.WriteNumber("saved", receipt.Saved);
        w.WriteString("method", receipt.Method.ToWire());
        w.WriteNumber("confidence", receipt.Confidence);
        w.WriteStartObject("meta");
        foreach (var pair in receipt.Meta.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            // Numbers and booleans were read from JSON numbers and booleans: give them back as such (the
            // reference's ROI reads meta.tool_cost_usd as a number).
            if (IsJsonLiteral(pair.Value))
            {
                w.WritePropertyName(pair.Key);
                w.WriteRawValue(pair.Value, skipInputValidation: true);
            }
            else
            {
                w.WriteString(pair.Key, pair.Value);
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteMoney(Utf8JsonWriter w, string name, decimal? value)
    {
        if (value is { } amount)
        {
            w.WriteNumber(name, LedgerMoney.Normalize(amount));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    internal static string FormatTimestamp(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        return utc.Millisecond == 0
            ? utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the text is a JSON number (RFC 8259 grammar) or <c>true</c>/<c>false</c>.</summary>
    internal static bool IsJsonLiteral(string text)
    {
        if (text is "true" or "false")
        {
            return true;
        }

        var i = 0;
        var n = text.Length;
        if (i < n && text[i] == '-')
        {
            i++;
        }

        if (i >= n)
        {
            return false;
        }

        if (text[i] == '0')
        {
            i++;
        }
        else if (char.IsAsciiDigit(text[i]) && text[i] != '0')
        {
            while (i < n && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
        }
        else
        {
            return false;
        }

        if (i < n && text[i] == '.')
        {
            i++;
            var digits = i;
            while (i < n && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == digits)
            {
                return false;
            }
        }

        if (i < n && (text[i] == 'e' || text[i] == 'E'))
        {
            i++;
            if (i < n && (text[i] == '+' || text[i] == '-'))
            {
                i++;
            }

            var digits = i;
            while (i < n && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == digits)
            {
                return false;
            }
        }

        return i == n;
    }

    private sealed class ImportState(ILedgerStore store, IProgress<int>? progress)
    {
        // One batch is stored while the next is parsed (two cores busy instead of one); at most one is in flight,
        // so batches commit in file order.
        private Task<AppendResult>? _pending;

        public AppendResult Appended { get; private set; }

        public int LinesRead { get; set; }

        public List<ImportError> Errors { get; } = [];

        /// <summary>Records stored under a derived id (same id as a stored record, other content); one batch in flight writes it at a time.</summary>
        public List<RenamedRecord> Renamed { get; } = [];

        public async Task FlushAsync(List<CallRecord> calls, List<SavingsReceipt> receipts, CancellationToken cancellationToken)
        {
            await WaitForPendingAsync();
            if (calls.Count + receipts.Count > 0)
            {
                var batch = new LedgerBatch(calls.ToArray(), receipts.ToArray());
                calls.Clear();
                receipts.Clear();
                _pending = Task.Run(async () => store is SqliteLedger sqlite
                    ? await sqlite.AppendDistinctAsync(batch, Renamed, cancellationToken)
                    : await store.AppendAsync(batch, cancellationToken), cancellationToken);
                progress?.Report(LinesRead);
            }
        }

        public async Task CompleteAsync()
        {
            await WaitForPendingAsync();
        }

        private async Task WaitForPendingAsync()
        {
            if (_pending is { } pending)
            {
                _pending = null;
                Appended += await pending;
            }
        }
    }
}
