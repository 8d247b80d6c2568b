using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CageNet.Testing;

/// <summary>
/// What a scenario costs, as a cost baseline file records it: spend, calls, tokens per bucket, unpriced calls, and the
/// calls per served model and per route. Read from and written to JSON (snake_case, keys sorted, a trailing newline).
/// </summary>
public sealed record CostFigures
{
    /// <summary>Σ cost of the priced calls, US dollars.</summary>
    public decimal CostUsd { get; init; }

    /// <summary>Calls (attempts) recorded.</summary>
    public long Calls { get; init; }

    /// <summary>Uncached input tokens.</summary>
    public long InputTokens { get; init; }

    /// <summary>Input tokens read from a prompt cache.</summary>
    public long CacheReadTokens { get; init; }

    /// <summary>Input tokens written to a prompt cache (5-minute and 1-hour).</summary>
    public long CacheWriteTokens { get; init; }

    /// <summary>Output tokens, reasoning included.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Calls with no price.</summary>
    public long UnpricedCalls { get; init; }

    /// <summary>Prompt-side tokens: input, cache reads and cache writes.</summary>
    public long PromptTokens => InputTokens + CacheReadTokens + CacheWriteTokens;

    /// <summary>Calls per served model.</summary>
    public IReadOnlyDictionary<string, int> Models { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Calls per route.</summary>
    public IReadOnlyDictionary<string, int> Routes { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>The figures of a snapshot.</summary>
    /// <param name="snapshot">What the test's meter recorded.</param>
    /// <returns>The figures.</returns>
    public static CostFigures Of(CageTestSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var t = snapshot.Totals;
        return new CostFigures
        {
            CostUsd = t.CostUsd,
            Calls = t.Calls,
            InputTokens = t.Input,
            CacheReadTokens = t.CacheRead,
            CacheWriteTokens = t.CacheWrite5m + t.CacheWrite1h,
            OutputTokens = t.Output,
            UnpricedCalls = t.UnpricedCalls,
            Models = snapshot.CallsByModel,
            Routes = snapshot.CallsByRoute,
        };
    }

    /// <summary>The figures as a baseline file's JSON.</summary>
    /// <param name="scenario">The scenario's name, recorded for the reader.</param>
    /// <returns>The JSON text, indented, ending with a newline.</returns>
    public string ToJson(string? scenario = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (scenario is not null)
            {
                w.WriteString("scenario", scenario);
            }

            w.WriteNumber("cost_usd", CostUsd);
            w.WriteNumber("calls", Calls);
            w.WriteStartObject("tokens");
            w.WriteNumber("input", InputTokens);
            w.WriteNumber("cache_read", CacheReadTokens);
            w.WriteNumber("cache_write", CacheWriteTokens);
            w.WriteNumber("output", OutputTokens);
            w.WriteEndObject();
            w.WriteNumber("unpriced_calls", UnpricedCalls);
            Counts(w, "models", Models);
            Counts(w, "routes", Routes);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    /// <summary>Reads a baseline file's JSON.</summary>
    /// <param name="json">The text.</param>
    /// <returns>The figures.</returns>
    /// <exception cref="FormatException">The text is not a baseline (the message names the field).</exception>
    public static CostFigures FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("a cost baseline is a JSON object");
            }

            var tokens = root.TryGetProperty("tokens", out var tk) && tk.ValueKind == JsonValueKind.Object ? tk : default;
            return new CostFigures
            {
                CostUsd = Number(root, "cost_usd").GetDecimal(),
                Calls = Number(root, "calls").GetInt64(),
                InputTokens = tokens.ValueKind == JsonValueKind.Object ? Number(tokens, "input").GetInt64() : 0,
                CacheReadTokens = Optional(tokens, "cache_read"),
                CacheWriteTokens = Optional(tokens, "cache_write"),
                OutputTokens = tokens.ValueKind == JsonValueKind.Object ? Number(tokens, "output").GetInt64() : 0,
                UnpricedCalls = Optional(root, "unpriced_calls"),
                Models = ReadCounts(root, "models"),
                Routes = ReadCounts(root, "routes"),
            };
        }
        catch (JsonException ex)
        {
            throw new FormatException($"a cost baseline is not valid JSON: {ex.Message}", ex);
        }
    }

    private static JsonElement Number(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? value
            : throw new FormatException($"a cost baseline needs a number '{name}'");

    private static long Optional(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;

    private static Dictionary<string, int> ReadCounts(JsonElement root, string name)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty(name, out var obj) && obj.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in obj.EnumerateObject())
            {
                counts[p.Name] = p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetInt32() : throw new FormatException($"'{name}.{p.Name}' is not a number");
            }
        }

        return counts;
    }

    private static void Counts(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, int> counts)
    {
        w.WriteStartObject(name);
        foreach (var (key, count) in counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WriteNumber(key, count);
        }

        w.WriteEndObject();
    }

    /// <summary>Counts as <c>a ×2, b ×1</c>.</summary>
    internal static string Describe(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "(none)" : string.Join(", ", counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} ×{kv.Value}")));
}
