using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CageNet.Tests;

/// <summary>
/// Every public enum of an assembly must serialize, under System.Text.Json's default options, as its snake_case wire
/// name (or the name its <see cref="JsonStringEnumMemberNameAttribute"/> gives) and read back to the same member.
/// Reflection finds the enums, so a new one cannot be forgotten. Linked into each test project for its own assemblies.
/// </summary>
internal static class PublicEnumJson
{
    /// <summary>The public enums of the assemblies, by full name.</summary>
    public static IReadOnlyList<Type> Enums(params Assembly[] assemblies) =>
        [.. assemblies.Distinct().SelectMany(a => a.GetExportedTypes()).Where(t => t.IsEnum).OrderBy(t => t.FullName, StringComparer.Ordinal)];

    /// <summary>The wire name a member must have: its <see cref="JsonStringEnumMemberNameAttribute"/>, else snake_case.</summary>
    public static string WireName(Type type, object value)
    {
        var name = Enum.GetName(type, value)!;
        return type.GetField(name)!.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
    }

    /// <summary>Asserts that every member of every public enum of the assemblies round-trips as a readable string.</summary>
    public static void AssertEveryEnumRoundTrips(params Assembly[] assemblies)
    {
        Assert.Multiple(() =>
        {
            foreach (var type in Enums(assemblies))
            {
                Assert.That(type.GetCustomAttribute<JsonConverterAttribute>(), Is.Not.Null, $"{type.FullName} needs [JsonConverter(typeof(SnakeCaseEnumConverter<{type.Name}>))]");
                foreach (var value in Enum.GetValues(type))
                {
                    var json = JsonSerializer.Serialize(value, type);
                    Assert.That(json, Is.EqualTo($"\"{WireName(type, value)}\"").And.Match("^\"[a-z0-9_]+\"$"), $"{type.Name}.{value}");
                    Assert.That(JsonSerializer.Deserialize(json, type), Is.EqualTo(value), $"{type.Name}.{value} read back");
                    Assert.That(JsonSerializer.Deserialize($"[{json}]", type.MakeArrayType()), Is.EqualTo(new[] { value }), $"{type.Name}.{value} in an array");
                }
            }
        });
    }
}
