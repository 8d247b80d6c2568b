using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CageNet.Views;

/// <summary>
/// <c>--json</c> output: indented snake_case, <c>\n</c> line ends, money written from <see cref="decimal"/> with its
/// scale normalized (<c>0.0483</c>, never <c>0.04830000</c> or binary float noise), so the same inputs always give
/// byte-identical text.
/// </summary>
internal static class JsonOutput
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs <paramref name="body"/> against a writer and returns the JSON text with a final newline.</summary>
    public static string Write(Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            body(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The same value with the smallest scale that represents it exactly (<c>0.04830000</c> → <c>0.0483</c>).</summary>
    public static decimal Normalize(decimal value) => value / 1.000000000000000000000000000000000m;

    /// <summary>Writes a decimal (normalized), or <see langword="null"/>.</summary>
    public static void WriteDecimal(this Utf8JsonWriter writer, string name, decimal? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, Normalize(v));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    /// <summary>Writes an array of strings.</summary>
    public static void WriteStringArray(this Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WritePropertyName(name);
        writer.WriteStartArray();
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    /// <summary>Writes a string, or <see langword="null"/>.</summary>
    public static void WriteStringOrNull(this Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
