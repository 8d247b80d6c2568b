using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// Finds a call's key (<c>rk</c>) from its id on a read connection: a Cage id through its own millisecond's bucket
/// (walking from the id's home slot to the first empty slot), any other id through the partial index of foreign ids.
/// See <see cref="CallKeys"/>.
/// </summary>
internal sealed class CallLocator(SqliteConnection connection) : IDisposable
{
    private SqliteCommand? _at;
    private SqliteCommand? _foreign;

    /// <summary>The key of the call with this id, or null when the ledger has no such call.</summary>
    public long? Find(string id)
    {
        if (CallKeys.TryCageMilliseconds(id, out var stamped))
        {
            var home = CallKeys.HomeSlot(id);
            var slot = home;
            do
            {
                var rk = CallKeys.Key(stamped, slot);
                var other = IdAt(rk);
                if (other is null)
                {
                    break;
                }

                if (string.Equals(other, id, StringComparison.Ordinal))
                {
                    return rk;
                }

                slot = (slot + 1) & (CallKeys.SlotsPerMillisecond - 1);
            }
            while (slot != home);
        }

        _foreign ??= Command("SELECT rk FROM calls WHERE id = $key AND foreign_id <> 0;", SqliteType.Text);
        _foreign.Parameters[0].Value = id;
        return _foreign.ExecuteScalar() is long key ? key : null;
    }

    public void Dispose()
    {
        _at?.Dispose();
        _foreign?.Dispose();
    }

    private string? IdAt(long rk)
    {
        _at ??= Command("SELECT id FROM calls WHERE rk = $key;", SqliteType.Integer);
        _at.Parameters[0].Value = rk;
        return _at.ExecuteScalar() as string;
    }

    private SqliteCommand Command(string sql, SqliteType type)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add("$key", type);
        return command;
    }
}

/// <summary>The pricing basis of calls that pending receipts point to, looked up by id once per call.</summary>
internal sealed class PendingCalls(SqliteConnection connection)
{
    private readonly Dictionary<string, CallBasis?> _known = new(StringComparer.Ordinal);
    private CallLocator? _locator;

    public CallBasis? Basis(string callId)
    {
        if (_known.TryGetValue(callId, out var basis))
        {
            return basis;
        }

        _locator ??= new CallLocator(connection);
        basis = null;
        if (_locator.Find(callId) is { } rk)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT provider, model, route, task, input + cache_read + cache_write_5m + cache_write_1h, ts_ms FROM calls WHERE rk = $rk;";
            command.Parameters.AddWithValue("$rk", rk);
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                basis = new CallBasis(
                    reader.GetString(0),
                    reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetInt64(4),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)));
            }
        }

        // Bounded: a scan with a huge number of distinct pending calls forgets and looks them up again.
        if (_known.Count >= 65_536)
        {
            _known.Clear();
        }

        _known[callId] = basis;
        return basis;
    }
}
