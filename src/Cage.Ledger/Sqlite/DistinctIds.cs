using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace CageNet.Ledger;

/// <summary>A record imported under a derived id because the ledger held another record with its id.</summary>
/// <param name="Id">The id in the file.</param>
/// <param name="StoredAs">The derived id it was stored under.</param>
/// <param name="IsReceipt">A receipt (else a call).</param>
internal readonly record struct RenamedRecord(string Id, string StoredAs, bool IsReceipt);

/// <summary>
/// When two records with one id are the same record. The reference tool's ids carry 16 random bits, so a large
/// reference ledger holds different calls under one id. A repeat has the same content: for a call its time (to the
/// millisecond), provider, model and token buckets, which fix what it cost; for a receipt its time, call, task, tool,
/// unit and amounts. Costs are left out (a re-import with newer prices is still a repeat), and so are labels and free
/// text (stored scrubbed). A record with the same id and other content is stored as <c>{id}~{8 hex digits}</c>, the
/// digits a hash of that content, so the same file imported again maps to the same derived id and adds nothing.
/// </summary>
internal static class DistinctIds
{
    public static string ContentKey(CallRecord call) => CallKey(
        call.Timestamp.ToUnixTimeMilliseconds(), call.Provider ?? "", call.Model ?? "", call.Usage.Input, call.Usage.CacheRead,
        call.Usage.CacheWrite5m, call.Usage.CacheWrite1h, call.Usage.Output, call.Usage.Reasoning);

    public static string ContentKey(SavingsReceipt receipt) => ReceiptKey(
        receipt.Timestamp.ToUnixTimeMilliseconds(), receipt.CallId, receipt.Task, receipt.Tool, receipt.Unit.ToWire(),
        receipt.RawAlternative, receipt.Actual);

    public static string Derive(string id, string contentKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(contentKey), hash);
        return string.Concat(id, "~", Convert.ToHexStringLower(hash[..4]));
    }

    internal static string CallKey(long ms, string provider, string model, long input, long cacheRead, long write5m, long write1h, long output, long? reasoning) =>
        string.Create(CultureInfo.InvariantCulture, $"{ms}|{provider}|{model}|{input}|{cacheRead}|{write5m}|{write1h}|{output}|{reasoning?.ToString(CultureInfo.InvariantCulture) ?? "-"}");

    // Amounts compared by value: 30000.0 and 30000 are one amount.
    internal static string ReceiptKey(long ms, string? call, string? task, string tool, string unit, decimal raw, decimal actual) =>
        string.Create(CultureInfo.InvariantCulture, $"{ms}|{call}|{task}|{tool}|{unit}|{raw:G29}|{actual:G29}");
}

/// <summary>Reads the content key of stored rows on the writer's connection, inside its transaction.</summary>
internal sealed class StoredContents : IDisposable
{
    private readonly sqlite3 _db;
    private readonly string _path;
    private sqlite3_stmt? _call;
    private sqlite3_stmt? _receipt;

    public StoredContents(sqlite3 db, string path)
    {
        _db = db;
        _path = path;
    }

    public string? CallKey(long rk)
    {
        var s = _call ??= Prepare(
            "SELECT ts_ms, provider, model, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning FROM calls WHERE rk = ?1;");
        return Read(s, rk, () => DistinctIds.CallKey(
            raw.sqlite3_column_int64(s, 0), Text(s, 1) ?? "", Text(s, 2) ?? "", raw.sqlite3_column_int64(s, 3), raw.sqlite3_column_int64(s, 4),
            raw.sqlite3_column_int64(s, 5), raw.sqlite3_column_int64(s, 6), raw.sqlite3_column_int64(s, 7),
            raw.sqlite3_column_type(s, 8) == raw.SQLITE_NULL ? null : raw.sqlite3_column_int64(s, 8)));
    }

    public string? ReceiptKey(long rk)
    {
        var s = _receipt ??= Prepare("SELECT ts_ms, call_id, task, tool, unit, raw_alternative, actual FROM receipts WHERE rk = ?1;");
        return Read(s, rk, () => DistinctIds.ReceiptKey(
            raw.sqlite3_column_int64(s, 0), Text(s, 1), Text(s, 2), Text(s, 3) ?? "", Text(s, 4) ?? "",
            decimal.Parse(Text(s, 5) ?? "0", NumberStyles.Float, CultureInfo.InvariantCulture),
            decimal.Parse(Text(s, 6) ?? "0", NumberStyles.Float, CultureInfo.InvariantCulture)));
    }

    public void Dispose()
    {
        _call?.Dispose();
        _receipt?.Dispose();
    }

    private static string? Read(sqlite3_stmt s, long rk, Func<string> key)
    {
        NativeSqlite.BindInt64(s, 1, rk);
        try
        {
            return NativeSqlite.Step(s) == raw.SQLITE_ROW ? key() : null;
        }
        finally
        {
            NativeSqlite.Reset(s);
        }
    }

    private static string? Text(sqlite3_stmt s, int i) =>
        raw.sqlite3_column_type(s, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_text(s, i).utf8_to_string();

    private sqlite3_stmt Prepare(string sql)
    {
        var rc = raw.sqlite3_prepare_v2(_db, sql, out var statement);
        return rc == raw.SQLITE_OK
            ? statement
            : throw new SqliteException(string.Create(CultureInfo.InvariantCulture,
                $"SQLite error {rc} reading the ledger '{_path}': {raw.sqlite3_errmsg(_db).utf8_to_string()}"), rc);
    }
}
