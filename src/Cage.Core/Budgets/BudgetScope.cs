namespace CageNet.Budgets;

/// <summary>
/// Who a call is for, as far as budgets care: the same user / agent / session / task a <see cref="MeterScope"/>
/// carries. Templated budget nodes (<c>users/{user}</c>) get one counter per distinct value; a node whose template
/// names a value the scope does not have is not charged. Empty strings count as absent.
/// </summary>
/// <param name="User">The end user or tenant.</param>
/// <param name="Agent">The agent or application.</param>
/// <param name="Session">The conversation or run.</param>
/// <param name="Task">The unit of work.</param>
public readonly record struct BudgetScope(string? User = null, string? Agent = null, string? Session = null, string? Task = null)
{
    /// <summary>The scope of a metering scope (its user, agent, session and task, inherited ones included).</summary>
    /// <param name="scope">The metering scope; <see langword="null"/> gives the empty scope (only untemplated nodes).</param>
    /// <returns>The budget scope.</returns>
    public static BudgetScope From(MeterScope? scope) =>
        scope is null ? default : new BudgetScope(scope.User, scope.Agent, scope.Session, scope.Task);

    /// <summary>The scope of a call record.</summary>
    /// <param name="call">The call.</param>
    /// <returns>The budget scope.</returns>
    public static BudgetScope From(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return new BudgetScope(call.User, call.Agent, call.Session, call.Task);
    }

    /// <summary>The scope of the innermost open metering scope on this async flow (<see cref="MeterScope.Current"/>).</summary>
    public static BudgetScope Current => From(MeterScope.Current);

    internal int Mask =>
        (string.IsNullOrEmpty(User) ? 0 : 1)
        | (string.IsNullOrEmpty(Agent) ? 0 : 2)
        | (string.IsNullOrEmpty(Session) ? 0 : 4)
        | (string.IsNullOrEmpty(Task) ? 0 : 8);
}
