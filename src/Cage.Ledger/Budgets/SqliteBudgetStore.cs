using System.Text.Json;
using CageNet.Budgets;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The budget guard's durable state in the ledger file: warnings fired, explicit resets and 5-hour window openings per
/// node and period (table <c>budget_state</c>, schema step 4), and the spend charged without a ledger call (table
/// <c>budget_charges</c>, schema step 7), and the subscription estimator's learned state (table <c>budget_estimator</c>,
/// schema step 9). Each save is its own committed transaction, so a saved warning or charge
/// survives a process kill. The spend of metered calls is not stored here: the guard rebuilds it from the ledger's
/// committed calls. Thread-safe.
/// </summary>
public sealed class SqliteBudgetStore : IBudgetStore, IBudgetEstimatorStore
{
    private static readonly long LifetimeMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();

    private readonly SqliteLedger _ledger;

    /// <summary>Creates a store over an open ledger (the file's schema already has the tables).</summary>
    /// <param name="ledger">The ledger.</param>
    public SqliteBudgetStore(SqliteLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT node, period_start_ms, reset_at_ms, warnings, updated_ms FROM budget_state ORDER BY node, period_start_ms;";
        using var reader = command.ExecuteReader();
        var states = new List<BudgetNodeState>();
        while (reader.Read())
        {
            states.Add(BudgetNodeState.FromRow(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4)));
        }

        return ValueTask.FromResult<IReadOnlyList<BudgetNodeState>>(states);
    }

    /// <inheritdoc/>
    public ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            INSERT INTO budget_state (node, period_start_ms, reset_at_ms, warnings, updated_ms)
            VALUES ($node, $start, $reset, $warnings, $updated)
            ON CONFLICT (node, period_start_ms) DO UPDATE SET
                reset_at_ms = excluded.reset_at_ms, warnings = excluded.warnings, updated_ms = excluded.updated_ms;
            """;
        command.Parameters.AddWithValue("$node", state.Node);
        command.Parameters.AddWithValue("$start", state.PeriodStart.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$reset", state.ResetAt is { } reset ? reset.ToUnixTimeMilliseconds() : DBNull.Value);
        command.Parameters.AddWithValue("$warnings", JsonSerializer.Serialize(state.WarningsFired));
        command.Parameters.AddWithValue("$updated", state.UpdatedAt.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    /// <exception cref="CageValidationException">An amount is negative or outside the ledger's range.</exception>
    public ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(charges);
        cancellationToken.ThrowIfCancellationRequested();
        if (charges.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        foreach (var charge in charges)
        {
            ArgumentNullException.ThrowIfNull(charge);
            if (charge.Usd < 0 || charge.Tokens < 0)
            {
                throw new CageValidationException("budget_charge", $"budget charge {charge.Id} of '{charge.Node}' has a negative amount");
            }
        }

        using var connection = _ledger.OpenReader();
        using var transaction = connection.BeginTransaction(deferred: false);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText =
            """
            INSERT OR IGNORE INTO budget_charges (period_start_ms, node, id, reset_at_ms, at_ms, usd_e10, tokens, unpriced)
            VALUES ($start, $node, $id, $reset, $at, $usd, $tokens, $unpriced);
            """;
        var start = command.Parameters.Add("$start", SqliteType.Integer);
        var node = command.Parameters.Add("$node", SqliteType.Text);
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var reset = command.Parameters.Add("$reset", SqliteType.Integer);
        var at = command.Parameters.Add("$at", SqliteType.Integer);
        var usd = command.Parameters.Add("$usd", SqliteType.Integer);
        var tokens = command.Parameters.Add("$tokens", SqliteType.Integer);
        var unpriced = command.Parameters.Add("$unpriced", SqliteType.Integer);
        foreach (var charge in charges)
        {
            start.Value = charge.PeriodStart.ToUnixTimeMilliseconds();
            node.Value = charge.Node;
            id.Value = charge.Id;
            reset.Value = charge.ResetAt is { } r ? r.ToUnixTimeMilliseconds() : DBNull.Value;
            at.Value = charge.At.ToUnixTimeMilliseconds();
            usd.Value = LedgerMoney.ToE10(charge.Usd);
            tokens.Value = charge.Tokens;
            unpriced.Value = charge.Unpriced ? 1 : 0;
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT id, node, period_start_ms, reset_at_ms, at_ms, usd_e10, tokens, unpriced FROM budget_charges
            WHERE period_start_ms >= $since OR period_start_ms = $lifetime
            ORDER BY period_start_ms, node, at_ms, id;
            """;
        command.Parameters.AddWithValue("$since", since is { } s ? s.ToUnixTimeMilliseconds() : long.MinValue);
        command.Parameters.AddWithValue("$lifetime", LifetimeMs);
        using var reader = command.ExecuteReader();
        var charges = new List<BudgetCharge>();
        while (reader.Read())
        {
            charges.Add(new BudgetCharge(
                reader.GetString(0),
                reader.GetString(1),
                FromMs(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : FromMs(reader.GetInt64(3)),
                FromMs(reader.GetInt64(4)),
                LedgerMoney.FromE10(reader.GetInt64(5)),
                reader.GetInt64(6),
                reader.GetInt64(7) != 0));
        }

        return ValueTask.FromResult<IReadOnlyList<BudgetCharge>>(charges);
    }

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <inheritdoc/>
    public ValueTask<string?> LoadEstimatorAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state FROM budget_estimator WHERE id = 1;";
        return ValueTask.FromResult(command.ExecuteScalar() as string);
    }

    /// <inheritdoc/>
    public ValueTask SaveEstimatorAsync(string state, DateTimeOffset savedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            INSERT INTO budget_estimator (id, state, updated_ms) VALUES (1, $state, $updated)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms;
            """;
        command.Parameters.AddWithValue("$state", state);
        command.Parameters.AddWithValue("$updated", savedAt.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
        return ValueTask.CompletedTask;
    }
}
