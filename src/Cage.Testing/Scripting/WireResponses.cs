using System.Text;
using System.Text.Json;

namespace CageNet.Testing;

/// <summary>
/// A scripted turn as a provider writes it on the wire: OpenAI Chat Completions and Anthropic Messages, whole bodies and
/// server-sent-event streams, with the fields and nesting of the real APIs (see tests/fixtures/wire).
/// </summary>
internal static class WireResponses
{
    public static string OpenAIChat(ScriptedTurn turn, string model, string id, long created) => Json(w =>
    {
        OpenAIHeader(w, id, "chat.completion", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (turn.Text is { } text)
        {
            w.WriteString("content", text);
        }
        else
        {
            w.WriteNull("content");
        }

        w.WriteNull("refusal");
        if (turn.ToolCalls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var call in turn.ToolCalls)
            {
                OpenAIToolCall(w, call, index: null);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", turn.ToolCalls.Count > 0 ? "tool_calls" : "stop");
        w.WriteEndObject();
        w.WriteEndArray();
        if (turn.Usage is { } usage)
        {
            OpenAIUsage(w, usage);
        }

        w.WriteString("service_tier", "default");
    });

    public static string OpenAIChatStream(ScriptedTurn turn, string model, string id, long created, bool includeUsage)
    {
        var sse = new StringBuilder();
        void Chunk(Action<Utf8JsonWriter> delta, string? finish, bool usageNull = true) => sse.Append("data: ").Append(Json(w =>
        {
            OpenAIHeader(w, id, "chat.completion.chunk", created, model);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            delta(w);
            w.WriteEndObject();
            w.WriteNull("logprobs");
            if (finish is null)
            {
                w.WriteNull("finish_reason");
            }
            else
            {
                w.WriteString("finish_reason", finish);
            }

            w.WriteEndObject();
            w.WriteEndArray();
            if (includeUsage && usageNull)
            {
                w.WriteNull("usage");
            }
        })).Append("\n\n");

        Chunk(w => { w.WriteString("role", "assistant"); w.WriteString("content", ""); }, null);
        foreach (var piece in Pieces(turn.Text))
        {
            Chunk(w => w.WriteString("content", piece), null);
        }

        if (turn.ToolCalls.Count > 0)
        {
            Chunk(w =>
            {
                w.WriteStartArray("tool_calls");
                for (var i = 0; i < turn.ToolCalls.Count; i++)
                {
                    OpenAIToolCall(w, turn.ToolCalls[i], i);
                }

                w.WriteEndArray();
            }, null);
        }

        Chunk(_ => { }, turn.ToolCalls.Count > 0 ? "tool_calls" : "stop");
        if (includeUsage && turn.Usage is { } usage)
        {
            sse.Append("data: ").Append(Json(w =>
            {
                OpenAIHeader(w, id, "chat.completion.chunk", created, model);
                w.WriteStartArray("choices");
                w.WriteEndArray();
                OpenAIUsage(w, usage);
            })).Append("\n\n");
        }

        return sse.Append("data: [DONE]\n\n").ToString();
    }

    public static string AnthropicMessage(ScriptedTurn turn, string model, string id) => Json(w =>
    {
        w.WriteString("id", id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", model);
        w.WriteStartArray("content");
        if (turn.Text is { } text)
        {
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", text);
            w.WriteEndObject();
        }

        foreach (var call in turn.ToolCalls)
        {
            w.WriteStartObject();
            w.WriteString("type", "tool_use");
            w.WriteString("id", call.CallId ?? TurnScript.NewId("toolu_"));
            w.WriteString("name", call.Name);
            w.WritePropertyName("input");
            Arguments(w, call.Arguments);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("stop_reason", turn.ToolCalls.Count > 0 ? "tool_use" : "end_turn");
        w.WriteNull("stop_sequence");
        if (turn.Usage is { } usage)
        {
            w.WriteStartObject("usage");
            AnthropicPromptUsage(w, usage);
            w.WriteNumber("output_tokens", usage.Output);
            w.WriteString("service_tier", "standard");
            w.WriteEndObject();
        }
    });

    public static string AnthropicMessageStream(ScriptedTurn turn, string model, string id)
    {
        var sse = new StringBuilder();
        void Event(string name, Action<Utf8JsonWriter> data) =>
            sse.Append("event: ").Append(name).Append("\ndata: ").Append(Json(w => { w.WriteString("type", name); data(w); })).Append("\n\n");

        Event("message_start", w =>
        {
            w.WriteStartObject("message");
            w.WriteString("id", id);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteString("model", model);
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            if (turn.Usage is { } usage)
            {
                w.WriteStartObject("usage");
                AnthropicPromptUsage(w, usage);
                w.WriteNumber("output_tokens", Math.Min(1, usage.Output));
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
        var index = 0;
        if (turn.Text is { } text)
        {
            Event("content_block_start", w =>
            {
                w.WriteNumber("index", index);
                w.WriteStartObject("content_block");
                w.WriteString("type", "text");
                w.WriteString("text", "");
                w.WriteEndObject();
            });
            foreach (var piece in Pieces(text))
            {
                Event("content_block_delta", w =>
                {
                    w.WriteNumber("index", index);
                    w.WriteStartObject("delta");
                    w.WriteString("type", "text_delta");
                    w.WriteString("text", piece);
                    w.WriteEndObject();
                });
            }

            Event("content_block_stop", w => w.WriteNumber("index", index));
            index++;
        }

        foreach (var call in turn.ToolCalls)
        {
            var at = index;
            Event("content_block_start", w =>
            {
                w.WriteNumber("index", at);
                w.WriteStartObject("content_block");
                w.WriteString("type", "tool_use");
                w.WriteString("id", call.CallId ?? TurnScript.NewId("toolu_"));
                w.WriteString("name", call.Name);
                w.WriteStartObject("input");
                w.WriteEndObject();
                w.WriteEndObject();
            });
            Event("content_block_delta", w =>
            {
                w.WriteNumber("index", at);
                w.WriteStartObject("delta");
                w.WriteString("type", "input_json_delta");
                w.WriteString("partial_json", Json(Arguments, call.Arguments));
                w.WriteEndObject();
            });
            Event("content_block_stop", w => w.WriteNumber("index", at));
            index++;
        }

        Event("message_delta", w =>
        {
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", turn.ToolCalls.Count > 0 ? "tool_use" : "end_turn");
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            if (turn.Usage is { } usage)
            {
                w.WriteStartObject("usage");
                w.WriteNumber("output_tokens", usage.Output);
                w.WriteEndObject();
            }
        });
        Event("message_stop", _ => { });
        return sse.ToString();
    }

    private static void OpenAIHeader(Utf8JsonWriter w, string id, string kind, long created, string model)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void OpenAIUsage(Utf8JsonWriter w, in TokenUsage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.Output);
        w.WriteNumber("total_tokens", usage.TotalTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.CacheRead);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", usage.Reasoning ?? 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteNumber("accepted_prediction_tokens", 0);
        w.WriteNumber("rejected_prediction_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void AnthropicPromptUsage(Utf8JsonWriter w, in TokenUsage usage)
    {
        w.WriteNumber("input_tokens", usage.Input);
        w.WriteNumber("cache_creation_input_tokens", usage.CacheWrite5m + usage.CacheWrite1h);
        w.WriteNumber("cache_read_input_tokens", usage.CacheRead);
        w.WriteStartObject("cache_creation");
        w.WriteNumber("ephemeral_5m_input_tokens", usage.CacheWrite5m);
        w.WriteNumber("ephemeral_1h_input_tokens", usage.CacheWrite1h);
        w.WriteEndObject();
    }

    private static void OpenAIToolCall(Utf8JsonWriter w, ScriptedToolCall call, int? index)
    {
        w.WriteStartObject();
        if (index is { } i)
        {
            w.WriteNumber("index", i);
        }

        w.WriteString("id", call.CallId ?? TurnScript.NewId("call_"));
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", Json(Arguments, call.Arguments));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Arguments(Utf8JsonWriter w, IReadOnlyDictionary<string, object?>? arguments)
    {
        w.WriteStartObject();
        foreach (var (key, value) in arguments ?? new Dictionary<string, object?>())
        {
            w.WritePropertyName(key);
            JsonSerializer.Serialize(w, value, value?.GetType() ?? typeof(object));
        }

        w.WriteEndObject();
    }

    /// <summary>Streams text the way providers do: a few pieces, split at spaces.</summary>
    private static IEnumerable<string> Pieces(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            yield break;
        }

        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                yield return text[start..i];
                start = i;
            }
        }

        yield return text[start..];
    }

    private static string Json(Action<Utf8JsonWriter> body) => Json(static (w, b) =>
    {
        w.WriteStartObject();
        b(w);
        w.WriteEndObject();
    }, body);

    private static string Json<T>(Action<Utf8JsonWriter, T> write, T state)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(w, state);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
