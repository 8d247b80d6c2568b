namespace CageNet.Budgets;

/// <summary>
/// Where the budget guard keeps what must survive a restart besides the spend itself (which is rebuilt from the
/// ledger's committed calls): per node and period, the warnings that fired, an explicit reset, and when a 5-hour
/// window opened. Written rarely (a warning, a reset, a window opening), never on the reserve/settle hot path.
/// </summary>
public interface IBudgetStore
{
    /// <summary>Every saved state.</summary>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The states.</returns>
    ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Saves (inserts or replaces) the state of one node and period.</summary>
    /// <param name="state">The state.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default);
}

/// <summary>The saved state of one node for one period.</summary>
/// <param name="Node">The concrete node path.</param>
/// <param name="PeriodStart">The period's start (<see cref="DateTimeOffset.MinValue"/> for lifetime).</param>
/// <param name="ResetAt">When the node was explicitly reset in that period; spend before it does not count.</param>
/// <param name="WarningsFired">The threshold keys that fired.</param>
/// <param name="UpdatedAt">When it was saved.</param>
public sealed record BudgetNodeState(string Node, DateTimeOffset PeriodStart, DateTimeOffset? ResetAt, IReadOnlyList<string> WarningsFired, DateTimeOffset UpdatedAt);

/// <summary>A process-local <see cref="IBudgetStore"/> (tests, or hosts that accept warnings re-firing after a restart).</summary>
public sealed class InMemoryBudgetStore : IBudgetStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string, DateTimeOffset), BudgetNodeState> _states = [];

    /// <summary>How many saves were made.</summary>
    public int Saves { get; private set; }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<BudgetNodeState>>([.. _states.Values]);
        }
    }

    /// <inheritdoc/>
    public ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            _states[(state.Node, state.PeriodStart)] = state;
            Saves++;
        }

        return ValueTask.CompletedTask;
    }
}
