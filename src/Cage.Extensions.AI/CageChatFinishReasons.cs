using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI;

/// <summary>Finish reasons Cage sets on chat responses.</summary>
public static class CageChatFinishReasons
{
    /// <summary>
    /// <c>budget_exceeded</c>: the round-trip was refused before it was sent because a budget cap was reached. The
    /// response's <c>AdditionalProperties</c> carry <c>stop_reason</c>, <c>budget_node</c>, <c>budget_spent</c>,
    /// <c>budget_cap</c> and <c>budget_resets_at</c>.
    /// </summary>
    public static ChatFinishReason BudgetExceeded { get; } = new("budget_exceeded");
}
