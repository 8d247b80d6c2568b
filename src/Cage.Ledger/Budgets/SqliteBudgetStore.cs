using System.Text.Json;
using CageNet.Budgets;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The budget guard's durable state in the ledger file (table <c>budget_state</c>, schema version 4): warnings fired,
/// explicit resets and 5-hour window openings per node and period. Each save is its own committed transaction, so a
/// saved warning survives a process kill. The spend itself is not stored here: the guard rebuilds it from the ledger's
/// committed calls. Thread-safe.
/// </summary>
public sealed class SqliteBudgetStore : IBudgetStore
{
    private readonly SqliteLedger _ledger;

    /// <summary>Creates a store over an open ledger (the file's schema already has the table).</summary>
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
            string[] warnings;
            try
            {
                warnings = JsonSerializer.Deserialize<string[]>(reader.GetString(3)) ?? [];
            }
            catch (JsonException)
            {
                warnings = []; // a damaged row: its warnings may fire again, nothing else is lost
            }

            states.Add(new BudgetNodeState(
                reader.GetString(0),
                FromMs(reader.GetInt64(1)),
                reader.IsDBNull(2) ? null : FromMs(reader.GetInt64(2)),
                warnings,
                FromMs(reader.GetInt64(4))));
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

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
