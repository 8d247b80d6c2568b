using System.Text.Json;
using CageNet.Protocols;

namespace CageNet.Http;

/// <summary>What the meter needs from a request body: the requested model, whether it streams, and the OpenAI usage option.</summary>
internal readonly record struct RequestFacts(string? Model, bool Stream, bool HasStreamOptions, bool? IncludeUsage, long Bytes, long? MaxOutputTokens = null);

/// <summary>Reads a JSON request body's top-level <c>model</c>, <c>stream</c> and <c>stream_options.include_usage</c>; keeps nothing else.</summary>
internal static class RequestInspector
{
    private static readonly byte[] UsageOption = "\"stream_options\":{\"include_usage\":true},"u8.ToArray();

    public static RequestFacts Read(ReadOnlySpan<byte> json)
    {
        string? model = null;
        var stream = false;
        var hasStreamOptions = false;
        bool? includeUsage = null;
        long? maxOutput = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new RequestFacts(null, false, false, null, json.Length);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : model;
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
                {
                    reader.Read();
                    maxOutput = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var max) && max >= 0 ? max : maxOutput;
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    hasStreamOptions = true;
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        var depth = reader.CurrentDepth;
                        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
                        {
                            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("include_usage"u8))
                            {
                                reader.Read();
                                includeUsage = reader.TokenType switch
                                {
                                    JsonTokenType.True => true,
                                    JsonTokenType.False => false,
                                    _ => includeUsage,
                                };
                            }
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // Not our JSON to judge: whatever was read so far stands, and the body is sent as is.
        }

        return new RequestFacts(model, stream, hasStreamOptions, includeUsage, json.Length, maxOutput);
    }

    /// <summary>Whether the meter should add <c>stream_options.include_usage</c> (an OpenAI Chat stream that does not set <c>stream_options</c>).</summary>
    public static bool NeedsUsageOption(WireProtocol protocol, in RequestFacts facts) =>
        protocol is WireProtocol.OpenAIChat or WireProtocol.OpenRouter && facts.Stream && !facts.HasStreamOptions;

    /// <summary>The body with <c>"stream_options":{"include_usage":true}</c> inserted as its first property.</summary>
    public static byte[] WithUsageOption(ReadOnlySpan<byte> json)
    {
        var open = json.IndexOf((byte)'{');
        var rest = json[(open + 1)..];
        var emptyObject = rest.Trim(" \t\r\n"u8).SequenceEqual("}"u8);
        var insert = emptyObject ? UsageOption.AsSpan(0, UsageOption.Length - 1) : UsageOption; // no trailing comma before '}'
        var result = new byte[json.Length + insert.Length];
        json[..(open + 1)].CopyTo(result);
        insert.CopyTo(result.AsSpan(open + 1));
        rest.CopyTo(result.AsSpan(open + 1 + insert.Length));
        return result;
    }

    /// <summary>Gemini names the model in the path: <c>…/models/{model}:generateContent</c>.</summary>
    public static string? ModelFromPath(string path)
    {
        var models = path.LastIndexOf("/models/", StringComparison.Ordinal);
        if (models < 0)
        {
            return null;
        }

        var start = models + "/models/".Length;
        var colon = path.IndexOf(':', start);
        var name = colon < 0 ? path[start..] : path[start..colon];
        return name.Length == 0 ? null : Uri.UnescapeDataString(name);
    }
}
