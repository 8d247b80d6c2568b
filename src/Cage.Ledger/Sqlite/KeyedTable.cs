using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace CageNet.Ledger;

/// <summary>
/// The write side of a time-keyed table (<c>calls</c>, <c>receipts</c>): chooses each new row's key (see
/// <see cref="CallKeys"/>), detects ids the table already holds, and numbers the rows of a millisecond in their order
/// of arrival. Used by <see cref="SqliteWriter"/> inside its transactions, under its lock.
/// </summary>
internal sealed class KeyedTable : IDisposable
{
    private readonly sqlite3 _db;
    private readonly string _path;
    private readonly sqlite3_stmt _idAt;
    private readonly sqlite3_stmt _foreign;
    private readonly sqlite3_stmt _maxKey;
    private readonly sqlite3_stmt _anyForeign;
    private readonly sqlite3_stmt _nextSeq;

    // Per transaction: the last millisecond holding rows when it began; the rows this transaction put in later
    // milliseconds (their buckets are probed here instead of in the file); whether the file has foreign ids.
    private readonly Dictionary<long, string> _fresh = [];

    // Rows placed in fresh milliseconds but not yet in _fresh: rows usually arrive in time order, so a probe rarely
    // needs the map (a bucket after every fresh millisecond is empty); it is filled from here only when one does.
    private readonly List<(long Rk, string Id)> _unindexed = [];
    private readonly Dictionary<long, long> _seqs = [];
    private long _lastMillisecondAtBegin;
    private long _maxFreshMillisecond = long.MinValue;
    private bool _mayHaveForeign;
    private long _lastSeqMillisecond = long.MinValue;
    private long _maxSeqMillisecond = long.MinValue;
    private long _lastSeq;
    private byte[] _utf8 = new byte[128];

    public KeyedTable(sqlite3 db, string path, string table)
    {
        _db = db;
        _path = path;
        _idAt = Prepare($"SELECT id FROM {table} WHERE rk = ?1;");
        _foreign = Prepare($"SELECT rk FROM {table} WHERE id = ?1 AND foreign_id <> 0;");
        _maxKey = Prepare($"SELECT max(rk) FROM {table};");
        _anyForeign = Prepare($"SELECT EXISTS (SELECT 1 FROM {table} WHERE foreign_id <> 0);");
        _nextSeq = Prepare($"SELECT coalesce(max(seq) + 1, 0) FROM {table} WHERE rk >= ?1 AND rk < ?2;");
    }

    /// <summary>Reads, once per transaction (after BEGIN), what the key assignment needs to know about the file.</summary>
    public void Begin()
    {
        var rc = NativeSqlite.Step(_maxKey);
        try
        {
            _lastMillisecondAtBegin = rc == raw.SQLITE_ROW && raw.sqlite3_column_type(_maxKey, 0) != raw.SQLITE_NULL
                ? CallKeys.MillisecondOf(raw.sqlite3_column_int64(_maxKey, 0))
                : long.MinValue;
        }
        finally
        {
            NativeSqlite.Reset(_maxKey);
        }

        rc = NativeSqlite.Step(_anyForeign);
        try
        {
            _mayHaveForeign = rc == raw.SQLITE_ROW && raw.sqlite3_column_int64(_anyForeign, 0) != 0;
        }
        finally
        {
            NativeSqlite.Reset(_anyForeign);
        }
    }

    /// <summary>Forgets the transaction's state (after it committed or rolled back).</summary>
    public void End()
    {
        _fresh.Clear();
        _unindexed.Clear();
        _maxFreshMillisecond = long.MinValue;
        _seqs.Clear();
        _lastSeqMillisecond = long.MinValue;
        _maxSeqMillisecond = long.MinValue;
    }

    /// <summary>
    /// Chooses a new row's key: false when the table already holds a row with this id (the append skips it). A Cage
    /// id stamped with the row's millisecond can only be in that bucket or, if it was once stored with another
    /// timestamp, in the foreign-id index; a foreign id is caught by that index (the insert's ON CONFLICT) or, when
    /// it is Cage-shaped, found in its stamped bucket.
    /// </summary>
    public bool TryPlace(string id, long millisecond, out long rk, out int foreign)
    {
        var isCageId = CallKeys.TryCageMilliseconds(id, out var stamped);
        var home = CallKeys.HomeSlot(id, isCageId);
        foreign = !isCageId ? CallKeys.ForeignOther : stamped == millisecond ? CallKeys.Native : CallKeys.ForeignStamped;
        if (foreign == CallKeys.ForeignStamped && ProbeBucket(id, home, stamped, out _))
        {
            rk = 0;
            return false;
        }

        if (foreign == CallKeys.Native && _mayHaveForeign && FindForeign(id) is not null)
        {
            rk = 0;
            return false;
        }

        return !ProbeBucket(id, home, millisecond, out rk);
    }

    /// <summary>Notes a row that was inserted at <paramref name="rk"/>.</summary>
    public void Placed(string id, long rk, int foreign)
    {
        var millisecond = CallKeys.MillisecondOf(rk);
        if (millisecond > _lastMillisecondAtBegin)
        {
            _unindexed.Add((rk, id));
            _maxFreshMillisecond = Math.Max(_maxFreshMillisecond, millisecond);
        }

        if (foreign != CallKeys.Native)
        {
            _mayHaveForeign = true;
        }
    }

    /// <summary>The key of the stored row with this id (in the file, this transaction included), or null.</summary>
    public long? Find(string id)
    {
        if (CallKeys.TryCageMilliseconds(id, out var stamped) && ProbeFile(id, CallKeys.HomeSlot(id, true), stamped, out var rk))
        {
            return rk;
        }

        return FindForeign(id);
    }

    /// <summary>
    /// The row's place in arrival order among the rows of its millisecond (readers order ties by it): counted in
    /// memory for milliseconds this transaction opened, read once from the file for the others. A row that then
    /// turns out to be a duplicate leaves a gap, which is harmless.
    /// </summary>
    public long NextSeq(long millisecond)
    {
        // Consecutive rows usually fall in the same millisecond or a new, later one.
        if (millisecond == _lastSeqMillisecond)
        {
            return ++_lastSeq;
        }

        if (_lastSeqMillisecond != long.MinValue)
        {
            _seqs[_lastSeqMillisecond] = _lastSeq + 1;
        }

        long next;
        if (millisecond > _maxSeqMillisecond || !_seqs.TryGetValue(millisecond, out next))
        {
            // First visit in this transaction: an empty bucket, or one that holds rows of earlier transactions.
            next = millisecond <= _lastMillisecondAtBegin ? StoredNextSeq(millisecond) : 0;
        }

        _maxSeqMillisecond = Math.Max(_maxSeqMillisecond, millisecond);
        _lastSeqMillisecond = millisecond;
        _lastSeq = next;
        return next;
    }

    public void Dispose()
    {
        _idAt.Dispose();
        _foreign.Dispose();
        _maxKey.Dispose();
        _anyForeign.Dispose();
        _nextSeq.Dispose();
    }

    /// <summary>Probes a bucket: in memory when it was empty at the start of this transaction, else in the file.</summary>
    private bool ProbeBucket(string id, int home, long millisecond, out long rk)
    {
        if (millisecond <= _lastMillisecondAtBegin)
        {
            return ProbeFile(id, home, millisecond, out rk);
        }

        if (millisecond > _maxFreshMillisecond)
        {
            rk = CallKeys.Key(millisecond, home); // a millisecond after all this transaction wrote: its bucket is empty
            return false;
        }

        foreach (var (placed, placedId) in _unindexed)
        {
            _fresh[placed] = placedId;
        }

        _unindexed.Clear();
        var slot = home;
        do
        {
            rk = CallKeys.Key(millisecond, slot);
            if (!_fresh.TryGetValue(rk, out var other))
            {
                return false;
            }

            if (string.Equals(other, id, StringComparison.Ordinal))
            {
                return true;
            }

            slot = (slot + 1) & (CallKeys.SlotsPerMillisecond - 1);
        }
        while (slot != home);

        throw Full(millisecond, id);
    }

    /// <summary>
    /// Walks a millisecond's bucket in the file from the id's home slot: true with the row's key when the id is there;
    /// false with the first empty slot (where the id would go) otherwise.
    /// </summary>
    private bool ProbeFile(string id, int home, long millisecond, out long rk)
    {
        var slot = home;
        do
        {
            rk = CallKeys.Key(millisecond, slot);
            var other = IdAt(rk);
            if (other is null)
            {
                return false;
            }

            if (string.Equals(other, id, StringComparison.Ordinal))
            {
                return true;
            }

            slot = (slot + 1) & (CallKeys.SlotsPerMillisecond - 1);
        }
        while (slot != home);

        throw Full(millisecond, id);
    }

    private string? IdAt(long rk)
    {
        NativeSqlite.BindInt64(_idAt, 1, rk);
        try
        {
            var rc = NativeSqlite.Step(_idAt);
            return rc == raw.SQLITE_ROW ? raw.sqlite3_column_text(_idAt, 0).utf8_to_string() ?? ""
                : rc == raw.SQLITE_DONE ? null
                : throw Error(rc);
        }
        finally
        {
            NativeSqlite.Reset(_idAt);
        }
    }

    private long? FindForeign(string id)
    {
        var max = Encoding.UTF8.GetMaxByteCount(id.Length);
        if (_utf8.Length < max)
        {
            _utf8 = new byte[Math.Max(max, _utf8.Length * 2)];
        }

        NativeSqlite.BindText(_foreign, 1, new ReadOnlySpan<byte>(_utf8, 0, Encoding.UTF8.GetBytes(id, _utf8)));
        try
        {
            var rc = NativeSqlite.Step(_foreign);
            return rc == raw.SQLITE_ROW ? raw.sqlite3_column_int64(_foreign, 0)
                : rc == raw.SQLITE_DONE ? null
                : throw Error(rc);
        }
        finally
        {
            NativeSqlite.Reset(_foreign);
        }
    }

    private long StoredNextSeq(long millisecond)
    {
        NativeSqlite.BindInt64(_nextSeq, 1, CallKeys.BucketStart(millisecond));
        NativeSqlite.BindInt64(_nextSeq, 2, CallKeys.BucketStart(millisecond) + CallKeys.SlotsPerMillisecond);
        try
        {
            var rc = NativeSqlite.Step(_nextSeq);
            return rc == raw.SQLITE_ROW ? raw.sqlite3_column_int64(_nextSeq, 0) : throw Error(rc);
        }
        finally
        {
            NativeSqlite.Reset(_nextSeq);
        }
    }

    private InvalidOperationException Full(long millisecond, string id) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"The ledger '{_path}' holds {CallKeys.SlotsPerMillisecond} rows in the millisecond {millisecond}; no slot is left for {id}."));

    private sqlite3_stmt Prepare(string sql)
    {
        var rc = raw.sqlite3_prepare_v3(_db, sql, raw.SQLITE_PREPARE_PERSISTENT, out var statement);
        return rc == raw.SQLITE_OK ? statement : throw Error(rc);
    }

    private SqliteException Error(int rc) =>
        new(string.Create(CultureInfo.InvariantCulture, $"SQLite error {rc} writing the ledger '{_path}': {raw.sqlite3_errmsg(_db).utf8_to_string()}"),
            rc, raw.sqlite3_extended_errcode(_db));
}
