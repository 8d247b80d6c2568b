using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CageNet.Ledger;

/// <summary>The small string maps (call tags, receipt meta) as compact JSON objects in a TEXT column.</summary>
internal static class LedgerJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON object with the entries in ordinal key order, or <see langword="null"/> for a null or empty map.</summary>
    public static string? WriteMap(IReadOnlyDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var pair in map.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteString(pair.Key, pair.Value);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads a map written by <see cref="WriteMap"/>; <see langword="null"/> or empty text gives <see langword="null"/>.</summary>
    public static Dictionary<string, string>? ReadMap(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        reader.Read(); // StartObject
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            map[key] = reader.TokenType == JsonTokenType.String ? reader.GetString()! : System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
        }

        return map;
    }
}
