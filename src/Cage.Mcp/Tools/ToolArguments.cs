using System.Globalization;
using System.Text.Json;

namespace CageNet.Mcp.Tools;

/// <summary>A tool call cannot be answered as asked: the message says why, naming the argument when one is wrong.</summary>
internal sealed class ToolCallException(string message) : Exception(message);

/// <summary>
/// The arguments of one tool call, checked against the tool's <see cref="ToolParameter"/>s: an unknown argument, a
/// value of the wrong JSON type, a value outside its enum or range, or a missing required one is a
/// <see cref="ToolCallException"/> naming the argument. A JSON <c>null</c> counts as absent.
/// </summary>
internal sealed class ToolArguments
{
    private readonly IReadOnlyDictionary<string, JsonElement> _values;

    private ToolArguments(IReadOnlyDictionary<string, JsonElement> values) => _values = values;

    public static ToolArguments Check(string tool, IReadOnlyList<ToolParameter> parameters, IDictionary<string, JsonElement>? arguments)
    {
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments ?? new Dictionary<string, JsonElement>())
        {
            var parameter = parameters.FirstOrDefault(p => p.Name == name)
                ?? throw new ToolCallException(parameters.Count == 0
                    ? $"unknown argument '{name}': {tool} takes no arguments"
                    : $"unknown argument '{name}': {tool} takes {string.Join(", ", parameters.Select(p => p.Name))}");
            if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
            {
                continue;
            }

            CheckValue(parameter, value);
            values[name] = value;
        }

        foreach (var parameter in parameters.Where(p => p.Required && !values.ContainsKey(p.Name)))
        {
            throw new ToolCallException($"argument '{parameter.Name}' is required: {parameter.Description}");
        }

        return new ToolArguments(values);
    }

    private static void CheckValue(ToolParameter parameter, JsonElement value)
    {
        var name = parameter.Name;
        switch (parameter.Kind)
        {
            case ArgumentKind.String:
                Expect(name, value, JsonValueKind.String, "a string");
                if (parameter.OneOf is { } allowed && !allowed.Contains(value.GetString()!, StringComparer.Ordinal))
                {
                    throw new ToolCallException($"argument '{name}': '{value.GetString()}' is not one of {parameter.OneOfText ?? string.Join(", ", allowed)}");
                }

                break;
            case ArgumentKind.Boolean:
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new ToolCallException($"argument '{name}' must be true or false (got {Describe(value)})");
                }

                break;
            case ArgumentKind.Number:
                Expect(name, value, JsonValueKind.Number, "a number");
                if (!value.TryGetDecimal(out var number))
                {
                    throw new ToolCallException($"argument '{name}': {value.GetRawText()} is out of range");
                }

                if ((parameter.Minimum is { } min && number < min) || (parameter.Maximum is { } max && number > max))
                {
                    throw new ToolCallException($"argument '{name}' must be {Range(parameter)} (got {value.GetRawText()})");
                }

                break;
            case ArgumentKind.StringArray:
                Expect(name, value, JsonValueKind.Array, "an array of strings");
                if (value.GetArrayLength() == 0)
                {
                    throw new ToolCallException($"argument '{name}': name at least one, or leave the argument out");
                }

                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
                    {
                        throw new ToolCallException($"argument '{name}' must be an array of non-empty strings (got {Describe(item)} in it)");
                    }
                }

                break;
            case ArgumentKind.StringMap:
                Expect(name, value, JsonValueKind.Object, "an object");
                foreach (var property in value.EnumerateObject())
                {
                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                    {
                        throw new ToolCallException($"argument '{name}.{property.Name}' must be a string, number or boolean (got {Describe(property.Value)})");
                    }
                }

                break;
        }
    }

    private static string Range(ToolParameter parameter) => (parameter.Minimum, parameter.Maximum) switch
    {
        ({ } min, { } max) => string.Create(CultureInfo.InvariantCulture, $"between {min} and {max}"),
        ({ } min, null) => string.Create(CultureInfo.InvariantCulture, $">= {min}"),
        (null, { } max) => string.Create(CultureInfo.InvariantCulture, $"<= {max}"),
        _ => "a number",
    };

    private static void Expect(string name, JsonElement value, JsonValueKind kind, string what)
    {
        if (value.ValueKind != kind)
        {
            throw new ToolCallException($"argument '{name}' must be {what} (got {Describe(value)})");
        }
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    public string? String(string name) => _values.TryGetValue(name, out var value) ? value.GetString() : null;

    public bool Boolean(string name) => _values.TryGetValue(name, out var value) && value.GetBoolean();

    public decimal? Decimal(string name) => _values.TryGetValue(name, out var value) ? value.GetDecimal() : null;

    public double? Double(string name) => _values.TryGetValue(name, out var value) ? value.GetDouble() : null;

    public IReadOnlyList<string>? Strings(string name) =>
        _values.TryGetValue(name, out var value) ? value.EnumerateArray().Select(v => v.GetString()!.Trim()).ToList() : null;

    /// <summary>A map argument with every value as text (numbers as written, booleans as <c>true</c>/<c>false</c>).</summary>
    public IReadOnlyDictionary<string, string>? StringMap(string name) =>
        _values.TryGetValue(name, out var value)
            ? value.EnumerateObject().ToDictionary(
                p => p.Name,
                p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText(),
                StringComparer.Ordinal)
            : null;
}
