using System.Globalization;
using System.Text.Json;

namespace CageNet.Pricing;

/// <summary>
/// Reads the community price map format (LiteLLM's <c>model_prices_and_context_window.json</c>): a JSON object of
/// model entries whose prices are US dollars per token. Only token prices are read; image, audio, video, per-second
/// and search prices are ignored, and so are entries without both an input and an output token price.
/// </summary>
internal static class PriceMapParser
{
    private const string ProviderField = "litellm_provider";

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    private static readonly (string Suffix, string Tier)[] ServiceSuffixes =
    [
        ("_batches", "batch"),
        ("_priority", "priority"),
        ("_flex", "flex"),
    ];

    /// <summary>Parses a map into catalog entries keyed case-insensitively.</summary>
    /// <exception cref="PriceMapException">Invalid JSON, a top level that is not an object, or a bad price value.</exception>
    public static Dictionary<string, CatalogEntry> Parse(Stream json, string sourceName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber + 1;
            var position = ex.BytePositionInLine + 1;
            throw new PriceMapException(
                $"price map '{sourceName}' is not valid JSON at line {line?.ToString(CultureInfo.InvariantCulture) ?? "?"}, " +
                $"byte {position?.ToString(CultureInfo.InvariantCulture) ?? "?"}: {Reason(ex)}",
                sourceName,
                lineNumber: line,
                bytePositionInLine: position,
                innerException: ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PriceMapException(
                    $"price map '{sourceName}' must be a JSON object of model entries, but its top level is {Describe(root)}",
                    sourceName);
            }

            var entries = new Dictionary<string, CatalogEntry>(StringComparer.OrdinalIgnoreCase);
            try
            {
                foreach (var property in root.EnumerateObject())
                {
                    // sample_spec documents the format; non-object values (e.g. a "_source" note) are metadata, not models.
                    if (property.Value.ValueKind != JsonValueKind.Object
                        || string.Equals(property.Name, "sample_spec", StringComparison.OrdinalIgnoreCase)
                        || string.IsNullOrWhiteSpace(property.Name))
                    {
                        continue;
                    }

                    if (ParseEntry(property.Name, property.Value, sourceName) is { } price)
                    {
                        entries[property.Name] = new CatalogEntry(property.Name, price);
                    }
                }
            }
            catch (InvalidOperationException ex)
            {
                // JsonDocument checks the structure, not the text: a key or string that is not valid UTF-8 (or an
                // escaped lone surrogate) only fails when it is read.
                throw new PriceMapException($"price map '{sourceName}' holds text that is not valid UTF-8", sourceName, innerException: ex);
            }

            AddProviderKeys(entries);
            return entries;
        }
    }

    /// <summary>
    /// Registers each entry without a '/' in its key also under <c>litellm_provider/key</c>, unless the map already has
    /// that key. Both keys share one <see cref="ModelPrice"/> instance, so an override of either updates both.
    /// </summary>
    private static void AddProviderKeys(Dictionary<string, CatalogEntry> entries)
    {
        var additions = new List<CatalogEntry>();
        foreach (var entry in entries.Values)
        {
            if (entry.Key.Contains('/', StringComparison.Ordinal) || string.IsNullOrWhiteSpace(entry.Price.Provider)) continue;
            var composite = $"{entry.Price.Provider}/{entry.Key}";
            if (!entries.ContainsKey(composite)) additions.Add(new CatalogEntry(composite, entry.Price));
        }

        foreach (var addition in additions)
        {
            entries.TryAdd(addition.Key, addition);
        }
    }

    private static ModelPrice? ParseEntry(string key, JsonElement entry, string sourceName)
    {
        var builder = new ModelPriceBuilder();
        foreach (var property in entry.EnumerateObject())
        {
            if (string.Equals(property.Name, ProviderField, StringComparison.OrdinalIgnoreCase))
            {
                if (property.Value.ValueKind == JsonValueKind.String) builder.Provider = property.Value.GetString();
                continue;
            }

            if (!TryClassify(property.Name, out var field, out var serviceTier, out var aboveTokens)) continue;
            if (property.Value.ValueKind == JsonValueKind.Null) continue;
            builder.Set(field, ParsePrice(property.Value, sourceName, key, property.Name), serviceTier, aboveTokens);
        }

        return builder.Build();
    }

    /// <summary>
    /// Maps a community field name to a price: a base field (<c>input_cost_per_token</c>, …), optionally followed by a
    /// long-context threshold <c>_above_&lt;N&gt;k_tokens</c> and/or a service tier <c>_batches</c>, <c>_priority</c>,
    /// <c>_flex</c> (in either order).
    /// </summary>
    internal static bool TryClassify(string name, out PriceField field, out string? serviceTier, out long aboveTokens)
    {
        field = default;
        serviceTier = null;
        aboveTokens = 0;
        var rest = name.AsSpan();

        for (var stripped = true; stripped;)
        {
            stripped = false;
            if (serviceTier is null)
            {
                foreach (var (suffix, tier) in ServiceSuffixes)
                {
                    if (rest.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    {
                        rest = rest[..^suffix.Length];
                        serviceTier = tier;
                        stripped = true;
                        break;
                    }
                }
            }

            if (aboveTokens == 0 && TryStripThreshold(ref rest, out var threshold))
            {
                aboveTokens = threshold;
                stripped = true;
            }
        }

        PriceField? match =
            rest.Equals("input_cost_per_token", StringComparison.OrdinalIgnoreCase) ? PriceField.Input
            : rest.Equals("output_cost_per_token", StringComparison.OrdinalIgnoreCase) ? PriceField.Output
            : rest.Equals("cache_read_input_token_cost", StringComparison.OrdinalIgnoreCase) ? PriceField.CacheRead
            : rest.Equals("cache_creation_input_token_cost", StringComparison.OrdinalIgnoreCase) ? PriceField.CacheWrite5m
            : rest.Equals("cache_creation_input_token_cost_above_1hr", StringComparison.OrdinalIgnoreCase) ? PriceField.CacheWrite1h
            : rest.Equals("output_cost_per_reasoning_token", StringComparison.OrdinalIgnoreCase) ? PriceField.Reasoning
            : null;
        if (match is not { } found) return false;
        field = found;
        return true;
    }

    /// <summary>Strips a trailing <c>_above_&lt;N&gt;k_tokens</c> (or <c>…m_tokens</c>) and returns the threshold in tokens.</summary>
    private static bool TryStripThreshold(ref ReadOnlySpan<char> rest, out long threshold)
    {
        threshold = 0;
        const string Tail = "_tokens";
        const string Head = "_above_";
        if (!rest.EndsWith(Tail, StringComparison.OrdinalIgnoreCase)) return false;

        var body = rest[..^Tail.Length];
        if (body.Length == 0) return false;
        var multiplier = char.ToLowerInvariant(body[^1]) switch
        {
            'k' => 1_000L,
            'm' => 1_000_000L,
            _ => 0L,
        };
        if (multiplier == 0) return false;
        body = body[..^1];

        var digits = 0;
        while (digits < body.Length && char.IsAsciiDigit(body[body.Length - 1 - digits])) digits++;
        if (digits == 0 || digits > 12) return false;

        var prefix = body[..^digits];
        if (!prefix.EndsWith(Head, StringComparison.OrdinalIgnoreCase)) return false;
        var count = long.Parse(body[^digits..], NumberStyles.None, CultureInfo.InvariantCulture);
        if (count <= 0) return false;

        threshold = count * multiplier;
        rest = prefix[..^Head.Length];
        return true;
    }

    /// <summary>Parses a price from the raw JSON text, so <c>3e-06</c> is exactly 0.000003.</summary>
    private static decimal ParsePrice(JsonElement value, string sourceName, string key, string field)
    {
        if (value.ValueKind != JsonValueKind.Number)
        {
            throw BadValue(sourceName, key, field, $"must be a non-negative number, got {Describe(value)}");
        }

        var raw = value.GetRawText();
        if (!decimal.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var price))
        {
            throw BadValue(sourceName, key, field, $"must be a non-negative number a decimal can hold, got {raw}");
        }

        if (price < 0m)
        {
            throw BadValue(sourceName, key, field, $"must be a non-negative number, got {raw}");
        }

        return price;
    }

    private static PriceMapException BadValue(string sourceName, string key, string field, string problem) =>
        new($"price map '{sourceName}': model '{key}': field '{field}' {problem}", sourceName, key, field);

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(value.GetString() ?? string.Empty)}\"",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Number => value.GetRawText(),
        _ => value.ValueKind.ToString(),
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");

    /// <summary>The parser's reason without its own (0-based) position suffix, which the message states 1-based.</summary>
    private static string Reason(JsonException ex)
    {
        var message = ex.Message;
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (at > 0 ? message[..at] : message).Trim();
    }
}
