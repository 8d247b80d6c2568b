using System.Text.Json.Nodes;

namespace CageNet.Mcp.Tools;

/// <summary>The JSON type of a tool argument, as its input schema declares it and <see cref="ToolArguments"/> checks it.</summary>
internal enum ArgumentKind
{
    String,
    Boolean,
    Number,
    StringArray,
    StringMap,
}

/// <summary>
/// One argument of a tool: the single declaration both the input schema and the argument checks come from, so what a
/// client is told and what the server accepts cannot drift apart.
/// </summary>
internal sealed record ToolParameter(string Name, ArgumentKind Kind, string Description)
{
    public bool Required { get; init; }

    /// <summary>The allowed values of a string argument; <see langword="null"/> for any string.</summary>
    public IReadOnlyList<string>? OneOf { get; init; }

    /// <summary>How an error names <see cref="OneOf"/>'s values when listing them all would not help; <see langword="null"/> lists them.</summary>
    public string? OneOfText { get; init; }

    /// <summary>The smallest and largest allowed value of a number argument.</summary>
    public decimal? Minimum { get; init; }

    public decimal? Maximum { get; init; }

    public JsonObject Schema()
    {
        var schema = Kind switch
        {
            ArgumentKind.String => new JsonObject { ["type"] = "string" },
            ArgumentKind.Boolean => new JsonObject { ["type"] = "boolean" },
            ArgumentKind.Number => new JsonObject { ["type"] = "number" },
            ArgumentKind.StringArray => new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 }, ["minItems"] = 1 },
            _ => new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = new JsonArray("string", "number", "boolean") } },
        };
        schema["description"] = Description;
        if (OneOf is not null)
        {
            schema["enum"] = new JsonArray([.. OneOf.Select(v => (JsonNode)v)]);
        }

        if (Minimum is { } min)
        {
            schema["minimum"] = min;
        }

        if (Maximum is { } max)
        {
            schema["maximum"] = max;
        }

        return schema;
    }

    /// <summary>The input schema of a tool taking <paramref name="parameters"/>: an object with exactly those properties.</summary>
    public static JsonObject InputSchema(IReadOnlyList<ToolParameter> parameters)
    {
        var properties = new JsonObject();
        foreach (var parameter in parameters)
        {
            properties[parameter.Name] = parameter.Schema();
        }

        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["additionalProperties"] = false,
        };
        var required = parameters.Where(p => p.Required).Select(p => (JsonNode)p.Name).ToArray();
        if (required.Length > 0)
        {
            schema["required"] = new JsonArray(required);
        }

        return schema;
    }
}
