using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Protocols;

/// <summary>
/// Imports agent logs and captured responses as call records (SPEC 2.2, 8): Claude Code transcripts, Codex rollouts and
/// raw provider responses (JSON or SSE), from a file or a folder (recursively). Nothing is written: hand
/// <see cref="AgentLogImport.Calls"/> to a ledger (its request-id idempotency makes a re-import add nothing).
/// </summary>
public static class AgentLogImporter
{
    /// <summary>The longest line read (32 MiB); a longer one is reported and skipped.</summary>
    public const int MaxLineBytes = 32 * 1024 * 1024;

    /// <summary>How often (in lines) a large transcript or rollout reports progress while it is read.</summary>
    internal const int ProgressLines = 10_000;

    /// <summary>The largest captured response file read whole (64 MiB).</summary>
    public const int MaxCapturedBytes = 64 * 1024 * 1024;

    private const int SniffBytes = 64 * 1024;

    /// <summary>Problems listed per import; more are counted (<see cref="AgentLogImport.Rejections"/>) but not listed.</summary>
    private const int MaxProblems = 10_000;
    private static readonly string[] Extensions = [".jsonl", ".json", ".sse", ".txt", ".ndjson"];

    /// <summary>Recognizes a file by its name and first bytes.</summary>
    /// <param name="file">The file.</param>
    /// <returns>The kind, or <see cref="AgentLogKind.Unknown"/>.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static AgentLogKind Detect(string file)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(file);
        var name = Path.GetFileName(file);
        if (name.Equals("calls.jsonl", StringComparison.OrdinalIgnoreCase) || name.Equals("receipts.jsonl", StringComparison.OrdinalIgnoreCase))
        {
            return AgentLogKind.ReferenceJsonl;
        }

        byte[] head;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            head = new byte[(int)Math.Min(SniffBytes, stream.Length)];
            stream.ReadExactly(head);
        }

        ReadOnlySpan<byte> span = head;
        if (span.IndexOf("\"payload\""u8) >= 0 && (span.IndexOf("\"session_meta\""u8) >= 0 || span.IndexOf("\"event_msg\""u8) >= 0 || span.IndexOf("\"turn_context\""u8) >= 0 || span.IndexOf("\"response_item\""u8) >= 0))
        {
            return AgentLogKind.Codex;
        }

        if (span.IndexOf("\"sessionId\""u8) >= 0 && (span.IndexOf("\"parentUuid\""u8) >= 0 || span.IndexOf("\"isSidechain\""u8) >= 0)
            || span.IndexOf("\"leafUuid\""u8) >= 0)
        {
            return AgentLogKind.ClaudeCode;
        }

        if (span.IndexOf("\"tokens_in\""u8) >= 0 || span.IndexOf("\"est_cost_usd\""u8) >= 0 || span.IndexOf("\"raw_alternative\""u8) >= 0)
        {
            return AgentLogKind.ReferenceJsonl;
        }

        return WireParser.DetectProtocol(span) != WireProtocol.Unknown || LooksLikeProviderStream(span) ? AgentLogKind.CapturedResponse : AgentLogKind.Unknown;
    }

    /// <summary>Reads a file, or every <c>.jsonl</c>/<c>.json</c>/<c>.sse</c> file under a folder, into normalized, priced call records.</summary>
    /// <param name="path">A file or a folder (for example <c>~/.claude/projects</c> or <c>~/.codex/sessions</c>).</param>
    /// <param name="catalog">Prices the records (a provider-reported cost wins).</param>
    /// <param name="progress">Receives progress after every file, and every 10,000 lines inside a large transcript or rollout.</param>
    /// <param name="cancellationToken">Stops between files.</param>
    /// <returns>The records, samples and problems. Claude Code responses are deduplicated across all files read.</returns>
    /// <exception cref="FileNotFoundException">The path does not exist.</exception>
    /// <remarks>
    /// Claude Code: one API response is written as several lines repeating <c>usage</c>; lines are deduplicated by
    /// <c>message.id</c> + <c>requestId</c> (<c>message.id</c> alone when there is no <c>requestId</c>) across every file,
    /// keeping the line with the largest <c>output_tokens</c>; <c>&lt;synthetic&gt;</c> lines and lines without usage are
    /// skipped. The record's request id is the response's <c>message.id</c> (the id a live meter records), its time the
    /// first line's. Codex: a call is the delta between successive distinct cumulative <c>total_token_usage</c>
    /// snapshots (<c>info: null</c> and repeated snapshots add nothing); its request id is
    /// <c>codex:&lt;session&gt;:&lt;line&gt;:&lt;input&gt;-&lt;cached&gt;-&lt;output&gt;-&lt;reasoning&gt;-&lt;total&gt;</c> (the snapshot's line
    /// number and every cumulative field, so distinct snapshots never share an id and a re-import adds nothing). Captured responses: parsed with <see cref="WireParser"/>; the
    /// request id is the response id, or a hash of the content; the time is the file's last write time.
    /// </remarks>
    public static AgentLogImport Read(string path, PriceCatalog catalog, IProgress<ImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(catalog);
        string[] files;
        var run = new Run(catalog);
        var single = File.Exists(path);
        if (single)
        {
            files = Readable(Path.GetFullPath(path), run) is { } file ? [file] : [];
        }
        else if (Directory.Exists(path))
        {
            files = [.. FilesUnder(Path.GetFullPath(path), run).Order(StringComparer.Ordinal)];
        }
        else
        {
            throw new FileNotFoundException($"no such file or folder: {path}", path);
        }

        var done = 0;
        if (progress is not null)
        {
            // Inside a large file too, every ProgressLines lines: the files finished so far and the lines read.
            run.LineProgress = () => progress.Report(new ImportProgress(done, files.Length, run.LinesRead));
        }

        for (var i = 0; i < files.Length; i++, done = i)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var file = files[i];
            try
            {
                var kind = Detect(file);
                switch (kind)
                {
                    case AgentLogKind.ClaudeCode: run.ReadClaudeCode(file); break;
                    case AgentLogKind.Codex: run.ReadCodex(file); break;
                    case AgentLogKind.CapturedResponse: run.ReadCaptured(file); break;
                    case AgentLogKind.ReferenceJsonl: run.ReferenceFiles.Add(file); break;
                    default:
                        if (single) run.Problem(file, 0, null, "not a Claude Code transcript, Codex rollout, reference ledger or provider response");
                        break;
                }

                if (kind is not (AgentLogKind.ReferenceJsonl or AgentLogKind.Unknown)) run.Read.Add(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                run.Problem(file, 0, null, "could not be read: " + ex.Message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
            {
                // Lines are rejected one by one below; this only catches a fault between lines. The file's records
                // read so far stay, and the other files are still read.
                run.Problem(file, 0, null, "rejected from here on: " + Describe(ex));
            }

            progress?.Report(new ImportProgress(i + 1, files.Length, run.LinesRead));
        }

        return run.Finish();
    }

    /// <summary>
    /// The importable files under a folder, each real file once. Symbolic links are followed, but a folder is entered
    /// only once, by the path its link resolves to, so links to an ancestor (a cycle) end the walk instead of looping;
    /// a file reached through several links is read once. Only regular, non-empty files are returned: a FIFO, a device
    /// or a socket reports no length and would block (or never end) when read, so it is skipped with a problem.
    /// </summary>
    private static List<string> FilesUnder(string root, Run run)
    {
        var files = new List<string>();
        var seenFiles = new HashSet<string>(StringComparer.Ordinal);
        var seenFolders = new HashSet<string>(StringComparer.Ordinal) { Resolved(new DirectoryInfo(root)) };
        var pending = new Stack<string>();
        pending.Push(root);
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = FileAttributes.System, RecurseSubdirectories = false };
        while (pending.TryPop(out var folder))
        {
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = [.. new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options)];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                run.Skipped(folder, "the folder could not be read: " + ex.Message);
                continue;
            }

            foreach (var entry in entries)
            {
                if (entry is DirectoryInfo directory)
                {
                    var real = Resolved(directory);
                    if (seenFolders.Add(real))
                    {
                        pending.Push(real);
                    }

                    continue;
                }

                if (!Extensions.Contains(Path.GetExtension(entry.Name), StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (Readable(entry.FullName, run) is { } file && seenFiles.Add(file))
                {
                    files.Add(file);
                }
            }
        }

        return files;
    }

    /// <summary>The path a file's links resolve to when it is a regular file with content, else null (with a problem when it is not a regular file).</summary>
    private static string? Readable(string path, Run run)
    {
        try
        {
            var info = new FileInfo(path);
            var real = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
            if (real is null || !real.Exists)
            {
                run.Skipped(path, "a link whose target does not exist");
                return null;
            }

            if (real.Length == 0)
            {
                // An empty regular file holds nothing to import; a FIFO, device or socket reports no length either and
                // opening it could block forever.
                run.Skipped(path, "empty, or not a regular file (a FIFO, device or socket)");
                return null;
            }

            return real.FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            run.Skipped(path, ex.Message);
            return null;
        }
    }

    /// <summary>A folder's identity for the walk: the path its link resolves to (itself when it is not a link).</summary>
    private static string Resolved(DirectoryInfo folder)
    {
        try
        {
            return folder.LinkTarget is null ? folder.FullName : folder.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? folder.FullName;
        }
        catch (IOException)
        {
            return folder.FullName; // a link loop: its own path, entered at most once
        }
    }

    private static bool LooksLikeProviderStream(ReadOnlySpan<byte> head) =>
        (head.StartsWith("data:"u8) || head.StartsWith("event:"u8) || head.StartsWith(":"u8))
        && (head.IndexOf("\"usage"u8) >= 0 || head.IndexOf("\"choices\""u8) >= 0 || head.IndexOf("\"type\":"u8) >= 0 || head.IndexOf("\"candidates\""u8) >= 0);

    /// <summary>The state of one import: Claude Code responses are kept across files for the cross-file dedupe.</summary>
    private sealed class Run(PriceCatalog catalog)
    {
        private readonly Dictionary<string, ClaudeResponse> _claude = new(StringComparer.Ordinal);
        private readonly List<CallRecord> _calls = [];
        private readonly List<ImportOrigin> _origins = [];
        private readonly List<RateLimitSample> _rateLimits = [];
        private readonly List<ImportProblem> _problems = [];
        private long _duplicates;
        private long _skipped;

        public List<string> ReferenceFiles { get; } = [];

        /// <summary>The files read (reference ledger files not included).</summary>
        public List<string> Read { get; } = [];

        /// <summary>Files a walk skipped: FIFOs, devices, sockets, empty files, dangling links, unreadable folders.</summary>
        public int FilesSkipped { get; private set; }

        public long LinesRead { get; private set; }

        /// <summary>Called every <see cref="ProgressLines"/> lines of a transcript or rollout.</summary>
        public Action? LineProgress { get; set; }

        private void CountLine()
        {
            LinesRead++;
            if (LinesRead % ProgressLines == 0)
            {
                LineProgress?.Invoke();
            }
        }

        /// <summary>A rejection: what the line or file held was not imported.</summary>
        public void Problem(string file, int line, string? field, string message)
        {
            Rejections++;
            if (_problems.Count < MaxProblems) _problems.Add(new ImportProblem(file, line, field, message));
        }

        /// <summary>A file or folder the walk skipped (a warning).</summary>
        public void Skipped(string path, string message)
        {
            FilesSkipped++;
            Warning(path, 0, null, "skipped: " + message);
        }

        /// <summary>A warning: the record was imported with a caveat, or what was skipped held nothing to import.</summary>
        public void Warning(string file, int line, string? field, string message)
        {
            if (_problems.Count < MaxProblems) _problems.Add(new ImportProblem(file, line, field, message) { IsWarning = true });
        }

        /// <summary>Rejections counted, including those past <see cref="MaxProblems"/> that were not listed.</summary>
        public long Rejections { get; private set; }

        public void ReadClaudeCode(string file)
        {
            using var reader = new LineReader(file, MaxLineBytes);
            while (reader.Read())
            {
                CountLine();
                if (reader.TooLong)
                {
                    Problem(file, reader.LineNumber, null, $"line longer than {MaxLineBytes} bytes skipped");
                    continue;
                }

                var line = reader.Current;
                if (line.IndexOf("\"usage\""u8) < 0) continue; // user lines, summaries, tool results: no usage to read
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(line.ToArray());
                }
                catch (JsonException ex)
                {
                    Problem(file, reader.LineNumber, null, "malformed JSON: " + FirstSentence(ex.Message));
                    continue;
                }

                using (doc)
                {
                    try
                    {
                        ReadClaudeLine(file, reader.LineNumber, doc.RootElement);
                    }
                    catch (Exception ex) when (IsLineFault(ex))
                    {
                        Problem(file, reader.LineNumber, null, Describe(ex));
                    }
                }
            }
        }

        private void ReadClaudeLine(string file, int lineNumber, JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object
                || !message.TryGetProperty("usage", out var usageElement) || usageElement.ValueKind != JsonValueKind.Object)
            {
                return; // no usage: nothing billed on this line
            }

            var model = String(message, "model") ?? "";
            if (model == "<synthetic>")
            {
                _skipped++;
                return;
            }

            if (String(message, "id") is not { Length: > 0 } messageId)
            {
                Problem(file, lineNumber, "message.id", "a usage line without message.id cannot be deduplicated; skipped");
                return;
            }

            var raw = default(RawUsage);
            string? problem = null;
            var bytes = Encoding.UTF8.GetBytes(usageElement.GetRawText());
            var json = new Utf8JsonReader(bytes);
            json.Read();
            WireDocumentReader.ReadUsage(ref json, ref raw, ref problem, "message.usage");
            if (problem is null && !raw.Any)
            {
                // {} or only fields we do not bill ({"service_tier": "standard"}): not a call of zero tokens.
                Problem(file, lineNumber, "message.usage", "no token counts; the line was skipped (its cost is unknown, not $0)");
                return;
            }

            if (problem is not null || raw.Normalize(WireProtocol.AnthropicMessages, out var usage) is { } inconsistent && (problem = inconsistent) is not null)
            {
                Problem(file, lineNumber, "message.usage", problem!);
                return;
            }

            var requestId = String(root, "requestId");
            var key = requestId is null ? messageId : messageId + "|" + requestId;
            var timestamp = Timestamp(root, file, lineNumber);
            if (_claude.TryGetValue(key, out var seen))
            {
                _duplicates++;
                if (timestamp < seen.Timestamp) seen.Timestamp = timestamp;
                if (usage.Output <= seen.Usage.Output) return;
                seen.Usage = usage; // the line with the most output is the response's final usage
                seen.File = file;
                seen.Line = lineNumber;
                seen.Model = model.Length > 0 ? model : seen.Model;
                seen.ServiceTier = raw.ServiceTier ?? seen.ServiceTier;
                return;
            }

            _claude[key] = new ClaudeResponse
            {
                MessageId = messageId,
                File = file,
                Line = lineNumber,
                Timestamp = timestamp,
                Session = String(root, "sessionId"),
                Sidechain = root.TryGetProperty("isSidechain", out var side) && side.ValueKind == JsonValueKind.True,
                Model = model,
                Usage = usage,
                ServiceTier = raw.ServiceTier,
            };
        }

        public void ReadCodex(string file)
        {
            using var reader = new LineReader(file, MaxLineBytes);
            string? session = null;
            string model = "";
            CodexTotals? previous = null;
            while (reader.Read())
            {
                CountLine();
                if (reader.TooLong)
                {
                    Problem(file, reader.LineNumber, null, $"line longer than {MaxLineBytes} bytes skipped");
                    continue;
                }

                var line = reader.Current;
                if (line.IndexOf("\"token_count\""u8) < 0 && line.IndexOf("\"session_meta\""u8) < 0 && line.IndexOf("\"turn_context\""u8) < 0) continue;
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(line.ToArray());
                }
                catch (JsonException ex)
                {
                    Problem(file, reader.LineNumber, null, "malformed JSON: " + FirstSentence(ex.Message));
                    continue;
                }

                using (doc)
                {
                    try
                    {
                        var root = doc.RootElement;
                        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("payload", out var payload) || payload.ValueKind != JsonValueKind.Object) continue;
                        switch (String(root, "type"))
                        {
                            case "session_meta":
                                session = String(payload, "id") ?? session;
                                continue;
                            case "turn_context":
                                model = String(payload, "model") ?? model;
                                continue;
                            case "event_msg" when String(payload, "type") == "token_count":
                                break;
                            default:
                                continue;
                        }

                        var timestamp = Timestamp(root, file, reader.LineNumber);
                        session ??= Path.GetFileNameWithoutExtension(file);
                        if (payload.TryGetProperty("rate_limits", out var limits) && limits.ValueKind == JsonValueKind.Object)
                        {
                            ReadRateLimits(file, reader.LineNumber, limits, timestamp, session);
                        }

                        if (!payload.TryGetProperty("info", out var info) || info.ValueKind != JsonValueKind.Object)
                        {
                            _skipped++; // info: null carries no usage
                            continue;
                        }

                        if (!info.TryGetProperty("total_token_usage", out var totalElement) || totalElement.ValueKind != JsonValueKind.Object)
                        {
                            Problem(file, reader.LineNumber, "payload.info.total_token_usage", "missing");
                            continue;
                        }

                        if (CodexTotals.Read(totalElement, out var error) is not { } total)
                        {
                            Problem(file, reader.LineNumber, "payload.info.total_token_usage", error!);
                            continue;
                        }

                        if (total.Cached > total.Input || total.Reasoning > total.Output)
                        {
                            Problem(file, reader.LineNumber, "payload.info.total_token_usage", "cached_input_tokens exceeds input_tokens, or reasoning_output_tokens exceeds output_tokens; snapshot skipped");
                            continue;
                        }

                        if (previous is { } last && total == last)
                        {
                            _duplicates++;
                            continue;
                        }

                        var delta = previous is { } before ? total - before : total;
                        var restart = delta.IsNegative;
                        if (restart)
                        {
                            delta = total;
                        }

                        if (new TokenUsage(delta.Input, 0, 0, 0, delta.Output).Validation() is { } tooLarge)
                        {
                            // A corrupt snapshot: rejected, and the next one is counted from the last good one.
                            Problem(file, reader.LineNumber, "payload.info.total_token_usage", "the snapshot adds more tokens than one call can hold (" + tooLarge.Message + "); skipped");
                            continue;
                        }

                        if (restart)
                        {
                            Warning(file, reader.LineNumber, "payload.info.total_token_usage", "the cumulative totals went down; counted from this snapshot as a fresh start");
                        }

                        previous = total;
                        if (delta is { Input: 0, Cached: 0, Output: 0, Reasoning: 0 })
                        {
                            // Only total_tokens moved: no billed token was added, so there is no call (not one of $0).
                            _duplicates++;
                            continue;
                        }

                        if (delta.Cached > delta.Input || delta.Reasoning > delta.Output)
                        {
                            Problem(file, reader.LineNumber, "payload.info.total_token_usage", "cached_input_tokens exceeds input_tokens, or reasoning exceeds output");
                            continue;
                        }

                        var usage = new TokenUsage(delta.Input - delta.Cached, delta.Cached, 0, 0, delta.Output, delta.Reasoning);
                        // Every cumulative field and the snapshot's line: totals that restart, or snapshots that differ only in
                        // the cached count, never share an id (the ledger's unique request_id would drop one), and reading the
                        // same file again gives the same ids (a re-import adds nothing).
                        var requestId = string.Create(CultureInfo.InvariantCulture,
                            $"codex:{session}:{reader.LineNumber}:{total.Input}-{total.Cached}-{total.Output}-{total.Reasoning}-{total.Total}");
                        Add(Record(timestamp, requestId, "openai", model, usage, null, null, session, "codex", "codex", "main", UsageStatus.Reported, ok: true, error: null),
                        new ImportOrigin(file, reader.LineNumber, Upgradable: false));
                    }
                    catch (Exception ex) when (IsLineFault(ex))
                    {
                        Problem(file, reader.LineNumber, null, Describe(ex));
                    }
                }
            }
        }

        private void ReadRateLimits(string file, int lineNumber, JsonElement limits, DateTimeOffset observedAt, string session)
        {
            var plan = String(limits, "plan_type");
            foreach (var window in new[] { "primary", "secondary" })
            {
                if (!limits.TryGetProperty(window, out var w) || w.ValueKind != JsonValueKind.Object) continue;
                if (!w.TryGetProperty("used_percent", out var used) || used.ValueKind != JsonValueKind.Number || !used.TryGetDouble(out var percent) || !double.IsFinite(percent) || percent < 0)
                {
                    Problem(file, lineNumber, $"payload.rate_limits.{window}.used_percent", "not a finite percent >= 0");
                    continue;
                }

                var minutes = w.TryGetProperty("window_minutes", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var mm) && mm > 0 ? mm : 0;
                DateTimeOffset? resets = w.TryGetProperty("resets_at", out var r) && r.ValueKind == JsonValueKind.Number && r.TryGetInt64(out var seconds) && seconds is > 0 and < 253_402_300_799
                    ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                    : null;
                _rateLimits.Add(new RateLimitSample(observedAt, window, percent, minutes, resets, session, plan));
            }
        }

        public void ReadCaptured(string file)
        {
            var info = new FileInfo(file);
            if (info.Length > MaxCapturedBytes)
            {
                Problem(file, 0, null, $"larger than {MaxCapturedBytes} bytes; skipped");
                return;
            }

            var bytes = File.ReadAllBytes(file);
            LinesRead += bytes.AsSpan().Count((byte)'\n') + 1;
            if (!WireParser.TryParse(bytes, WireProtocol.Unknown, out var usage, out var error))
            {
                Problem(file, 0, null, error);
                return;
            }

            if (usage.Protocol == WireProtocol.Unknown)
            {
                Problem(file, 0, null, "not a provider response (no usage or known envelope)");
                return;
            }

            if (usage.Problem is not null && usage.Status != UsageStatus.Reported)
            {
                Warning(file, 0, null, "flagged: " + usage.Problem);
            }

            var requestId = usage.ResponseId ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16));
            var timestamp = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
            var ok = usage.Ok && usage.Status == UsageStatus.Reported;
            Add(Record(timestamp, requestId, usage.Provider, usage.Model, usage.Usage, usage.ProviderCost, usage.ServiceTier, null, null, "captured", null,
                usage.Status, ok, usage.Error ?? (ok ? null : usage.Problem)), new ImportOrigin(file, 0, Upgradable: false));
        }

        public AgentLogImport Finish()
        {
            foreach (var response in _claude.Values)
            {
                // A transcript read while the response was still streaming holds partial usage: a later import of the
                // finished file upgrades the stored call (same id) when it reports more output.
                Add(Record(response.Timestamp, response.MessageId, "anthropic", response.Model, response.Usage, null, response.ServiceTier, response.Session,
                    "claude-code", "claude-code", response.Sidechain ? "delegate" : "main", UsageStatus.Reported, ok: true, error: null),
                    new ImportOrigin(response.File, response.Line, Upgradable: true));
            }

            var kept = Enumerable.Range(0, _calls.Count)
                .GroupBy(i => _calls[i].RequestId, StringComparer.Ordinal).Select(g => g.First()) // the same captured response twice in a folder
                .OrderBy(i => _calls[i].Timestamp).ThenBy(i => _calls[i].RequestId, StringComparer.Ordinal).ToArray();
            var calls = kept.Select(i => _calls[i]).ToArray();
            var origins = kept.Select(i => _origins[i]).ToArray();
            var limits = _rateLimits.OrderBy(s => s.ObservedAt).ThenBy(s => s.Window, StringComparer.Ordinal).ToArray();
            return new AgentLogImport(calls, limits, _problems.ToArray(), ReferenceFiles.ToArray(), Read.Count, LinesRead, _duplicates + (_calls.Count - calls.Length), _skipped)
            {
                Origins = origins,
                Rejections = Rejections,
                Files = Read.ToArray(),
                FilesSkipped = FilesSkipped,
            };
        }

        private void Add(CallRecord call, ImportOrigin origin)
        {
            _calls.Add(call);
            _origins.Add(origin);
        }

        private CallRecord Record(DateTimeOffset timestamp, string requestId, string provider, string model, in TokenUsage usage, decimal? providerCost, string? serviceTier,
            string? session, string? agent, string route, string? category, UsageStatus status, bool ok, string? error)
        {
            var quote = catalog.Price(provider, model, usage, providerCost, NormalizeTier(serviceTier));
            if (status == UsageStatus.Missing && providerCost is null && usage.TotalTokens == 0)
            {
                // A response without usage (none, "usage": null, or counts that were rejected): what it cost is
                // unknown, never a free $0 (the live meter's rule).
                quote = quote with { CostUsd = null };
            }

            var at = CageIds.TruncateToMilliseconds(timestamp);
            return new CallRecord
            {
                Id = StableId(at, requestId),
                Timestamp = at,
                Session = session,
                Agent = agent,
                Route = route,
                Category = category,
                Provider = provider,
                Model = model,
                Usage = usage,
                CostUsd = quote.CostUsd,
                CostSource = quote.Source,
                PriceKey = quote.PriceKey,
                UsageStatus = status,
                Ok = ok,
                RequestId = requestId,
                Error = error,
            };
        }

        private static string? NormalizeTier(string? tier) => tier switch
        {
            "priority" or "flex" or "batch" => tier,
            _ => null, // standard / default / auto: the standard price
        };

        private DateTimeOffset Timestamp(JsonElement root, string file, int lineNumber)
        {
            if (String(root, "timestamp") is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                return at;
            }

            Warning(file, lineNumber, "timestamp", "missing or not an ISO-8601 instant; the file's last write time is used");
            return new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero);
        }
    }

    /// <summary>A call id in the ULID format whose 80 "random" bits are a hash of the source key: the same source line always gets the same id.</summary>
    internal static string StableId(DateTimeOffset at, string key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        var lo = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(hash);
        ulong hi = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(hash[8..]);
        return new CageIds.CageIdValue('c', (ulong)Math.Max(0, at.ToUnixTimeMilliseconds()), hi, lo).Format();
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>A fault while reading one line: the line is rejected and the rest of the file still read.</summary>
    private static bool IsLineFault(Exception ex) => ex is not (OperationCanceledException or OutOfMemoryException or StackOverflowException);

    /// <summary>What went wrong, in words, never echoing text that may be a secret.</summary>
    private static string Describe(Exception ex) => ex switch
    {
        InvalidOperationException when ex.Message.Contains("UTF-8", StringComparison.Ordinal) => "invalid UTF-8 text in a string; line rejected",
        OverflowException => "a number too large to price or store; line rejected",
        CageValidationException validation => validation.Field + ": " + ErrorText.Scrub(validation.Reason),
        _ => "line rejected: " + ErrorText.Scrub(FirstSentence(ex.Message)),
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..end] : message.TrimEnd('.');
    }

    private sealed class ClaudeResponse
    {
        public required string MessageId { get; init; }
        public DateTimeOffset Timestamp { get; set; }
        public string? Session { get; init; }
        public bool Sidechain { get; init; }
        public string Model { get; set; } = "";
        public TokenUsage Usage { get; set; }
        public string? ServiceTier { get; set; }
        public required string File { get; set; }
        public int Line { get; set; }
    }

    /// <summary>A Codex cumulative <c>total_token_usage</c> snapshot.</summary>
    private readonly record struct CodexTotals(long Input, long Cached, long Output, long Reasoning, long Total)
    {
        public bool IsNegative => Input < 0 || Cached < 0 || Output < 0 || Reasoning < 0;

        public static CodexTotals operator -(CodexTotals a, CodexTotals b) =>
            new(a.Input - b.Input, a.Cached - b.Cached, a.Output - b.Output, a.Reasoning - b.Reasoning, a.Total - b.Total);

        public static CodexTotals? Read(JsonElement e, out string? error)
        {
            error = null;
            var input = Count(e, "input_tokens", ref error);
            var cached = Count(e, "cached_input_tokens", ref error);
            var output = Count(e, "output_tokens", ref error);
            var reasoning = Count(e, "reasoning_output_tokens", ref error);
            var total = Count(e, "total_tokens", ref error);
            if (error is not null) return null;
            return new CodexTotals(input, cached, output, reasoning, total == 0 ? input + output : total);
        }

        private static long Count(JsonElement e, string name, ref string? error)
        {
            if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return 0;
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0) return n;
            error ??= $"{name} is not a non-negative 64-bit integer ({(value.ValueKind == JsonValueKind.Number ? value.GetRawText() : value.ValueKind.ToString().ToLowerInvariant())})";
            return 0;
        }
    }
}
