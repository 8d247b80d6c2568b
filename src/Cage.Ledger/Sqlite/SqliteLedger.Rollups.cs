using CageNet.Budgets;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>The budget rollups (schema step 10) as the guard's start-up reads them.</summary>
public sealed partial class SqliteLedger : IBudgetRollupStore
{
    /// <inheritdoc/>
    IReadOnlyList<RollupRow>? IBudgetRollupStore.ReadBudgetRollup(BudgetRollup rollup, long coverFromMs, long readFromMs, long nowMs, bool register)
    {
        ArgumentNullException.ThrowIfNull(rollup);
        ThrowIfDisposed();
        for (var attempt = 0; ; attempt++)
        {
            using var connection = OpenReader();
            using (var transaction = connection.BeginTransaction(deferred: true))
            {
                // One read transaction: the rollup's rows and the calls after now come from the same snapshot.
                if (Rollup(connection, transaction, rollup.Spec) is { } found && found.FromMs <= coverFromMs)
                {
                    var rows = ReadRollupRows(connection, transaction, found.Id, rollup, readFromMs, nowMs);
                    transaction.Commit();
                    if (_writer is not null && found.UsedMs < nowMs - 3_600_000)
                    {
                        _writer.TouchRollup(found.Id, nowMs);
                    }

                    return rows;
                }
            }

            if (!register || _writer is null || attempt > 0)
            {
                return null;
            }

            _writer.RegisterRollup(rollup, coverFromMs, nowMs, ((IBudgetRollupStore)this).ReadBudgetCalls);
        }
    }

    private static (long Id, long FromMs, long UsedMs)? Rollup(SqliteConnection connection, SqliteTransaction transaction, string spec)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT id, from_ms, used_ms FROM budget_rollups WHERE spec = $spec;";
        command.Parameters.AddWithValue("$spec", spec);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)) : null;
    }

    private static List<RollupRow> ReadRollupRows(SqliteConnection connection, SqliteTransaction transaction, long id, BudgetRollup rollup, long readFromMs, long nowMs)
    {
        var rows = new Dictionary<(string Node, long Period), RollupRow>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText =
                "SELECT node, period_ms, usd_e10, tokens, unpriced, calls FROM budget_totals WHERE rollup = $id AND (period_ms >= $cover OR period_ms = $lifetime);";
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$cover", readFromMs);
            command.Parameters.AddWithValue("$lifetime", DateTimeOffset.MinValue.ToUnixTimeMilliseconds());
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var node = reader.GetString(0);
                var start = reader.GetInt64(1);
                rows[(node, start)] = new RollupRow(node, start, reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
            }
        }

        // Calls stamped after now are in the rows but a guard charges them live: take them back out.
        var later = new Dictionary<RollupKey, RollupSums>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = $"SELECT {CallColumns} FROM calls WHERE rk >= $after * 1048576;";
            command.Parameters.AddWithValue("$after", nowMs + 1);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rollup.Add(ReadCall(reader, 0), -1, later);
            }
        }

        foreach (var (key, sums) in later)
        {
            var node = key.Node;
            if (rows.TryGetValue((node, key.PeriodStartMs), out var row))
            {
                rows[(node, key.PeriodStartMs)] = row with
                {
                    Usd = row.Usd + sums.Usd, Tokens = row.Tokens + sums.Tokens, Unpriced = row.Unpriced + sums.Unpriced, Calls = row.Calls + sums.Calls,
                };
            }
        }

        return [.. rows.Values.Where(r => r.Calls != 0)];
    }

    /// <inheritdoc/>
    /// <remarks>Every call for <see cref="long.MinValue"/> (a tree with a lifetime node registering).</remarks>
    IEnumerable<CallRecord> IBudgetRollupStore.ReadBudgetCalls(long fromMs)
    {
        ThrowIfDisposed();
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT ts_ms, session, task, agent, "user", input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_e10, tags
            FROM calls
            """ + (fromMs == long.MinValue ? "" : " WHERE rk >= $since * 1048576") + " ORDER BY rk;";
        command.Parameters.AddWithValue("$since", fromMs);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new CallRecord
            {
                Id = "",
                Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)),
                Session = OptionalString(reader, 1),
                Task = OptionalString(reader, 2),
                Agent = OptionalString(reader, 3),
                User = OptionalString(reader, 4),
                Usage = new TokenUsage(reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.IsDBNull(10) ? null : reader.GetInt64(10)),
                CostUsd = reader.IsDBNull(11) ? null : LedgerMoney.FromE10(reader.GetInt64(11)),
                Tags = LedgerJson.ReadMap(OptionalString(reader, 12)),
            };
        }
    }
}
