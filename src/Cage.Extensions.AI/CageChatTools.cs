using System.Globalization;
using System.Text.Json;
using CageNet.Budgets;
using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI;

/// <summary>Tools Cage offers to models through Microsoft.Extensions.AI.</summary>
public static class CageChatTools
{
    /// <summary>The name of the budget status tool: <c>get_my_budget_status</c>.</summary>
    public const string BudgetStatusToolName = "get_my_budget_status";

    private static readonly JsonSerializerOptions SnakeCase = new(AIJsonUtilities.DefaultOptions) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// Creates the <c>get_my_budget_status</c> function (SPEC 7.8): for the budget scope of the caller, every budget node up the tree
    /// with its spent, cap, remaining, percent and when its period resets, in US dollars and tokens. Add it to
    /// <c>ChatOptions.Tools</c> of a <c>FunctionInvokingChatClient</c> pipeline so an agent can pace itself.
    /// </summary>
    /// <remarks>
    /// The caller's scope is taken like <c>UseCage()</c> takes it for a turn: the <c>cage.user</c>, <c>cage.agent</c>,
    /// <c>cage.session</c> and <c>cage.task</c> labels of the request's <c>ChatOptions.AdditionalProperties</c>
    /// (<see cref="FunctionInvokingChatClient.CurrentContext"/>), each falling back to the ambient
    /// <see cref="MeterScope"/>'s value at the time the tool runs.
    /// </remarks>
    /// <param name="guard">The budget guard (registered by <c>AddBudgets()</c>).</param>
    /// <returns>The function; it takes no arguments.</returns>
    public static AIFunction CreateBudgetStatusFunction(BudgetGuard guard)
    {
        ArgumentNullException.ThrowIfNull(guard);
        return AIFunctionFactory.Create(
            () => Describe(guard.GetStatus(CallerScope())),
            BudgetStatusToolName,
            "Returns your remaining LLM budget: for each budget that applies to you, what was spent, the cap, what remains, the percent used and when the period resets. Call it before starting expensive work.",
            SnakeCase);
    }

    /// <summary>
    /// The tool runs in <c>FunctionInvokingChatClient</c>, outside <c>UseCage()</c>'s per-turn scope: the labels of the
    /// request's options win over the ambient scope, with the same keys and precedence as <c>UseCage()</c>.
    /// </summary>
    internal static BudgetScope CallerScope()
    {
        var ambient = BudgetScope.Current;
        var props = FunctionInvokingChatClient.CurrentContext?.Options?.AdditionalProperties;
        return new BudgetScope(
            CageChatClient.Label(props, CageChatProperties.User) ?? ambient.User,
            CageChatClient.Label(props, CageChatProperties.Agent) ?? ambient.Agent,
            CageChatClient.Label(props, CageChatProperties.Session) ?? ambient.Session,
            CageChatClient.Label(props, CageChatProperties.Task) ?? ambient.Task);
    }

    internal static BudgetStatusReport Describe(BudgetStatus status) => new(
        status.AsOf.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        status.Proceed,
        [.. status.Nodes.Select(n => new BudgetNodeReport(
            n.Path,
            BudgetPeriods.Name(n.Period),
            n.OnExceed.ToString().ToLowerInvariant(),
            n.Usd.Spent,
            n.Usd.Cap,
            n.Usd.Remaining,
            n.Usd.Percent,
            (long)n.Tokens.Spent,
            n.Tokens.Cap is { } tokenCap ? (long)tokenCap : null,
            n.Tokens.Remaining is { } tokensLeft ? (long)tokensLeft : null,
            n.ResetsAt?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)))]);
}

/// <summary>What <c>get_my_budget_status</c> returns to the model.</summary>
internal sealed record BudgetStatusReport(string AsOf, bool CanProceed, IReadOnlyList<BudgetNodeReport> Budgets);

/// <summary>One budget node as the model sees it.</summary>
internal sealed record BudgetNodeReport(string Node, string Period, string OnExceed, decimal SpentUsd, decimal? CapUsd, decimal? RemainingUsd, decimal? PercentUsd, long SpentTokens, long? CapTokens, long? RemainingTokens, string? ResetsAt);
