using System.Text.Json;
using CageNet.Budgets;
using Npgsql;
using NpgsqlTypes;

namespace CageNet.Ledger;

/// <summary>
/// The budget guard's durable state in a PostgreSQL ledger, shared by every instance that uses it: warnings fired,
/// explicit resets and 5-hour window openings per node and period (<c>budget_state</c>), the spend charged without a
/// ledger call (<c>budget_charges</c>) and the subscription estimator's learned state (<c>budget_estimator</c>). Each
/// save is its own committed transaction. A guard starting on any instance loads what the whole fleet saved (and rebuilds
/// the spend of metered calls from the fleet's ledger); a running guard does not re-read it. Thread-safe.
/// </summary>
/// <remarks>
/// A state saved by one instance merges with what others saved for the same node and period: with the same reset, the
/// warnings that fired are the union (so one instance's save never forgets another's warning); a save from before a
/// newer reset is ignored; a save with a newer reset replaces the row. The estimator's state is one row: the last save
/// wins.
/// </remarks>
public sealed class PostgresBudgetStore : IBudgetStore, IBudgetEstimatorStore
{
    private static readonly long LifetimeMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();

    // $1 node, $2 period start, $3 reset (or NULL), $4 warnings (a JSON array of keys), $5 saved at.
    private const string SaveSql =
        """
        INSERT INTO budget_state AS s (node, period_start_ms, reset_at_ms, warnings, updated_ms) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (node, period_start_ms) DO UPDATE SET
            reset_at_ms = excluded.reset_at_ms,
            warnings = CASE WHEN coalesce(excluded.reset_at_ms, -9223372036854775808) > coalesce(s.reset_at_ms, -9223372036854775808)
                            THEN excluded.warnings
                            ELSE (SELECT coalesce(json_agg(m.x ORDER BY m.o), '[]'::json)::text
                                  FROM (SELECT u.x, min(u.o) AS o
                                        FROM (SELECT a.x, a.o FROM json_array_elements_text(s.warnings::json) WITH ORDINALITY AS a (x, o)
                                              UNION ALL
                                              SELECT b.x, b.o + 1000000 FROM json_array_elements_text(excluded.warnings::json) WITH ORDINALITY AS b (x, o)) u
                                        GROUP BY u.x) m)
                       END,
            updated_ms = greatest(s.updated_ms, excluded.updated_ms)
        WHERE coalesce(excluded.reset_at_ms, -9223372036854775808) >= coalesce(s.reset_at_ms, -9223372036854775808);
        """;

    private const string ChargesSql =
        """
        INSERT INTO budget_charges (period_start_ms, node, id, reset_at_ms, at_ms, usd_e10, tokens, unpriced)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::boolean[])
            AS t (period_start_ms, node, id, reset_at_ms, at_ms, usd_e10, tokens, unpriced)
        ORDER BY t.period_start_ms, t.node COLLATE "C", t.id COLLATE "C"
        ON CONFLICT DO NOTHING;
        """;

    private readonly Func<PostgresLedger> _ledger;

    /// <summary>Creates a store over an open ledger (its schema has the tables).</summary>
    /// <param name="ledger">The ledger.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/> is <see langword="null"/>.</exception>
    public PostgresBudgetStore(PostgresLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = () => ledger;
    }

    /// <summary>A store that opens the ledger on first use (the DI registration: a server that is down fails the first load or save, not the guard's construction).</summary>
    internal PostgresBudgetStore(Func<PostgresLedger> ledger) => _ledger = ledger;

    /// <inheritdoc/>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "SELECT node, period_start_ms, reset_at_ms, warnings, updated_ms FROM budget_state ORDER BY node COLLATE \"C\", period_start_ms;", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var states = new List<BudgetNodeState>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            states.Add(BudgetNodeState.FromRow(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4)));
        }

        return states;
    }

    /// <inheritdoc/>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(SaveSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = state.Node });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = state.PeriodStart.ToUnixTimeMilliseconds() });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = state.ResetAt is { } reset ? reset.ToUnixTimeMilliseconds() : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(state.WarningsFired) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = state.UpdatedAt.ToUnixTimeMilliseconds() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <exception cref="CageValidationException">An amount is negative or outside the ledger's range.</exception>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(charges);
        if (charges.Count == 0)
        {
            return;
        }

        foreach (var charge in charges)
        {
            ArgumentNullException.ThrowIfNull(charge);
            if (charge.Usd < 0 || charge.Tokens < 0)
            {
                throw new CageValidationException("budget_charge", $"budget charge {charge.Id} of '{charge.Node}' has a negative amount");
            }
        }

        // One statement: every row or none.
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(ChargesSql, connection);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. charges.Select(c => c.PeriodStart.ToUnixTimeMilliseconds())] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. charges.Select(c => c.Node)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. charges.Select(c => c.Id)] });
        command.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = [.. charges.Select(c => c.ResetAt?.ToUnixTimeMilliseconds())] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. charges.Select(c => c.At.ToUnixTimeMilliseconds())] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. charges.Select(c => LedgerMoney.ToE10(c.Usd))] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. charges.Select(c => c.Tokens)] });
        command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = [.. charges.Select(c => c.Unpriced)] });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            SELECT id, node, period_start_ms, reset_at_ms, at_ms, usd_e10, tokens, unpriced FROM budget_charges
            WHERE period_start_ms >= $1 OR period_start_ms = $2
            ORDER BY period_start_ms, node COLLATE "C", at_ms, id COLLATE "C";
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = since is { } s ? s.ToUnixTimeMilliseconds() : long.MinValue });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LifetimeMs });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var charges = new List<BudgetCharge>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            charges.Add(new BudgetCharge(
                reader.GetString(0),
                reader.GetString(1),
                FromMs(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : FromMs(reader.GetInt64(3)),
                FromMs(reader.GetInt64(4)),
                LedgerMoney.FromE10(reader.GetInt64(5)),
                reader.GetInt64(6),
                reader.GetBoolean(7)));
        }

        return charges;
    }

    /// <inheritdoc/>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask<string?> LoadEstimatorAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT state FROM budget_estimator WHERE id = 1;", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <inheritdoc/>
    /// <exception cref="IOException">The server cannot be reached.</exception>
    public async ValueTask SaveEstimatorAsync(string state, DateTimeOffset savedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO budget_estimator (id, state, updated_ms) VALUES (1, $1, $2)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms;
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = state });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = savedAt.ToUnixTimeMilliseconds() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _ledger().OpenQuickAsync(asynchronousCommit: false, cancellationToken).ConfigureAwait(false);

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
