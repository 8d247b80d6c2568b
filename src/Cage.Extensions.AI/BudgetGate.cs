using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI;

/// <summary>The budget check the chat client runs before each round-trip (adapted over the Core budget guard).</summary>
internal interface IChatBudgetGate
{
    ValueTask<BudgetAdmission> AdmitAsync(MeterScope scope, string provider, string model, TokenUsage estimate, CancellationToken cancellationToken);
}

/// <summary>A reservation to settle once the round-trip's usage is known (or release with <see langword="null"/>).</summary>
internal interface IBudgetLease
{
    void Settle(BudgetCharge? actual);
}

internal readonly record struct BudgetCharge(TokenUsage Usage, decimal? CostUsd);

internal readonly record struct BudgetAdmission(IBudgetLease? Lease, BudgetRefusal? Refusal);

/// <summary>Why a round-trip was refused.</summary>
internal sealed record BudgetRefusal(string Node, string SpentText, string CapText, DateTimeOffset? ResetsAt, string Message, Func<Exception> CreateException)
{
    public Exception ToException() => CreateException();

    public AdditionalPropertiesDictionary ToProperties()
    {
        var props = new AdditionalPropertiesDictionary
        {
            ["stop_reason"] = "budget_exceeded",
            ["budget_node"] = Node,
            ["budget_spent"] = SpentText,
            ["budget_cap"] = CapText,
        };
        if (ResetsAt is { } resets)
        {
            props["budget_resets_at"] = resets.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        }

        return props;
    }
}
