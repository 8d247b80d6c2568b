using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing;

/// <summary>
/// An <see cref="IChatClient"/> that stands in for a provider: it answers each request with the next
/// <see cref="ScriptedTurn"/> (text, tool calls, <see cref="UsageDetails"/> and the served <c>ModelId</c>), streaming
/// included (text updates, then a <see cref="UsageContent"/>), and remembers what it was sent. Put it under
/// <c>UseCage()</c> to exercise metering and budgets with no network. Thread-safe.
/// </summary>
public sealed class ScriptedChatClient : IChatClient
{
    private readonly TurnScript _script;
    private readonly object _gate = new();
    private readonly List<IReadOnlyList<ChatMessage>> _requests = [];

    /// <summary>Creates the client.</summary>
    /// <param name="turns">The round-trips it plays back, in order.</param>
    public ScriptedChatClient(params IEnumerable<ScriptedTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        _script = new TurnScript(turns, nameof(ScriptedChatClient));
    }

    /// <summary>The provider name it reports in its <see cref="ChatClientMetadata"/> (Cage records it). Default <c>openai</c>.</summary>
    public string Provider { get; init; } = "openai";

    /// <summary>The model it serves when neither the turn nor the request names one. Default <c>gpt-4o</c>.</summary>
    public string DefaultModel { get; init; } = "gpt-4o";

    /// <summary>A clock each turn advances by its <see cref="ScriptedTurn.Latency"/>; none by default.</summary>
    public FakeTimeProvider? Clock { get; init; }

    /// <summary>Whether the last turn is replayed once the script is played out (an endless tool loop); default <see langword="false"/>: it throws.</summary>
    public bool RepeatLast
    {
        get => _script.RepeatLast;
        init => _script.RepeatLast = value;
    }

    /// <summary>The messages of every request received, in order.</summary>
    public IReadOnlyList<IReadOnlyList<ChatMessage>> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>How many turns were played.</summary>
    public int TurnsPlayed => _script.Played;

    /// <summary>How many scripted turns are left (not counting <see cref="RepeatLast"/>).</summary>
    public int TurnsRemaining => _script.Remaining;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The script has no more turns.</exception>
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (turn, model, id) = Next(messages, options);
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, [.. Contents(turn)]))
        {
            ModelId = model,
            ResponseId = id,
            Usage = UsageOf(turn),
            FinishReason = turn.ToolCalls.Count > 0 ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
            CreatedAt = (Clock ?? TimeProvider.System).GetUtcNow(),
        };
        return Task.FromResult(response);
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The script has no more turns.</exception>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (turn, model, id) = Next(messages, options);
        var contents = Contents(turn).ToList();
        for (var i = 0; i < contents.Count; i++)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, [contents[i]]) { ModelId = model, ResponseId = id };
        }

        var last = new ChatResponseUpdate(ChatRole.Assistant, UsageOf(turn) is { } usage ? [new UsageContent(usage)] : [])
        {
            ModelId = model,
            ResponseId = id,
            FinishReason = turn.ToolCalls.Count > 0 ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
        };
        yield return last;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata(Provider, null, DefaultModel)
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <summary>Maps Cage's exclusive buckets to <see cref="UsageDetails"/> as providers' clients report them (input includes cached tokens).</summary>
    internal static UsageDetails? UsageOf(ScriptedTurn turn)
    {
        if (turn.Usage is not { } u)
        {
            return null;
        }

        var details = new UsageDetails
        {
            InputTokenCount = u.PromptTokens,
            OutputTokenCount = u.Output,
            TotalTokenCount = u.TotalTokens,
            CachedInputTokenCount = u.CacheRead > 0 ? u.CacheRead : null,
            ReasoningTokenCount = u.Reasoning,
        };
        if (u.CacheWrite5m > 0 || u.CacheWrite1h > 0)
        {
            details.AdditionalCounts = new AdditionalPropertiesDictionary<long>();
            if (u.CacheWrite5m > 0)
            {
                details.AdditionalCounts["ephemeral_5m_input_tokens"] = u.CacheWrite5m;
            }

            if (u.CacheWrite1h > 0)
            {
                details.AdditionalCounts["ephemeral_1h_input_tokens"] = u.CacheWrite1h;
            }
        }

        return details;
    }

    private (ScriptedTurn Turn, string Model, string Id) Next(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        List<ChatMessage> request = [.. messages];
        lock (_gate)
        {
            _requests.Add(request);
        }

        var (turn, _) = _script.Next();
        if (turn.Latency > TimeSpan.Zero)
        {
            Clock?.Advance(turn.Latency);
        }

        if (turn.InputFromRequest)
        {
            turn = turn with { Usage = TurnScript.UsageFor(turn, CharactersOf(request)), InputFromRequest = false };
        }

        return (turn, turn.Model ?? options?.ModelId ?? DefaultModel, turn.ResponseId ?? TurnScript.NewId("chatcmpl-"));
    }

    private static long CharactersOf(IEnumerable<ChatMessage> messages)
    {
        long chars = 0;
        foreach (var message in messages)
        {
            foreach (var content in message.Contents)
            {
                chars += content switch
                {
                    TextContent text => text.Text?.Length ?? 0,
                    FunctionResultContent result => result.Result?.ToString()?.Length ?? 0,
                    FunctionCallContent call => call.Name.Length + (call.Arguments?.Sum(a => a.Key.Length + (a.Value?.ToString()?.Length ?? 0)) ?? 0),
                    _ => 0,
                };
            }
        }

        return chars;
    }

    private static IEnumerable<AIContent> Contents(ScriptedTurn turn)
    {
        if (turn.Text is { } text)
        {
            yield return new TextContent(text);
        }

        foreach (var call in turn.ToolCalls)
        {
            yield return new FunctionCallContent(
                call.CallId ?? TurnScript.NewId("call_"),
                call.Name,
                call.Arguments is null ? null : new Dictionary<string, object?>(call.Arguments, StringComparer.Ordinal));
        }
    }
}
