namespace CageNet.Budgets;

/// <summary>
/// Who a call is for, as far as budgets care: the same user / agent / session / task a <see cref="MeterScope"/>
/// carries, plus its free labels (<see cref="Labels"/>: <c>team</c>…). Templated budget nodes (<c>users/{user}</c>,
/// <c>org/{team}</c>) get one counter per distinct value; a node whose template names a value the scope does not have
/// is not charged. Empty strings count as absent.
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
        scope is null ? default : new BudgetScope(scope.User, scope.Agent, scope.Session, scope.Task) { Labels = scope.Labels };

    /// <summary>The scope of a call record.</summary>
    /// <param name="call">The call.</param>
    /// <returns>The budget scope.</returns>
    public static BudgetScope From(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return new BudgetScope(call.User, call.Agent, call.Session, call.Task) { Labels = call.Tags };
    }

    /// <summary>
    /// Free labels (<c>team</c> → <c>team-a</c>) that bind template segments of the same name (<c>org/{team}</c>) and pick
    /// literal nodes (<c>org/team-a</c>); a metering scope's are its <c>Tag</c>s, inherited ones included.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>This scope with one more label.</summary>
    /// <param name="name">The label name (<c>team</c>).</param>
    /// <param name="value">Its value (<c>team-a</c>).</param>
    /// <returns>The scope.</returns>
    public BudgetScope WithLabel(string name, string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        var labels = Labels is null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(Labels, StringComparer.Ordinal);
        labels[name] = value;
        return this with { Labels = labels };
    }

    /// <summary>The scope of the innermost open metering scope on this async flow (<see cref="MeterScope.Current"/>).</summary>
    public static BudgetScope Current => From(MeterScope.Current);
}
