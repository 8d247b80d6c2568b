namespace CageNet.Testing;

/// <summary>
/// One scripted model round-trip: what the model answers (text and/or tool calls), the usage the provider reports for
/// it in Cage's exclusive buckets, the model that served it and how long it took. Played back by
/// <see cref="ScriptedChatClient"/> (as a <c>ChatResponse</c>) and <see cref="ScriptedHttpHandler"/> (as provider wire JSON).
/// </summary>
public sealed record ScriptedTurn
{
    /// <summary>The assistant's text; <see langword="null"/> for a turn that only calls tools.</summary>
    public string? Text { get; init; }

    /// <summary>The tools the model calls in this turn (a tool loop runs them and sends the next turn).</summary>
    public IReadOnlyList<ScriptedToolCall> ToolCalls { get; init; } = [];

    /// <summary>
    /// The usage the provider reports, in exclusive buckets (input excludes cache reads and writes). <see langword="null"/>:
    /// the response carries no usage (Cage records the call with missing usage and an unknown cost).
    /// </summary>
    public TokenUsage? Usage { get; init; }

    /// <summary>The model that served the turn; <see langword="null"/>: the model the request asked for (or the client's default).</summary>
    public string? Model { get; init; }

    /// <summary>The provider's response id; <see langword="null"/>: a new unique one.</summary>
    public string? ResponseId { get; init; }

    /// <summary>
    /// Whether the request itself adds to the reported input: about one token per 4 characters of the request's
    /// messages (the chat client: text, tool calls and tool results; the HTTP handler: the JSON body), added to
    /// <see cref="Usage"/>'s input (a turn without usage gets some). So a longer prompt costs more, as with a real model:
    /// what a cost baseline catches. Default <see langword="false"/>: the usage is exactly as given.
    /// </summary>
    public bool InputFromRequest { get; init; }

    /// <summary>How long the round-trip takes: the fake's clock (if it has one) is advanced by it. Default zero.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>A text answer with the given usage.</summary>
    /// <param name="text">The assistant's text.</param>
    /// <param name="input">Uncached input tokens.</param>
    /// <param name="output">Output tokens.</param>
    /// <param name="model">The served model; default the requested one.</param>
    /// <returns>The turn.</returns>
    public static ScriptedTurn Reply(string text, long input, long output, string? model = null) =>
        new() { Text = text, Usage = new TokenUsage(input, Output: output), Model = model };

    /// <summary>A turn in which the model calls one tool, with the given usage.</summary>
    /// <param name="tool">The tool's name.</param>
    /// <param name="arguments">The arguments; none when <see langword="null"/>.</param>
    /// <param name="input">Uncached input tokens.</param>
    /// <param name="output">Output tokens.</param>
    /// <param name="model">The served model; default the requested one.</param>
    /// <returns>The turn.</returns>
    public static ScriptedTurn CallTool(string tool, IReadOnlyDictionary<string, object?>? arguments, long input, long output, string? model = null) =>
        new() { ToolCalls = [new ScriptedToolCall(tool, arguments)], Usage = new TokenUsage(input, Output: output), Model = model };
}

/// <summary>A tool call a scripted turn makes.</summary>
/// <param name="Name">The tool's name.</param>
/// <param name="Arguments">The arguments; none when <see langword="null"/>.</param>
/// <param name="CallId">The call id; <see langword="null"/>: a new unique one.</param>
public sealed record ScriptedToolCall(string Name, IReadOnlyDictionary<string, object?>? Arguments = null, string? CallId = null);

/// <summary>Plays turns back in order to any number of concurrent callers; shared by the two fakes.</summary>
internal sealed class TurnScript(IEnumerable<ScriptedTurn> turns, string fake)
{
    private readonly object _gate = new();
    private readonly List<ScriptedTurn> _turns = [.. turns];
    private int _next;

    public bool RepeatLast { get; set; }

    public int Played
    {
        get
        {
            lock (_gate)
            {
                return _next;
            }
        }
    }

    public int Remaining
    {
        get
        {
            lock (_gate)
            {
                return Math.Max(0, _turns.Count - _next);
            }
        }
    }

    public (ScriptedTurn Turn, int Number) Next()
    {
        lock (_gate)
        {
            if (_next < _turns.Count)
            {
                return (_turns[_next], ++_next);
            }

            if (RepeatLast && _turns.Count > 0)
            {
                return (_turns[^1], ++_next);
            }

            throw new InvalidOperationException(
                $"{fake}: the script has no more turns (it had {_turns.Count}, all played); add turns, or set RepeatLast to replay the last one");
        }
    }

    /// <summary>The usage a turn reports for a request of <paramref name="requestChars"/> characters (see <see cref="ScriptedTurn.InputFromRequest"/>).</summary>
    public static TokenUsage? UsageFor(ScriptedTurn turn, long requestChars)
    {
        if (!turn.InputFromRequest)
        {
            return turn.Usage;
        }

        var usage = turn.Usage ?? default;
        return usage with { Input = usage.Input + ((requestChars + 3) / 4) };
    }

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..24];
}
