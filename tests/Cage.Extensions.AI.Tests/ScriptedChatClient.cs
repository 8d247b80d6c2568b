using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI.Tests;

/// <summary>
/// An inner chat client that plays back scripted turns in order (each turn is one model round-trip), and remembers
/// what it was sent. It stands in for a provider: nothing here is Cage code.
/// </summary>
internal sealed class ScriptedChatClient(params ScriptedTurn[] turns) : IChatClient
{
    private readonly Queue<ScriptedTurn> _turns = new(turns);

    public List<List<ChatMessage>> Requests { get; } = [];

    public ChatClientMetadata Metadata { get; init; } = new("openai", new Uri("https://api.openai.com/v1"), "gpt-4o");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var turn = Next(messages);
        if (turn.Throw is { } ex)
        {
            throw ex;
        }

        var message = new ChatMessage(ChatRole.Assistant, [.. turn.Contents()]);
        return Task.FromResult(new ChatResponse(message)
        {
            ModelId = turn.ModelId,
            ResponseId = turn.ResponseId,
            Usage = turn.Usage,
            FinishReason = turn.Calls.Length > 0 ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var turn = Next(messages);
        foreach (var content in turn.Contents())
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, [content]) { ModelId = turn.ModelId, ResponseId = turn.ResponseId };
        }

        if (turn.Throw is { } ex)
        {
            throw ex;
        }

        if (turn.Usage is { } usage)
        {
            yield return new ChatResponseUpdate(null, [new UsageContent(usage)]) { ModelId = turn.ModelId, ResponseId = turn.ResponseId };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? Metadata : null;

    public void Dispose()
    {
    }

    private ScriptedTurn Next(IEnumerable<ChatMessage> messages)
    {
        Requests.Add([.. messages]);
        return _turns.Count > 0 ? _turns.Dequeue() : throw new InvalidOperationException("the script has no more turns");
    }
}

/// <summary>One scripted model round-trip: text and/or tool calls, the usage the provider reports, the served model.</summary>
internal sealed record ScriptedTurn(string? Text, UsageDetails? Usage, string? ModelId = "gpt-4o-2024-08-06", string? ResponseId = null, params FunctionCallContent[] Calls)
{
    public Exception? Throw { get; init; }

    public IEnumerable<AIContent> Contents()
    {
        if (Text is not null)
        {
            yield return new TextContent(Text);
        }

        foreach (var call in Calls)
        {
            yield return call;
        }
    }

    public static UsageDetails Tokens(long input, long output, long? cached = null, long? reasoning = null) =>
        new() { InputTokenCount = input, OutputTokenCount = output, CachedInputTokenCount = cached, ReasoningTokenCount = reasoning, TotalTokenCount = input + output };
}
