using System.Buffers.Binary;
using System.Globalization;
using CageNet.Ledger;
using Microsoft.Data.Sqlite;

namespace CageNet.Cli;

/// <summary>
/// Checks, before any command opens a ledger path, that the file there is a Cage ledger: a SQLite database whose
/// <c>PRAGMA application_id</c> is Cage's ("CAGE", which every Cage migration writes), with a Cage schema version and
/// Cage's own tables. Anything else — a folder, an empty file, random bytes, a truncated file, a SQLite database of
/// another application (including one whose <c>application_id</c> is 0) — is refused with exit 2 before a single byte is
/// written. The checks read the 100-byte SQLite header and open the file with <c>Mode=ReadOnly</c>.
/// </summary>
internal static class LedgerFile
{
    private static readonly byte[] SqliteMagic = "SQLite format 3\0"u8.ToArray();

    /// <summary>What is at a ledger path.</summary>
    internal enum State
    {
        /// <summary>Nothing: a write command may create the ledger there.</summary>
        Missing,

        /// <summary>A Cage ledger at the schema version this build writes.</summary>
        Current,

        /// <summary>A Cage ledger of an earlier schema version (opening it read-write migrates it forward).</summary>
        Older,
    }

    /// <summary>Inspects the file at <paramref name="path"/>; throws when it is not something Cage may open.</summary>
    /// <param name="path">The ledger path (full).</param>
    /// <param name="origin">Where the path came from, for messages (<c>--ledger</c>, <c>CAGE_LEDGER</c> or the default).</param>
    /// <exception cref="CliException">The path is a folder or the file is not a (readable) Cage ledger: exit 2; it cannot be read at all: exit 1.</exception>
    public static State Inspect(string path, string origin)
    {
        if (Directory.Exists(path))
        {
            throw CliException.BadInput($"the ledger path {path} ({origin}) is a folder, not a ledger file; give the file, e.g. {Path.Combine(path, LedgerLocation.FileName)}");
        }

        if (!File.Exists(path))
        {
            return State.Missing;
        }

        var header = new byte[100];
        int read;
        long length;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            length = stream.Length;
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.Failure($"cannot read the ledger {path}: {ex.Message}", ex);
        }

        if (length == 0)
        {
            throw NotALedger(path, "it is an empty file");
        }

        if (read < header.Length || !header.AsSpan(0, SqliteMagic.Length).SequenceEqual(SqliteMagic))
        {
            throw NotALedger(path, "it is not a SQLite database (corrupt, or some other kind of file)");
        }

        // The header's page count is trustworthy when its "version-valid-for" number matches the change counter; a file
        // shorter than that many pages lost its end (a truncated copy).
        var pageSize = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(16)) is var size && size == 1 ? 65536L : size;
        var pages = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(28));
        var changeCounter = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24));
        var validFor = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(92));
        // (Skipped while a write-ahead log holds pages: a checkpoint in another process may be extending the file.)
        var wal = new FileInfo(path + "-wal");
        if (pageSize >= 512 && validFor == changeCounter && pages * pageSize > length && !(wal.Exists && wal.Length > 0))
        {
            throw Damaged(path, $"the file is truncated ({length.ToString("#,##0", CultureInfo.InvariantCulture)} bytes of {(pages * pageSize).ToString("#,##0", CultureInfo.InvariantCulture)})");
        }

        int applicationId, version;
        List<string> tables;
        try
        {
            using var connection = SqliteLedger.OpenReadOnlyConnection(path, timeoutSeconds: 5, out _);
            using var release = new PoolRelease(connection);
            applicationId = ScalarInt(connection, "PRAGMA application_id;");
            version = ScalarInt(connection, "PRAGMA user_version;");
            tables = [];
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        catch (SqliteException ex) when (IsDamage(ex))
        {
            throw Damaged(path, ex.Message);
        }
        catch (SqliteException ex)
        {
            throw CliException.Failure($"cannot open the ledger {path}: {ex.Message}", ex);
        }

        if (applicationId != LedgerSchema.ApplicationId)
        {
            var what = applicationId != 0
                ? $"application_id 0x{applicationId.ToString("X8", CultureInfo.InvariantCulture)}"
                : tables.Count == 0 ? "an empty database" : $"tables {string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}";
            throw NotALedger(path, $"it is a SQLite database that Cage did not create ({what})");
        }

        if (version > LedgerSchema.LatestVersion)
        {
            throw CliException.BadInput(
                $"the ledger {path} has schema version {version}, newer than this cage knows ({LedgerSchema.LatestVersion}); use a newer cage (the file was left untouched)");
        }

        if (version < 1 || !tables.Contains("calls", StringComparer.Ordinal) || !tables.Contains("receipts", StringComparer.Ordinal))
        {
            throw Damaged(path, "Cage's tables are missing");
        }

        return version == LedgerSchema.LatestVersion ? State.Current : State.Older;
    }

    /// <summary>SQLite's "this is not a database" and "the database is malformed" (also in extended codes).</summary>
    public static bool IsDamage(SqliteException ex) => (ex.SqliteErrorCode & 0xFF) is 11 or 26;

    /// <summary>The first <see cref="SqliteException"/> reporting damage in an exception chain, or <see langword="null"/>.</summary>
    public static SqliteException? FindDamage(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SqliteException sqlite && IsDamage(sqlite))
            {
                return sqlite;
            }
        }

        return null;
    }

    public static CliException Damaged(string path, string detail) =>
        CliException.BadInput($"the ledger {path} is damaged and cannot be read: {detail}; restore it from a backup");

    private static CliException NotALedger(string path, string why) =>
        CliException.BadInput($"{path} is not a Cage ledger: {why}. Refusing to read or write it; point --ledger at a Cage ledger, or at a new path to create one");

    /// <summary>Takes the inspecting connection out of the pool when done, so it does not hold the file open.</summary>
    private readonly struct PoolRelease(SqliteConnection connection) : IDisposable
    {
        public void Dispose() => SqliteConnection.ClearPool(connection);
    }

    private static int ScalarInt(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
