using Microsoft.Extensions.AI;

namespace CageSamples.AgentTests;

/// <summary>
/// The code under test: a small research agent on Microsoft.Extensions.AI. It answers a question with the help of a
/// <c>search</c> tool, in a tool loop run by the chat pipeline it is given (<c>UseFunctionInvocation().UseCage()</c>).
/// Nothing in it knows about tests or about Cage.
/// </summary>
public sealed class ResearchAgent(IChatClient chat, string? systemPrompt = null)
{
    /// <summary>The system prompt: every turn of the loop sends it again, so its length is a large part of the cost.</summary>
    public const string DefaultSystemPrompt =
        "You are a careful research assistant. Answer the user's question in at most three sentences. " +
        "Use the search tool to look facts up before you answer; never guess a number. " +
        "Cite the source title of every fact you use, in square brackets, after the sentence that uses it. " +
        "If the search results disagree, say so and give both answers with their sources. " +
        "If the question is outside what the sources cover, say that you do not know.";

    /// <summary>What the agent answered, and whether a budget stopped it first.</summary>
    public sealed record Answer(string Text, bool StoppedByBudget);

    public async Task<Answer> AskAsync(string question, CancellationToken cancellationToken = default)
    {
        var options = new ChatOptions
        {
            ModelId = "gpt-4o",
            MaxOutputTokens = 400,
            Tools = [AIFunctionFactory.Create(Search, "search", "Searches the knowledge base; returns the best matching passage with its title.")],
            AdditionalProperties = new() { ["cage.route"] = "research" },
        };
        var response = await chat.GetResponseAsync(
            [new ChatMessage(ChatRole.System, systemPrompt ?? DefaultSystemPrompt), new ChatMessage(ChatRole.User, question)], options, cancellationToken);
        return new Answer(response.Text, response.FinishReason?.Value == "budget_exceeded");
    }

    private static string Search(string query) =>
        $"[Cage for .NET README] Cage meters every LLM call, prices it exactly and keeps a ledger of tokens and cost. (query: {query})";
}
