using System.Globalization;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// Schema step 5's copy: moves every call from the rowid-keyed <c>calls</c> table into <c>calls_keyed</c> under its
/// time key (<see cref="CallKeys"/>), points receipts at their call's key, swaps the tables, creates the id and
/// request-id indexes and writes the per-task posting lists; step 6 does the same for receipts. Runs inside the
/// migration's transaction.
/// </summary>
internal static class KeyedCallsMigration
{
    private const string Columns =
        """
        ts_ms, session, task, agent, route, category, "user", provider, model, input, cache_read, cache_write_5m,
        cache_write_1h, output, reasoning, cost_e10, cost_source, price_key, usage_status, latency_ms, ok, retries,
        attempt, request_id, error, tags
        """;

    // The old text columns in the new encoding (see step 5 in LedgerSchema); an unknown text keeps the safest reading.
    private const string Converted =
        """
        ts_ms, session, task, agent, route, category, "user", provider, model, input, cache_read, cache_write_5m,
        cache_write_1h, output, reasoning, cost_e10,
        CASE lower(trim(cost_source)) WHEN 'catalog' THEN 0 WHEN 'provider' THEN 1 WHEN 'local' THEN 2 ELSE 3 END,
        CASE WHEN price_key = provider || '/' || model THEN '' WHEN price_key = '' THEN NULL ELSE price_key END,
        CASE lower(trim(usage_status)) WHEN 'missing' THEN 1 WHEN 'estimated' THEN 2 ELSE 0 END,
        latency_ms, ok, retries, attempt, request_id, error, tags
        """;

    public static void Run(SqliteConnection connection, SqliteTransaction transaction, string path)
    {
        CopyKeyed(connection, transaction, path, "calls", "calls_keyed", Columns, Converted);
        Execute(connection, transaction,
            """
            CREATE INDEX migrate_calls_id ON calls_keyed(id);
            UPDATE receipts SET call_rk = (SELECT c.rk FROM calls_keyed c WHERE c.id = receipts.call_id) WHERE call_id IS NOT NULL;
            DROP INDEX migrate_calls_id;
            DROP TABLE calls;
            ALTER TABLE calls_keyed RENAME TO calls;
            CREATE UNIQUE INDEX ux_calls_request_id ON calls(request_id) WHERE request_id IS NOT NULL;
            CREATE UNIQUE INDEX ux_calls_foreign_id ON calls(id) WHERE foreign_id <> 0;
            """);
        WritePostings(connection, transaction, PostingList.CallsByTask, "SELECT task, rk FROM calls WHERE task IS NOT NULL ORDER BY task, rk;");
    }

    /// <summary>Schema step 6: the same move for receipts, with their posting lists by call and by task.</summary>
    public static void RunReceipts(SqliteConnection connection, SqliteTransaction transaction, string path)
    {
        const string columns = "ts_ms, call_id, task, tool, unit, raw_alternative, actual, method, confidence, meta, pending, call_rk";
        CopyKeyed(connection, transaction, path, "receipts", "receipts_keyed", columns, columns);
        Execute(connection, transaction,
            """
            DROP TABLE receipts;
            ALTER TABLE receipts_keyed RENAME TO receipts;
            CREATE UNIQUE INDEX ux_receipts_foreign_id ON receipts(id) WHERE foreign_id <> 0;
            CREATE INDEX ix_receipts_pending ON receipts(rk) WHERE pending = 1;
            """);
        WritePostings(connection, transaction, PostingList.ReceiptsByCall, "SELECT call_id, rk FROM receipts WHERE call_id IS NOT NULL ORDER BY call_id, rk;");
        WritePostings(connection, transaction, PostingList.ReceiptsByTask, "SELECT task, rk FROM receipts WHERE task IS NOT NULL ORDER BY task, rk;");
    }

    /// <summary>Copies every row of a rowid table into its time-keyed successor, oldest first, numbering ties.</summary>
    private static void CopyKeyed(SqliteConnection connection, SqliteTransaction transaction, string path, string from, string to, string columns, string converted)
    {
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = $"SELECT rowid, id, ts_ms FROM {from} ORDER BY ts_ms, rowid;";
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {to} (rk, id, foreign_id, seq, {columns}) SELECT $rk, id, $foreign, $seq, {converted} FROM {from} WHERE rowid = $rowid;";
        var rk = insert.Parameters.Add("$rk", SqliteType.Integer);
        var foreign = insert.Parameters.Add("$foreign", SqliteType.Integer);
        var rowid = insert.Parameters.Add("$rowid", SqliteType.Integer);
        var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
        long lastMs = long.MinValue, nextSeq = 0;
        var slots = new SlotProbe();
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            var id = reader.GetString(1);
            var ms = reader.GetInt64(2);
            // A timestamp outside the keyable range (accepted by earlier versions) is filed at the edge; its id is
            // foreign then (no Cage id is stamped out there), so it is still found through the foreign-id index.
            var keyMs = Math.Clamp(ms, CallKeys.MinMilliseconds, CallKeys.MaxMilliseconds);
            if (keyMs != lastMs)
            {
                slots.Clear(); // rows come in time order: only this millisecond's slots matter
            }

            nextSeq = keyMs == lastMs ? nextSeq + 1 : 0;
            lastMs = keyMs;
            if (slots.Count == CallKeys.SlotsPerMillisecond)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Cannot migrate the ledger '{path}': its {from} hold more than {CallKeys.SlotsPerMillisecond} rows in the millisecond {keyMs}. The file was left untouched."));
            }

            seq.Value = nextSeq;

            rk.Value = CallKeys.Key(keyMs, slots.Take(CallKeys.HomeSlot(id)));
            foreign.Value = CallKeys.Classify(id, ms);
            rowid.Value = reader.GetInt64(0);
            insert.ExecuteNonQuery();
        }
    }

    private static void WritePostings(SqliteConnection connection, SqliteTransaction transaction, int kind, string sql)
    {
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = sql;
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO postings (kind, key, first, rks) VALUES ($kind, $key, $first, $rks);";
        insert.Parameters.AddWithValue("$kind", kind);
        var key = insert.Parameters.Add("$key", SqliteType.Text);
        var first = insert.Parameters.Add("$first", SqliteType.Integer);
        var blob = insert.Parameters.Add("$rks", SqliteType.Blob);
        var buffer = new byte[256];
        var pending = new List<long>();
        string? task = null;

        void Flush()
        {
            if (pending.Count == 0)
            {
                return;
            }

            var length = PostingList.Encode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending), ref buffer);
            key.Value = task;
            first.Value = pending[0];
            blob.Value = buffer.AsSpan(0, length).ToArray();
            insert.ExecuteNonQuery();
            pending.Clear();
        }

        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            var next = reader.GetString(0);
            if (!string.Equals(next, task, StringComparison.Ordinal) || pending.Count == PostingList.MaxPerRow)
            {
                Flush();
                task = next;
            }

            pending.Add(reader.GetInt64(1));
        }

        Flush();
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// The slots taken in one millisecond, handing out the first free slot at or after a home slot (cyclically): the
    /// linear probing the writer and the locator use. Runs of taken slots are skipped through links compressed on the way
    /// (near-constant time per row), so a millisecond packed close to its capacity migrates in linear, not quadratic, time.
    /// </summary>
    private sealed class SlotProbe
    {
        private const int Mask = CallKeys.SlotsPerMillisecond - 1;
        private readonly HashSet<int> _taken = [];
        private readonly Dictionary<int, int> _next = [];
        private readonly List<int> _path = [];

        public int Count => _taken.Count;

        public void Clear()
        {
            _taken.Clear();
            _next.Clear();
        }

        /// <summary>Takes the first free slot from <paramref name="home"/> on (the caller checks that one is free).</summary>
        public int Take(int home)
        {
            var slot = home;
            _path.Clear();
            while (_taken.Contains(slot))
            {
                _path.Add(slot);
                slot = _next.TryGetValue(slot, out var next) ? next : (slot + 1) & Mask;
            }

            _taken.Add(slot);
            var after = (slot + 1) & Mask;
            foreach (var passed in _path)
            {
                _next[passed] = after;
            }

            return slot;
        }
    }
}
