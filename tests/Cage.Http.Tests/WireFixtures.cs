using System.Text.Json;
using CageNet.TestFixtures;

namespace CageNet.Http.Tests;

/// <summary>The repository's wire fixtures (<c>tests/fixtures/wire</c>) and their independently computed expectations.</summary>
internal static class WireFixtures
{
    public static string Directory => RepositoryFixtures.Wire;

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static byte[] Bytes(string name) => File.ReadAllBytes(PathOf(name));

    /// <summary>The SSE events of a fixture, each with its blank-line terminator, as a server sends them one by one.</summary>
    public static IReadOnlyList<string> Events(string name)
    {
        var text = File.ReadAllText(PathOf(name)).Replace("\r\n", "\n", StringComparison.Ordinal);
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(e => e.Trim().Length > 0).Select(e => e + "\n\n")];
    }

    /// <summary>expected_normalized.json: the buckets and cost of a fixture, computed outside this code base.</summary>
    public static (TokenUsage Usage, decimal Cost) Expected(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(PathOf("expected_normalized.json")));
        var entry = doc.RootElement.GetProperty(name);
        var b = entry.GetProperty("buckets");
        long? reasoning = b.GetProperty("reasoning").ValueKind == JsonValueKind.Null ? null : b.GetProperty("reasoning").GetInt64();
        var usage = new TokenUsage(b.GetProperty("input_uncached").GetInt64(), b.GetProperty("cache_read").GetInt64(), b.GetProperty("cache_write_5m").GetInt64(), b.GetProperty("cache_write_1h").GetInt64(), b.GetProperty("output").GetInt64(), reasoning);
        return (usage, decimal.Parse(entry.GetProperty("expected_cost_usd").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    }
}
