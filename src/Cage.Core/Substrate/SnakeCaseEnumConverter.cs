using System.Text.Json;
using System.Text.Json.Serialization;

namespace CageNet;

/// <summary>
/// Writes a public enum as its snake_case wire name (<c>route</c>, <c>no_evidence</c>) and reads it back, under
/// System.Text.Json's default options, so a result returned from an HTTP endpoint is readable without configuration.
/// A member whose wire name is not its snake_case spelling carries <see cref="JsonStringEnumMemberNameAttribute"/>
/// (<c>5h</c>). Integers are still accepted on read.
/// </summary>
/// <typeparam name="TEnum">The enum.</typeparam>
internal sealed class SnakeCaseEnumConverter<TEnum> : JsonStringEnumConverter<TEnum>
    where TEnum : struct, Enum
{
    /// <summary>Creates the converter (System.Text.Json calls this through <see cref="JsonConverterAttribute"/>).</summary>
    public SnakeCaseEnumConverter()
        : base(JsonNamingPolicy.SnakeCaseLower)
    {
    }
}
