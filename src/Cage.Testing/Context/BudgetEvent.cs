namespace CageNet.Testing;

/// <summary>What a budget did during a test.</summary>
public enum BudgetEventKind
{
    /// <summary>A warn threshold was crossed (raised once per threshold per period, on the crossing call).</summary>
    Warning,

    /// <summary>A blocking node refused a call before it was sent.</summary>
    Refusal,
}

/// <summary>One budget warning or refusal seen by a <see cref="CageTestContext"/>'s guard, in the order they happened.</summary>
/// <param name="Kind">Warning or refusal.</param>
/// <param name="Node">The node path (<c>org/users/alice</c>), when the guard named it.</param>
/// <param name="Message">The guard's one-line explanation (<c>budget 'org' is exhausted: spent $0.022500 of $0.020000 …</c>).</param>
/// <param name="At">The test clock's time when it happened.</param>
public sealed record BudgetEvent(BudgetEventKind Kind, string? Node, string Message, DateTimeOffset At)
{
    /// <inheritdoc />
    public override string ToString() => $"{(Kind == BudgetEventKind.Warning ? "warning" : "refusal")}: {Message}";
}
