namespace CageNet.Budgets;

/// <summary>
/// Where the budget guard keeps what must survive a restart besides the spend of metered calls (which is rebuilt from
/// the ledger's committed calls): per node and period, the warnings that fired, an explicit reset and when a 5-hour
/// window opened; and the spend charged without a ledger call (<see cref="BudgetGuard.Charge(BudgetScope, decimal?, long)"/>,
/// or a reservation made with a <see cref="BudgetScope"/> and settled or released with an amount). States are written
/// rarely (a warning, a reset, a window opening); charges once per such call, never for a metered call.
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

    /// <summary>
    /// Records spend that no ledger call carries, one row per node charged, durably (all the rows or none). A durable
    /// store ignores a row whose <see cref="BudgetCharge.Id"/> and <see cref="BudgetCharge.Node"/> it already holds (a
    /// retried write). A store may drop rows that can no longer count (an earlier period or reset of the same node) and
    /// may sum rows of the same node, period and reset.
    /// </summary>
    /// <param name="charges">The rows of one charge.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default);

    /// <summary>
    /// The recorded charges of periods that started at or after <paramref name="since"/>, and those of lifetime budgets
    /// (<see cref="BudgetCharge.PeriodStart"/> = <see cref="DateTimeOffset.MinValue"/>) always.
    /// </summary>
    /// <param name="since">The earliest period start wanted; <see langword="null"/> for every charge.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The charges.</returns>
    ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default);
}

/// <summary>
/// A store that also keeps the subscription estimator's learned state (SPEC 7.6: per window and class the EMA of
/// tokens per percent, snapshot counts, mismatches and the reference reading), so it survives a restart. Optional: a
/// guard whose <see cref="IBudgetStore"/> does not implement it keeps the estimator in memory.
/// </summary>
public interface IBudgetEstimatorStore
{
    /// <summary>The state last saved (<see cref="Subscription.SubscriptionEstimator.ExportState"/>'s text), or <see langword="null"/>.</summary>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The state.</returns>
    ValueTask<string?> LoadEstimatorAsync(CancellationToken cancellationToken = default);

    /// <summary>Saves (replaces) the estimator's state, durably.</summary>
    /// <param name="state">The state.</param>
    /// <param name="savedAt">When.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    ValueTask SaveEstimatorAsync(string state, DateTimeOffset savedAt, CancellationToken cancellationToken = default);
}

/// <summary>The saved state of one node for one period.</summary>
/// <param name="Node">The concrete node path.</param>
/// <param name="PeriodStart">The period's start (<see cref="DateTimeOffset.MinValue"/> for lifetime).</param>
/// <param name="ResetAt">
/// When the node's explicit reset in that period takes effect (the millisecond after the <see cref="BudgetGuard.Reset"/>
/// call): metered calls that started before it, and charges made before it, do not count.
/// </param>
/// <param name="WarningsFired">The threshold keys that fired.</param>
/// <param name="UpdatedAt">When it was saved.</param>
public sealed record BudgetNodeState(string Node, DateTimeOffset PeriodStart, DateTimeOffset? ResetAt, IReadOnlyList<string> WarningsFired, DateTimeOffset UpdatedAt)
{
    /// <summary>
    /// A state as the ledger stores are keyed (times in Unix milliseconds, warnings as a JSON array of threshold keys). A
    /// damaged warnings array reads as none: those warnings may fire again, nothing else is lost.
    /// </summary>
    internal static BudgetNodeState FromRow(string node, long periodStartMs, long? resetAtMs, string warningsJson, long updatedMs)
    {
        string[] warnings;
        try
        {
            warnings = System.Text.Json.JsonSerializer.Deserialize<string[]>(warningsJson) ?? [];
        }
        catch (System.Text.Json.JsonException)
        {
            warnings = [];
        }

        return new BudgetNodeState(
            node,
            DateTimeOffset.FromUnixTimeMilliseconds(periodStartMs),
            resetAtMs is { } reset ? DateTimeOffset.FromUnixTimeMilliseconds(reset) : null,
            warnings,
            DateTimeOffset.FromUnixTimeMilliseconds(updatedMs));
    }
}

/// <summary>
/// Spend charged to one node without a ledger call (SPEC 7.5 durability): the guard adds it back to the node's counter
/// on start-up when its period and reset are still the node's current ones.
/// </summary>
/// <param name="Id">The charge's id, shared by the rows of one charge (one per node): storing it again is a no-op.</param>
/// <param name="Node">The concrete node path.</param>
/// <param name="PeriodStart">The start of the period it was charged to (<see cref="DateTimeOffset.MinValue"/> for lifetime).</param>
/// <param name="ResetAt">
/// The node's <see cref="BudgetNodeState.ResetAt"/> in that period when it was charged (<see langword="null"/>: not
/// reset); a later reset of the period makes it stop counting.
/// </param>
/// <param name="At">When it was charged.</param>
/// <param name="Usd">The dollars charged, ≥ 0 (for a call of unknown cost, what the guard charged for it).</param>
/// <param name="Tokens">The tokens charged, ≥ 0.</param>
/// <param name="Unpriced">Whether the call's cost was unknown (counted in <see cref="BudgetNodeStatus.UnpricedCalls"/>).</param>
public sealed record BudgetCharge(string Id, string Node, DateTimeOffset PeriodStart, DateTimeOffset? ResetAt, DateTimeOffset At, decimal Usd, long Tokens, bool Unpriced);

/// <summary>A process-local <see cref="IBudgetStore"/> (tests, or hosts that accept losing warnings and charges on a restart).</summary>
/// <remarks>
/// It stays small in a long-running host: per node it keeps only the charges of the latest period and reset it was
/// given, with the priced ones summed into one row (a repeated id is therefore not detected); charges of unknown cost
/// stay one row each, so a rebuilt guard counts them.
/// </remarks>
public sealed class InMemoryBudgetStore : IBudgetStore, IBudgetEstimatorStore
{
    private readonly Lock _gate = new();
    private string? _estimator;
    private readonly Dictionary<(string, DateTimeOffset), BudgetNodeState> _states = [];
    private readonly Dictionary<string, NodeCharges> _charges = new(StringComparer.Ordinal);

    /// <summary>How many state saves were made (charges are not counted).</summary>
    public int Saves { get; private set; }

    /// <summary>How many charge rows are kept (after pruning and summing).</summary>
    public int Charges
    {
        get
        {
            lock (_gate)
            {
                return _charges.Values.Sum(c => c.Count);
            }
        }
    }

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

    /// <inheritdoc/>
    public ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(charges);
        lock (_gate)
        {
            foreach (var charge in charges)
            {
                ArgumentNullException.ThrowIfNull(charge);
                if (!_charges.TryGetValue(charge.Node, out var kept))
                {
                    _charges[charge.Node] = kept = new NodeCharges(charge);
                }

                kept.Add(charge);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<BudgetCharge>>(
                [.. _charges.Values.SelectMany(c => c.Rows()).Where(c => since is null || c.PeriodStart >= since || c.PeriodStart == DateTimeOffset.MinValue)]);
        }
    }

    /// <inheritdoc/>
    public ValueTask<string?> LoadEstimatorAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_estimator);
        }
    }

    /// <inheritdoc/>
    public ValueTask SaveEstimatorAsync(string state, DateTimeOffset savedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            _estimator = state;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The charges kept for one node: those of the latest period and reset it was given, the priced ones summed in place
    /// (the first one's id, the last one's time), the unpriced ones a row each.
    /// </summary>
    private sealed class NodeCharges(BudgetCharge first)
    {
        private DateTimeOffset _periodStart = first.PeriodStart;
        private DateTimeOffset? _resetAt = first.ResetAt;
        private BudgetCharge? _summed;
        private DateTimeOffset _at;
        private decimal _usd;
        private long _tokens;
        private List<BudgetCharge>? _unpriced;

        public int Count => (_summed is null ? 0 : 1) + (_unpriced?.Count ?? 0);

        public void Add(BudgetCharge charge)
        {
            var order = _periodStart.CompareTo(charge.PeriodStart);
            if (order == 0) order = (_resetAt ?? DateTimeOffset.MinValue).CompareTo(charge.ResetAt ?? DateTimeOffset.MinValue);
            if (order > 0)
            {
                return; // an earlier period or reset than the kept rows: it can no longer count
            }

            if (order < 0)
            {
                // A later period or reset: the kept rows can no longer count.
                (_periodStart, _resetAt, _summed, _unpriced) = (charge.PeriodStart, charge.ResetAt, null, null);
            }

            if (charge.Unpriced)
            {
                (_unpriced ??= []).Add(charge);
            }
            else if (_summed is null)
            {
                (_summed, _at, _usd, _tokens) = (charge, charge.At, charge.Usd, charge.Tokens);
            }
            else
            {
                (_at, _usd, _tokens) = (charge.At, _usd + charge.Usd, _tokens + charge.Tokens);
            }
        }

        public IEnumerable<BudgetCharge> Rows()
        {
            if (_summed is not null)
            {
                yield return _summed with { Usd = _usd, Tokens = _tokens, At = _at };
            }

            foreach (var row in _unpriced ?? [])
            {
                yield return row;
            }
        }
    }
}
