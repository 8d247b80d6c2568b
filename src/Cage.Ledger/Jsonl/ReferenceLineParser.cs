using System.Globalization;
using System.Text;
using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Ledger;

/// <summary>
/// Parses one line of the reference ledger's <c>calls.jsonl</c> / <c>receipts.jsonl</c> (plus the extra fields
/// our export writes) into a record. A forward-only <see cref="Utf8JsonReader"/> pass: unknown fields (a prompt
/// someone logged, say) are skipped without being decoded, so their text never reaches the ledger.
/// </summary>
/// <remarks>
/// Throws <see cref="JsonException"/> for a line that is not a JSON object and
/// <see cref="CageValidationException"/> (naming the field) for a field with a bad value.
/// </remarks>
internal static class ReferenceLineParser
{
    private const int MaxNameChars = 32;
    private const int MaxEchoChars = 40;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 16 };

    /// <summary>Parses a call line; a reference line (no <c>cost_source</c>) is priced with <paramref name="catalog"/>.</summary>
    public static CallRecord ParseCall(ReadOnlySpan<byte> line, PriceCatalog catalog)
    {
        var reader = new Utf8JsonReader(line, ReaderOptions);
        StartObject(ref reader);
        var f = new CallFields();
        Span<char> name = stackalloc char[MaxNameChars];
        while (NextProperty(ref reader, name, out var length))
        {
            switch (name[..length])
            {
                case "id": f.Id = String(ref reader, "id"); break;
                case "ts": f.Ts = String(ref reader, "ts"); break;
                case "session": f.Session = String(ref reader, "session"); break;
                case "task": f.Task = String(ref reader, "task"); break;
                case "agent": f.Agent = String(ref reader, "agent"); break;
                case "route": f.Route = String(ref reader, "route"); break;
                case "category": f.Category = String(ref reader, "category"); break;
                case "user": f.User = String(ref reader, "user"); break;
                case "provider": f.Provider = String(ref reader, "provider"); break;
                case "model": f.Model = String(ref reader, "model"); break;
                case "tokens_in": f.TokensIn = Count(ref reader, "tokens_in"); break;
                case "tokens_out": f.TokensOut = Count(ref reader, "tokens_out"); break;
                case "cached_in": f.CachedIn = Count(ref reader, "cached_in"); break;
                case "input": f.Input = Count(ref reader, "input"); break;
                case "cache_read": f.CacheRead = Count(ref reader, "cache_read"); break;
                case "cache_write_5m": f.CacheWrite5m = Count(ref reader, "cache_write_5m"); break;
                case "cache_write_1h": f.CacheWrite1h = Count(ref reader, "cache_write_1h"); break;
                case "output": f.Output = Count(ref reader, "output"); break;
                case "reasoning": f.Reasoning = Count(ref reader, "reasoning"); break;
                case "est_cost_usd": f.EstCostUsd = Number(ref reader, "est_cost_usd"); break;
                case "cost_usd": f.CostUsd = Number(ref reader, "cost_usd"); f.HasCostUsd = true; break;
                case "cost_source": f.CostSource = String(ref reader, "cost_source"); break;
                case "price_key": f.PriceKey = String(ref reader, "price_key"); break;
                case "usage_status": f.UsageStatus = String(ref reader, "usage_status"); break;
                case "latency_ms": f.LatencyMs = Number(ref reader, "latency_ms"); break;
                case "ok": f.Ok = Boolean(ref reader, "ok"); break;
                case "retries": f.Retries = Count(ref reader, "retries"); break;
                case "attempt": f.Attempt = Count(ref reader, "attempt"); break;
                case "request_id": f.RequestId = String(ref reader, "request_id"); break;
                case "error": f.Error = String(ref reader, "error"); break;
                case "tags": f.Tags = Map(ref reader, line, "tags"); break;
                default: reader.Skip(); break; // unknown field: never decoded, never stored
            }
        }

        EndOfLine(ref reader);
        return BuildCall(ref f, catalog);
    }

    /// <summary>Parses a receipt line; <c>saved</c> is ignored (it is always recomputed) and a missing <c>method</c> means modeled.</summary>
    public static SavingsReceipt ParseReceipt(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line, ReaderOptions);
        StartObject(ref reader);
        string? id = null, ts = null, call = null, task = null, tool = null, unit = null, method = null;
        decimal? rawAlternative = null, actual = null, confidence = null;
        Dictionary<string, string>? meta = null;
        Span<char> name = stackalloc char[MaxNameChars];
        while (NextProperty(ref reader, name, out var length))
        {
            switch (name[..length])
            {
                case "id": id = String(ref reader, "id"); break;
                case "ts": ts = String(ref reader, "ts"); break;
                case "call": call = String(ref reader, "call"); break;
                case "task": task = String(ref reader, "task"); break;
                case "tool": tool = String(ref reader, "tool"); break;
                case "unit": unit = String(ref reader, "unit"); break;
                case "raw_alternative": rawAlternative = Number(ref reader, "raw_alternative"); break;
                case "actual": actual = Number(ref reader, "actual"); break;
                case "method": method = String(ref reader, "method"); break;
                case "confidence": confidence = Number(ref reader, "confidence"); break;
                case "meta": meta = Map(ref reader, line, "meta"); break;
                default: reader.Skip(); break; // "saved" included: it is recomputed, never trusted
            }
        }

        EndOfLine(ref reader);

        var parsedUnit = SavingsUnit.Tokens;
        if (unit is not null && !WireNames.TryParseUnit(unit, out parsedUnit))
        {
            throw new CageValidationException("unit", $"unknown unit '{Echo(unit)}'; expected tokens, usd, ms or gco2");
        }

        var parsedMethod = SavingsMethod.Modeled;
        if (method is not null && !WireNames.TryParseMethod(method, out parsedMethod))
        {
            throw new CageValidationException("method", $"unknown method '{Echo(method)}'; expected measured, modeled or estimated");
        }

        return SavingsReceipt.Create(
            id: Required(id, "id", "a receipt needs an id"),
            timestamp: Timestamp(ts),
            tool: Required(tool, "tool", "a receipt needs a tool name"),
            rawAlternative: rawAlternative ?? throw new CageValidationException("raw_alternative", "raw_alternative is required"),
            actual: actual ?? throw new CageValidationException("actual", "actual is required"),
            callId: call,
            task: task,
            unit: parsedUnit,
            method: parsedMethod,
            confidence: confidence is { } c ? (double)c : 1.0,
            meta: meta);
    }

    private static CallRecord BuildCall(ref CallFields f, PriceCatalog catalog)
    {
        var id = Required(f.Id, "id", "a call needs an id");
        var timestamp = Timestamp(f.Ts);

        // Buckets: our own fields win; otherwise the reference's inclusive tokens_in splits into input + cached_in.
        var cacheRead = f.CacheRead ?? f.CachedIn ?? 0;
        var cacheWrite5m = f.CacheWrite5m ?? 0;
        var cacheWrite1h = f.CacheWrite1h ?? 0;
        long input;
        if (f.Input is { } given)
        {
            input = given;
        }
        else
        {
            input = (f.TokensIn ?? 0) - cacheRead - cacheWrite5m - cacheWrite1h;
            if (input < 0)
            {
                throw new CageValidationException("cached_in", string.Create(CultureInfo.InvariantCulture,
                    $"cached and cache-write tokens ({cacheRead + cacheWrite5m + cacheWrite1h}) exceed tokens_in ({f.TokensIn ?? 0})"));
            }
        }

        // A side with no count (absent or null) is not a count of 0: the line is flagged as usage missing below.
        var inputUnknown = f.Input is null && f.TokensIn is null;
        var outputUnknown = f.Output is null && f.TokensOut is null;
        var usage = new TokenUsage(input, cacheRead, cacheWrite5m, cacheWrite1h, f.Output ?? f.TokensOut ?? 0, f.Reasoning);
        if (usage.Validation() is { } invalid)
        {
            throw new CageValidationException(invalid.Field, invalid.Message);
        }

        var provider = f.Provider ?? "";
        var model = f.Model ?? "";
        decimal? cost;
        CostSource source;
        string? priceKey;
        if (f.CostSource is not null)
        {
            // One of our own lines: its cost and provenance are kept exactly as written.
            if (!WireNames.TryParseCostSource(f.CostSource, out source))
            {
                throw new CageValidationException("cost_source", $"unknown cost_source '{Echo(f.CostSource)}'; expected catalog, provider, local or unpriced");
            }

            cost = f.HasCostUsd ? f.CostUsd : f.EstCostUsd;
            priceKey = f.PriceKey;
            if (source == CostSource.Unpriced && cost is not null)
            {
                throw new CageValidationException("cost_usd", "an unpriced call has no cost (cost_usd must be null)");
            }

            if (source != CostSource.Unpriced && cost is null)
            {
                throw new CageValidationException("cost_usd", $"cost_usd is required when cost_source is {source.ToWire()}");
            }
        }
        else if (inputUnknown && outputUnknown && f.UsageStatus is null)
        {
            // A reference line with no token counts at all (absent or null): what it used and cost is unknown, never
            // a free call. It is stored as usage missing with a null cost.
            var quote = catalog.Price(provider, model, usage);
            (cost, source, priceKey) = (null, quote.Source, quote.PriceKey);
        }
        else
        {
            // A reference line: price it. An unknown model is unpriced (null, never a silent $0), unless the
            // reference recorded a positive estimate, which is kept and marked as the reference's.
            var quote = catalog.Price(provider, model, usage);
            if (quote.CostUsd is not null)
            {
                (cost, source, priceKey) = (quote.CostUsd, quote.Source, quote.PriceKey);
            }
            else if (f.EstCostUsd is > 0)
            {
                (cost, source, priceKey) = (f.EstCostUsd, CostSource.Catalog, "reference");
            }
            else
            {
                (cost, source, priceKey) = (null, CostSource.Unpriced, null);
            }
        }

        if (cost is { } amount)
        {
            if (amount < 0)
            {
                throw new CageValidationException("cost_usd", $"cost must be >= 0 (got {amount.ToString(CultureInfo.InvariantCulture)})");
            }

            if (!LedgerMoney.InRange(amount))
            {
                throw new CageValidationException("cost_usd", $"cost {amount.ToString(CultureInfo.InvariantCulture)} is too large");
            }
        }

        var status = f.UsageStatus is null && (inputUnknown || outputUnknown) ? UsageStatus.Missing : UsageStatus.Reported;
        if (f.UsageStatus is not null && !WireNames.TryParseUsageStatus(f.UsageStatus, out status))
        {
            throw new CageValidationException("usage_status", $"unknown usage_status '{Echo(f.UsageStatus)}'; expected reported, missing or estimated");
        }

        long latency = 0;
        if (f.LatencyMs is { } ms)
        {
            if (ms < 0 || ms > long.MaxValue)
            {
                throw new CageValidationException("latency_ms", $"latency_ms must be a number >= 0 (got {ms.ToString(CultureInfo.InvariantCulture)})");
            }

            latency = (long)decimal.Round(ms, 0, MidpointRounding.ToEven);
        }

        var attempt = f.Attempt ?? 1;
        if (attempt < 1 || attempt > int.MaxValue)
        {
            throw new CageValidationException("attempt", string.Create(CultureInfo.InvariantCulture, $"attempt must be >= 1 (got {attempt})"));
        }

        var retries = f.Retries ?? 0;
        if (retries > int.MaxValue)
        {
            throw new CageValidationException("retries", string.Create(CultureInfo.InvariantCulture, $"retries is too large (got {retries})"));
        }

        return new CallRecord
        {
            Id = id,
            Timestamp = timestamp,
            Session = NullIfEmpty(f.Session),
            Task = NullIfEmpty(f.Task),
            Agent = NullIfEmpty(f.Agent),
            Route = NullIfEmpty(f.Route),
            Category = NullIfEmpty(f.Category),
            User = NullIfEmpty(f.User),
            Provider = provider,
            Model = model,
            Usage = usage,
            CostUsd = cost,
            CostSource = source,
            PriceKey = NullIfEmpty(priceKey),
            UsageStatus = status,
            LatencyMs = latency,
            Ok = f.Ok ?? true,
            Retries = (int)retries,
            Attempt = (int)attempt,
            RequestId = NullIfEmpty(f.RequestId),
            Error = ErrorText.Scrub(f.Error),
            Tags = ErrorText.ScrubLabels(f.Tags),
        };
    }

    private static void StartObject(ref Utf8JsonReader reader)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("the line is not a JSON object", null, 0, reader.BytesConsumed);
        }
    }

    private static void EndOfLine(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new JsonException("unexpected content after the JSON object", null, 0, reader.TokenStartIndex);
        }
    }

    /// <summary>Reads the next property name into <paramref name="name"/> and moves to its value; false at the end of the object.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader, scoped Span<char> name, out int length)
    {
        if (!reader.Read() || reader.TokenType == JsonTokenType.EndObject)
        {
            length = 0;
            return false;
        }

        // Names longer than any field we know cannot match: an empty name skips them.
        length = reader.HasValueSequence || reader.ValueSpan.Length > name.Length ? 0 : reader.CopyString(name);
        if (!reader.Read())
        {
            throw new JsonException("truncated line", null, 0, reader.BytesConsumed);
        }

        return true;
    }

    private static string? String(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        _ => throw Mistyped(ref reader, field, "a string"),
    };

    private static bool? Boolean(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        _ => throw Mistyped(ref reader, field, "true or false"),
    };

    /// <summary>A JSON number as a decimal, exactly as written (<c>30000.0</c> keeps its scale, <c>2.8e-05</c> is 0.000028).</summary>
    private static decimal? Number(ref Utf8JsonReader reader, string field)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.Number:
                if (decimal.TryParse(reader.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    return value;
                }

                throw new CageValidationException(field, $"{field} {Encoding.UTF8.GetString(reader.ValueSpan)} is out of range");
            default:
                throw Mistyped(ref reader, field, "a number");
        }
    }

    /// <summary>A token count (or other whole number): ≥ 0 and integral.</summary>
    private static long? Count(ref Utf8JsonReader reader, string field)
    {
        if (Number(ref reader, field) is not { } value)
        {
            return null;
        }

        if (value < 0 || value > long.MaxValue || value != decimal.Truncate(value))
        {
            throw new CageValidationException(field, $"{field} must be a whole number >= 0 (got {value.ToString(CultureInfo.InvariantCulture)})");
        }

        return (long)value;
    }

    /// <summary>A small map: strings as they are, numbers and booleans as their JSON text, nested values as raw JSON; nulls dropped.</summary>
    private static Dictionary<string, string>? Map(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, string field)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Mistyped(ref reader, field, "an object");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    map[key] = reader.GetString()!;
                    break;
                case JsonTokenType.Number:
                    map[key] = Encoding.UTF8.GetString(reader.ValueSpan);
                    break;
                case JsonTokenType.True:
                    map[key] = "true";
                    break;
                case JsonTokenType.False:
                    map[key] = "false";
                    break;
                case JsonTokenType.Null:
                    map.Remove(key);
                    break;
                default:
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    map[key] = Encoding.UTF8.GetString(line[start..(int)reader.BytesConsumed]);
                    break;
            }
        }

        return map.Count == 0 ? null : map;
    }

    private static DateTimeOffset Timestamp(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new CageValidationException("ts", "ts is required");
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            throw new CageValidationException("ts", $"'{Echo(text)}' is not an ISO-8601 instant");
        }

        value = CageIds.TruncateToMilliseconds(value);
        if (!CallKeys.InRange(value.ToUnixTimeMilliseconds()))
        {
            throw new CageValidationException("ts", $"'{Echo(text)}' is outside the ledger's range (years 1691 to 2248)");
        }

        return value;
    }

    private static string Required(string? value, string field, string message) =>
        string.IsNullOrWhiteSpace(value) ? throw new CageValidationException(field, message) : value;

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static CageValidationException Mistyped(ref Utf8JsonReader reader, string field, string expected)
    {
        var actual = reader.TokenType switch
        {
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            _ => reader.TokenType.ToString(),
        };
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return new CageValidationException(field, $"{field} must be {expected} (got {actual})");
    }

    // Values echoed into error messages are scrubbed first (a misplaced key or address in a rejected field must not
    // reach stderr or --json), then cut short: an error names the problem, it does not replay the input.
    private static string Echo(string value)
    {
        var shown = ErrorText.RedactSecrets(value.Length <= 4 * MaxEchoChars ? value : value[..(4 * MaxEchoChars)]).ReplaceLineEndings(" ");
        return shown.Length <= MaxEchoChars ? shown : string.Concat(shown.AsSpan(0, MaxEchoChars), "…");
    }

    /// <summary>The fields of a call line as read; null = absent (or JSON null).</summary>
    private struct CallFields
    {
        public string? Id, Ts, Session, Task, Agent, Route, Category, User, Provider, Model;
        public string? CostSource, PriceKey, UsageStatus, RequestId, Error;
        public long? TokensIn, TokensOut, CachedIn, Input, CacheRead, CacheWrite5m, CacheWrite1h, Output, Reasoning, Retries, Attempt;
        public decimal? EstCostUsd, CostUsd, LatencyMs;
        public bool HasCostUsd;
        public bool? Ok;
        public Dictionary<string, string>? Tags;
    }
}
