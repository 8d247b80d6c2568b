using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The durable ledger: one SQLite file in WAL mode (SPEC 5). Appends run one transaction per batch on a single
/// write connection under a lock and are idempotent by record id and by call request id; a batch is acknowledged
/// (the append completes) once its transaction has committed, and acknowledged records survive a process kill.
/// Reads use their own pooled connections, so reports run while batches are being written. Thread-safe.
/// </summary>
/// <remarks>
/// Several processes may share the file (SQLite's locking, waiting up to
/// <see cref="SqliteLedgerOptions.BusyTimeoutMilliseconds"/>). Costs are stored as integers of 1e-10 USD: exact for
/// every catalog price; a cost with finer precision is rounded half to even to 1e-10 USD.
/// </remarks>
public sealed partial class SqliteLedger : ILedgerStore, IRouteTaskCounts, ITaskQualityCounts, IDisposable, IAsyncDisposable
{
    private const string CallColumns =
        """
        id, ts_ms, session, task, agent, route, category, "user", provider, model, input, cache_read,
        cache_write_5m, cache_write_1h, output, reasoning, cost_e10, cost_source, price_key, usage_status,
        latency_ms, ok, retries, attempt, request_id, error, tags, seq
        """;

    // Ordinal of seq in CallColumns: calls of the same millisecond are ordered by it (their order of arrival).
    private const int SeqOrdinal = 27;

    private const string ReceiptColumns = "id, ts_ms, call_id, task, tool, unit, raw_alternative, actual, method, confidence, meta, seq";

    // Ordinal of seq in ReceiptColumns.
    private const int ReceiptSeqOrdinal = 11;

    // The reader queries (internal so tests can check their query plans use the indexes).
    // Calls are found by key (rk, the table's own key): an id through CallLocator, a task through its posting lists.
    internal const string CallAtSql = $"SELECT {CallColumns} FROM calls WHERE rk = $key;";


    internal const string ReceiptAtSql = $"SELECT {ReceiptColumns} FROM receipts WHERE rk = $key;";

    internal const string PostingsSql = "SELECT rks FROM postings WHERE kind = $kind AND key = $key;";

    // A task's receipts: by the receipt's own task, or by the task of the call it points to (the second half runs once
    // per call of the task); a receipt matching both is listed once.

    // Receipts with the basis of the call they point to, in one pass: the writer stored the call's key (call_rk) when
    // it knew the call; for the others (pending) the call is looked up by id.
    internal const string ReceiptsWithCallsSelect =
        """
        SELECT r.id, r.ts_ms, r.call_id, r.task, r.tool, r.unit, r.raw_alternative, r.actual, r.method, r.confidence, r.meta,
               c.provider, c.model, c.route, c.task, c.input + c.cache_read + c.cache_write_5m + c.cache_write_1h, c.ts_ms,
               r.rk, r.seq
        FROM receipts r LEFT JOIN calls c ON c.rk = r.call_rk
        """;

    // The newest millisecond holding a call with a task, then the last of its calls to arrive.
    internal const string LatestTaskSql =
        """
        SELECT task FROM calls
        WHERE task IS NOT NULL AND rk >= (SELECT (rk >> 20) << 20 FROM calls WHERE task IS NOT NULL ORDER BY rk DESC LIMIT 1)
        ORDER BY seq DESC LIMIT 1;
        """;

    private readonly SqliteWriter? _writer;
    private readonly string _readConnectionString;
    private int _disposed;

    private SqliteLedger(string path, int schemaVersion, SqliteWriter? writer, string readConnectionString)
    {
        Path = path;
        SchemaVersion = schemaVersion;
        _writer = writer;
        _readConnectionString = readConnectionString;
    }

    /// <summary>The full path of the ledger file.</summary>
    public string Path { get; }

    /// <summary>The schema version of the file (after the migrations <see cref="Open"/> applied).</summary>
    public int SchemaVersion { get; }

    /// <summary>
    /// Opens (or creates) a ledger file: creates the folder and the file when missing, switches it to WAL, and
    /// applies the forward schema migrations this version knows.
    /// </summary>
    /// <param name="path">The ledger file; relative paths resolve against the working directory. See <see cref="LedgerLocation"/>.</param>
    /// <param name="options">Durability and locking settings; <see cref="SqliteLedgerOptions.Path"/> is ignored here. Default: <c>new SqliteLedgerOptions()</c>.</param>
    /// <returns>The open ledger; dispose it to close the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or an option is out of range.</exception>
    /// <exception cref="IOException">The folder or file cannot be created or opened (the message names the path).</exception>
    /// <exception cref="InvalidOperationException">The file is not a Cage ledger, or has a newer schema than this version knows (the message names the file and both versions).</exception>
    public static SqliteLedger Open(string path, SqliteLedgerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new SqliteLedgerOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.BusyTimeoutMilliseconds, nameof(options.BusyTimeoutMilliseconds));

        string fullPath;
        try
        {
            fullPath = System.IO.Path.GetFullPath(path);
            var folder = System.IO.Path.GetDirectoryName(fullPath);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new IOException($"Cannot create the folder of the Cage ledger '{path}': {ex.Message}", ex);
        }

        var busySeconds = (options.BusyTimeoutMilliseconds + 999) / 1000;
        var writeConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
            DefaultTimeout = busySeconds,
        }.ToString();
        var readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWrite,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = busySeconds,
        }.ToString();

        int version;
        try
        {
            // Set-up on an ordinary connection: WAL (a property of the file) and the schema migrations.
            using (var connection = new SqliteConnection(writeConnectionString))
            {
                connection.Open();
                Pragma(connection, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {options.BusyTimeoutMilliseconds};"));
                var mode = Pragma(connection, "PRAGMA journal_mode = WAL;");
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new IOException($"Cannot switch the Cage ledger '{fullPath}' to WAL mode (the file system gave journal mode '{mode}').");
                }

                version = LedgerSchema.Migrate(connection, fullPath);
            }

            return new SqliteLedger(fullPath, version, SqliteWriter.Open(fullPath, options), readConnectionString);
        }
        catch (SqliteException ex)
        {
            throw new IOException($"Cannot open the Cage ledger '{fullPath}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Opens an existing ledger for reading only (SQLite <c>Mode=ReadOnly</c>): nothing is created, migrated or written,
    /// so a ledger in a read-only folder can be read. Appends throw <see cref="InvalidOperationException"/>. The CLI's
    /// read commands use it after checking that the file is a Cage ledger.
    /// </summary>
    /// <remarks>
    /// A WAL-mode file needs its <c>-shm</c> index, which SQLite creates beside the file; when the folder is read-only and
    /// there is no index and no write-ahead log left over (a ledger closed cleanly), the file is opened as immutable
    /// instead (<c>immutable=1</c>: no locks, no index), which is exact for a file nobody can write.
    /// </remarks>
    /// <exception cref="IOException">The file cannot be opened or read (the message names the path).</exception>
    /// <exception cref="InvalidOperationException">The file is not a Cage ledger at <see cref="LedgerSchema.LatestVersion"/>.</exception>
    internal static SqliteLedger OpenReadOnly(string path, SqliteLedgerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new SqliteLedgerOptions();
        var fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new IOException($"The Cage ledger '{fullPath}' does not exist.");
        }

        try
        {
            using var connection = OpenReadOnlyConnection(fullPath, (options.BusyTimeoutMilliseconds + 999) / 1000, out var readConnectionString);
            var applicationId = ScalarInt(connection, "PRAGMA application_id;");
            var version = ScalarInt(connection, "PRAGMA user_version;");
            if (applicationId != LedgerSchema.ApplicationId || version != LedgerSchema.LatestVersion)
            {
                throw new InvalidOperationException(
                    $"'{fullPath}' is not a Cage ledger at schema version {LedgerSchema.LatestVersion} (application_id 0x{applicationId:X8}, version {version}).");
            }

            return new SqliteLedger(fullPath, version, writer: null, readConnectionString);
        }
        catch (SqliteException ex)
        {
            throw new IOException($"Cannot open the Cage ledger '{fullPath}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Opens <paramref name="fullPath"/> read-only (pooled): first as usual, then — when SQLite cannot set up the WAL index
    /// because the folder is read-only and no write-ahead log is left over — as an immutable file.
    /// </summary>
    /// <param name="fullPath">An existing SQLite file.</param>
    /// <param name="timeoutSeconds">The busy timeout.</param>
    /// <param name="connectionString">The connection string that worked, for further connections.</param>
    /// <exception cref="SqliteException">The file cannot be opened.</exception>
    internal static SqliteConnection OpenReadOnlyConnection(string fullPath, int timeoutSeconds, out string connectionString)
    {
        connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadOnly,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = timeoutSeconds,
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            ScalarInt(connection, "PRAGMA user_version;"); // the first read sets up the WAL index
            return connection;
        }
        catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xFF) is 8 or 14 && !HasWriteAheadLog(fullPath))
        {
            connection.Dispose();
        }

        connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = new Uri(fullPath).AbsoluteUri + "?immutable=1",
            Mode = SqliteOpenMode.ReadOnly,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = timeoutSeconds,
        }.ToString();
        connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static bool HasWriteAheadLog(string fullPath)
    {
        var wal = new FileInfo(fullPath + "-wal");
        return wal.Exists && wal.Length > 0;
    }

    private static int ScalarInt(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public ValueTask<AppendResult> AppendAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        if (batch.Count == 0)
        {
            return ValueTask.FromResult(default(AppendResult));
        }

        // SQLite's API is synchronous: the commit happens on the caller's thread (the metering pipeline's
        // background pump, or an import loop), and the returned task is complete once it is durable.
        return ValueTask.FromResult(Writer.Append(batch, cancellationToken));
    }

    /// <summary>
    /// Appends like <see cref="AppendAsync(LedgerBatch, CancellationToken)"/>, except that a record whose id the ledger
    /// holds with other content is a different record: it is stored under a derived id (see <see cref="DistinctIds"/>)
    /// and listed in <paramref name="renamed"/>. Used for the reference tool's files, whose ids collide.
    /// </summary>
    internal ValueTask<AppendResult> AppendDistinctAsync(LedgerBatch batch, List<RenamedRecord> renamed, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        return ValueTask.FromResult(batch.Count == 0 ? default : Writer.Append(batch, cancellationToken, renamed));
    }

    /// <summary>
    /// Replaces the usage, model and cost of stored calls whose request id matches one of <paramref name="calls"/> and
    /// that hold less output: a response imported while it was still streaming, upgraded in place by a later import of
    /// the finished log (same id, time and labels; the report totals move by the difference). One transaction.
    /// </summary>
    /// <returns>How many stored calls changed.</returns>
    internal ValueTask<int> UpgradeAsync(IReadOnlyList<CallRecord> calls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(calls);
        ThrowIfDisposed();
        return ValueTask.FromResult(calls.Count == 0 ? 0 : Writer.Upgrade(calls, cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        if (batch.Count > 0)
        {
            Writer.Append(batch, cancellationToken);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!Enum.IsDefined(query.Dimension))
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Dimension, "unknown report dimension");
        }

        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        return ValueTask.FromResult(Finish(query, Groups(query.Dimension, query.Window)));
    }

    /// <inheritdoc/>
    /// <remarks>Route × task is read from maintained per-day totals; other pairs read the window's calls once.</remarks>
    public ValueTask<SpendReport> ReportPairsAsync(ReportQuery query, ReportDimension then, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        PairReports.Validate(query.Dimension, then);
        if (query.Dimension != ReportDimension.Route || then != ReportDimension.Task)
        {
            return PairReports.FromCallsAsync(this, query, then, cancellationToken);
        }

        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Finish(query, Groups(CallTotals.RouteTask, query.Window)));
    }

    /// <inheritdoc/>
    ValueTask<IReadOnlyDictionary<string, RouteTaskCount>> IRouteTaskCounts.CountRouteTasksAsync(
        TimeWindow window, IReadOnlyCollection<string> routes, IReadOnlyDictionary<string, HashSet<string>> alsoTasks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(alsoTasks);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        return ValueTask.FromResult<IReadOnlyDictionary<string, RouteTaskCount>>(RouteTaskCounts.Count(connection, window, routes, alsoTasks));
    }

    /// <inheritdoc/>
    ValueTask<TaskQualityCount> ITaskQualityCounts.CountTaskQualityAsync(TimeWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        return ValueTask.FromResult(TaskQuality.Count(connection, window));
    }

    /// <summary>The groups of one dimension (or the route × task pairs) over a window.</summary>
    private Dictionary<string, SpendTotals> Groups(ReportDimension dimension, TimeWindow window)
    {
        // Whole UTC days inside the window come from call_totals (one row per group and day); the partial days at
        // the window's edges, if any, are summed from the calls themselves through the timestamp index.
        var segments = Segments(window);
        var groups = new Dictionary<string, SpendTotals>(StringComparer.Ordinal);
        using var connection = OpenReader();
        if (segments.WholeDays)
        {
            AddGroups(connection, dimension, TotalsSql(dimension, segments.FirstDay, segments.EndDay), segments.FirstDay, segments.EndDay, groups);
        }

        foreach (var (from, to) in segments.Edges)
        {
            AddGroups(connection, dimension, ReportSql(dimension, KeyWindowClause(from, to)), from, to, groups);
        }

        return groups;
    }

    /// <summary>
    /// How a window is read: its whole UTC days from the per-day totals (when <see cref="WindowSegments.WholeDays"/>,
    /// bounded by <see cref="WindowSegments.FirstDay"/> and the exclusive <see cref="WindowSegments.EndDay"/>, null
    /// when unbounded) and its partial days from the calls themselves (<see cref="WindowSegments.Edges"/>, Unix
    /// milliseconds, end exclusive). A window inside one day is a single edge.
    /// </summary>
    internal static WindowSegments Segments(TimeWindow window)
    {
        var since = window.Since?.ToUnixTimeMilliseconds();
        var until = window.Until?.ToUnixTimeMilliseconds();
        var (firstWholeDay, endWholeDay) = WholeDays(since, until);
        var edges = new List<(long From, long To)>();
        if (firstWholeDay is { } first && endWholeDay is { } end && first >= end)
        {
            edges.Add((since!.Value, until!.Value));
            return new WindowSegments(false, null, null, edges);
        }

        if (since is { } from && firstWholeDay * CallTotals.MillisecondsPerDay is { } wholeFrom && from < wholeFrom)
        {
            edges.Add((from, wholeFrom));
        }

        if (until is { } to && endWholeDay * CallTotals.MillisecondsPerDay is { } wholeTo && wholeTo < to)
        {
            edges.Add((wholeTo, to));
        }

        return new WindowSegments(true, firstWholeDay, endWholeDay, edges);
    }

    /// <summary>The parts of a window (see <see cref="Segments"/>).</summary>
    internal readonly record struct WindowSegments(bool WholeDays, long? FirstDay, long? EndDay, List<(long From, long To)> Edges);

    /// <summary>The report over whole days: the per-day totals of one dimension, summed per group.</summary>
    internal static string TotalsSql(ReportDimension dimension, long? firstDay, long? endDay)
    {
        var key = dimension == ReportDimension.Day ? "day" : "key";
        var where = string.Create(CultureInfo.InvariantCulture, $"dim = {(int)dimension}")
            + (firstDay is null ? "" : " AND day >= $since")
            + (endDay is null ? "" : " AND day < $until");
        return $"""
            SELECT {key}, sum(calls), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
                   sum(reasoning), sum(cost_e10), sum(unpriced), sum(missing), sum(local)
            FROM call_totals WHERE {where}
            GROUP BY 1;
            """;
    }

    /// <summary>The report over raw calls (partial days): one GROUP BY over the window, summing buckets and cost and counting flags.</summary>
    internal static string ReportSql(ReportDimension dimension, string windowClause)
    {
        return $"""
            SELECT {KeyColumn(dimension)}, count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
                   sum(reasoning), sum(cost_e10), sum(cost_source = 3), sum(usage_status = 1), sum(cost_source = 2)
            FROM calls{windowClause}
            GROUP BY 1;
            """;
    }

    /// <summary>The SQL expression of a report dimension's group key over the calls table (or of the route × task pair).</summary>
    internal static string KeyColumn(ReportDimension dimension) => dimension == CallTotals.RouteTask
        ? "coalesce(route, '') || char(31) || coalesce(task, '')"
        // The UTC day number (floor division, so instants before 1970 land on the right day too).
        : ColumnOf(dimension, "CASE WHEN ts_ms >= 0 THEN ts_ms / 86400000 ELSE (ts_ms + 1) / 86400000 - 1 END");

    /// <summary>The calls column a report groups by; <paramref name="day"/> is the expression of the UTC day number. Shared with the PostgreSQL ledger.</summary>
    internal static string ColumnOf(ReportDimension dimension, string day) => dimension switch
    {
        ReportDimension.Route => "route",
        ReportDimension.Model => "model",
        ReportDimension.Provider => "provider",
        ReportDimension.Day => day,
        ReportDimension.Agent => "agent",
        ReportDimension.Task => "task",
        ReportDimension.Session => "session",
        ReportDimension.Category => "category",
        ReportDimension.User => "\"user\"",
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "unknown report dimension"),
    };

    /// <inheritdoc/>
    public ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        using var locator = new CallLocator(connection);
        var rk = locator.Find(callId);
        return ValueTask.FromResult(rk is { } key ? ReadCallsAt(connection, [key]).FirstOrDefault() : null);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        return ValueTask.FromResult<IReadOnlyList<SavingsReceipt>>(ReadReceiptsAt(connection, PostingKeys(connection, PostingList.ReceiptsByCall, callId)));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        return ValueTask.FromResult<IReadOnlyList<CallRecord>>(ReadCallsAt(connection, PostingKeys(connection, PostingList.CallsByTask, task)));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        var keys = new HashSet<long>(PostingKeys(connection, PostingList.ReceiptsByTask, task));
        foreach (var call in ReadCallsAt(connection, PostingKeys(connection, PostingList.CallsByTask, task)))
        {
            keys.UnionWith(PostingKeys(connection, PostingList.ReceiptsByCall, call.Id));
        }

        return ValueTask.FromResult<IReadOnlyList<SavingsReceipt>>(ReadReceiptsAt(connection, [.. keys]));
    }

    /// <summary>The receipts at the given keys, in time order (ties in their order of arrival); a key with no row is skipped.</summary>
    private static List<SavingsReceipt> ReadReceiptsAt(SqliteConnection connection, List<long> keys) =>
        ReadAt(connection, ReceiptAtSql, keys, ReceiptSeqOrdinal, ReadReceipt);

    /// <summary>The calls at the given keys, in time order (ties in their order of arrival); a key with no row is skipped.</summary>
    private static List<CallRecord> ReadCallsAt(SqliteConnection connection, List<long> keys) =>
        ReadAt(connection, CallAtSql, keys, SeqOrdinal, ReadCall);

    // One point read per key on the table's own key, then time order with the rows of a millisecond by seq.
    private static List<T> ReadAt<T>(SqliteConnection connection, string sql, List<long> keys, int seqOrdinal, Func<SqliteDataReader, T> read)
    {
        var rows = new List<(long Ms, long Seq, T Row)>(keys.Count);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var key = command.Parameters.Add("$key", SqliteType.Integer);
        foreach (var rk in keys)
        {
            key.Value = rk;
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                rows.Add((CallKeys.MillisecondOf(rk), reader.GetInt64(seqOrdinal), read(reader)));
            }
        }

        return rows.OrderBy(r => r.Ms).ThenBy(r => r.Seq).Select(r => r.Row).ToList();
    }

    /// <summary>The keys in one posting list (a task's calls, a call's or a task's receipts), ascending (time order).</summary>
    private List<long> PostingKeys(SqliteConnection connection, int kind, string task)
    {
        using var command = connection.CreateCommand();
        command.CommandText = PostingsSql;
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$key", task);
        var keys = new List<long>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                try
                {
                    PostingList.Decode((byte[])reader.GetValue(0), keys);
                }
                catch (InvalidDataException ex)
                {
                    var what = kind switch { PostingList.CallsByTask => "of task", PostingList.ReceiptsByCall => "of the receipts of call", _ => "of the receipts of task" };
                    throw new InvalidDataException($"The ledger '{Path}' has a malformed posting list {what} '{task}': {ex.Message}", ex);
                }
            }
        }

        keys.Sort();
        return keys;
    }

    /// <inheritdoc/>
    public ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = LatestTaskSql;
        return ValueTask.FromResult(command.ExecuteScalar() as string);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        ThrowIfDisposed();
        await using var connection = OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT rk, {CallColumns} FROM calls{KeyWindowClause(command, window)} ORDER BY rk;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);

        // Rows come in key order; the calls of one millisecond are held back and released in their order of arrival.
        var tie = new List<(long Seq, CallRecord Call)>();
        var tieMs = long.MinValue;
        while (await reader.ReadAsync(cancellationToken))
        {
            var ms = CallKeys.MillisecondOf(reader.GetInt64(0));
            if (ms != tieMs)
            {
                foreach (var held in tie.OrderBy(t => t.Seq))
                {
                    yield return held.Call;
                }

                tie.Clear();
                tieMs = ms;
            }

            tie.Add((reader.GetInt64(SeqOrdinal + 1), ReadCall(reader, 1)));
        }

        foreach (var held in tie.OrderBy(t => t.Seq))
        {
            yield return held.Call;
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        ThrowIfDisposed();
        await using var connection = OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT rk, {ReceiptColumns} FROM receipts{KeyWindowClause(command, window)} ORDER BY rk;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ties = new TieOrder<SavingsReceipt>();
        while (await reader.ReadAsync(cancellationToken))
        {
            foreach (var released in ties.Add(CallKeys.MillisecondOf(reader.GetInt64(0)), reader.GetInt64(ReceiptSeqOrdinal + 1), ReadReceipt(reader, 1)))
            {
                yield return released;
            }
        }

        foreach (var released in ties.Flush())
        {
            yield return released;
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        ThrowIfDisposed();
        await using var connection = OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = ReceiptsWithCallsSelect + KeyWindowClause(command, window).Replace("rk", "r.rk", StringComparison.Ordinal) + " ORDER BY r.rk;";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var pending = new PendingCalls(connection);
        var ties = new TieOrder<ReceiptWithCall>();
        while (await reader.ReadAsync(cancellationToken))
        {
            foreach (var released in ties.Add(CallKeys.MillisecondOf(reader.GetInt64(17)), reader.GetInt64(18), ReadReceiptWithCall(reader, pending)))
            {
                yield return released;
            }
        }

        foreach (var released in ties.Flush())
        {
            yield return released;
        }
    }

    private static ReceiptWithCall ReadReceiptWithCall(SqliteDataReader reader, PendingCalls pending)
    {
        var receipt = ReadReceipt(reader);
        if (reader.IsDBNull(11) && receipt.CallId is { Length: > 0 } callId)
        {
            // Stored before its call (pending): look the call up by id now.
            return new ReceiptWithCall(receipt, pending.Basis(callId));
        }

        return new ReceiptWithCall(receipt, ReadBasis(reader, 11));
    }

    /// <summary>
    /// The basis of a call from columns <paramref name="o"/>… (provider, model, route, task, prompt-side tokens, ts_ms),
    /// or <see langword="null"/> when the provider is NULL (no such call). Shared with the PostgreSQL ledger.
    /// </summary>
    internal static CallBasis? ReadBasis(DbDataReader reader, int o) => reader.IsDBNull(o)
        ? null
        : new CallBasis(
            reader.GetString(o),
            reader.GetString(o + 1),
            OptionalString(reader, o + 2),
            OptionalString(reader, o + 3),
            reader.GetInt64(o + 4),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(o + 5)));

    /// <summary>
    /// One row of <c>receipt_totals</c> (day, tool, unit, method, basis, provider, model, prompt_k, route, task, receipts,
    /// the three decimal sums as invariant text, added_ms, eliminated, min_confidence) as a group. Shared with the
    /// PostgreSQL ledger, whose query returns the same columns.
    /// </summary>
    internal static ReceiptTotal ReadReceiptTotal(DbDataReader reader)
    {
        var callBasis = reader.GetInt32(4) == 0;
        var route = reader.GetString(8);
        var task = reader.GetString(9);
        return new ReceiptTotal
        {
            Tool = reader.GetString(1),
            Unit = WireNames.TryParseUnit(reader.GetString(2), out var unit) ? unit : SavingsUnit.Tokens,
            Method = WireNames.TryParseMethod(reader.GetString(3), out var method) ? method : SavingsMethod.Modeled,
            Call = callBasis
                ? new CallBasis(reader.GetString(5), reader.GetString(6), route.Length == 0 ? null : route, null,
                    ReceiptTotals.RepresentativePrompt(reader.GetInt64(7)), DateTimeOffset.UnixEpoch.AddDays(reader.GetInt64(0)))
                : null,
            Task = callBasis || task.Length == 0 ? null : task,
            Receipts = reader.GetInt64(10),
            RawAlternative = ReceiptTotals.Parse(reader.GetString(11)),
            Actual = ReceiptTotals.Parse(reader.GetString(12)),
            ToolCostUsd = ReceiptTotals.Parse(reader.GetString(13)),
            AddedLatencyMs = reader.GetDouble(14),
            EliminatedCalls = reader.GetInt64(15),
            MinConfidence = reader.GetDouble(16),
        };
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Whole UTC months come from <c>receipt_totals_month</c> (one row per month and group), the other whole UTC days from
    /// <c>receipt_totals</c> (one row per day and group); the partial days at the window's edges
    /// and the receipts whose call was unknown when they were stored (pending) are read one by one, joined to their call.
    /// </remarks>
    public async IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        ThrowIfDisposed();
        var since = window.Since?.ToUnixTimeMilliseconds();
        var until = window.Until?.ToUnixTimeMilliseconds();
        var (firstWholeDay, endWholeDay) = WholeDays(since, until);
        await using var connection = OpenReader();

        if (firstWholeDay is { } f0 && endWholeDay is { } e0 && f0 >= e0)
        {
            // No whole day inside: every receipt of the window, one by one.
            await foreach (var item in ReceiptsJoinedAsync(connection, KeyRange, since, until, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }

            yield break;
        }

        // The whole months inside the whole days from receipt_totals_month, the days around them from receipt_totals.
        var firstMonth = firstWholeDay is { } fm ? (ReceiptTotals.MonthOf(fm) == fm ? fm : ReceiptTotals.NextMonth(fm)) : (long?)null;
        var endMonth = endWholeDay is { } em ? ReceiptTotals.MonthOf(em) : (long?)null;
        if (firstMonth is { } a && endMonth is { } b && a >= b)
        {
            await foreach (var item in ReceiptTotalRowsAsync(connection, "receipt_totals", firstWholeDay, endWholeDay, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        else
        {
            await foreach (var item in ReceiptTotalRowsAsync(connection, "receipt_totals_month", firstMonth, endMonth, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }

            if (firstWholeDay is { } dayBefore && firstMonth is { } monthFrom && dayBefore < monthFrom)
            {
                await foreach (var item in ReceiptTotalRowsAsync(connection, "receipt_totals", dayBefore, monthFrom, cancellationToken).ConfigureAwait(false))
                {
                    yield return item;
                }
            }

            if (endWholeDay is { } dayAfter && endMonth is { } monthTo && monthTo < dayAfter)
            {
                await foreach (var item in ReceiptTotalRowsAsync(connection, "receipt_totals", monthTo, dayAfter, cancellationToken).ConfigureAwait(false))
                {
                    yield return item;
                }
            }
        }

        // Pending receipts inside the whole days (their call was unknown when they were stored).
        var wholeFrom = firstWholeDay * CallTotals.MillisecondsPerDay;
        var wholeTo = endWholeDay * CallTotals.MillisecondsPerDay;
        var pending = "r.pending = 1" + (wholeFrom is null ? "" : " AND r.rk >= $a * 1048576") + (wholeTo is null ? "" : " AND r.rk < $b * 1048576");
        await foreach (var item in ReceiptsJoinedAsync(connection, pending, wholeFrom, wholeTo, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }

        // The partial days at the edges.
        if (since is { } from && wholeFrom is { } wf && from < wf)
        {
            await foreach (var item in ReceiptsJoinedAsync(connection, KeyRange, from, wf, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }

        if (until is { } to && wholeTo is { } wt && wt < to)
        {
            await foreach (var item in ReceiptsJoinedAsync(connection, KeyRange, wt, to, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
    }

    /// <summary>The rows of <c>receipt_totals</c> or <c>receipt_totals_month</c> whose day is in [<paramref name="from"/>, <paramref name="to"/>) (null: unbounded).</summary>
    private static async IAsyncEnumerable<ReceiptTotal> ReceiptTotalRowsAsync(SqliteConnection connection, string table, long? from, long? to, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        var where = (from is null ? "" : " AND day >= $since") + (to is null ? "" : " AND day < $until");
        command.CommandText =
            "SELECT day, tool, unit, method, basis, provider, model, prompt_k, route, task, receipts, raw_alternative, actual, tool_cost, "
            + "added_ms, eliminated, min_confidence FROM " + table + " WHERE 1 = 1" + where + ";";
        if (from is { } f) command.Parameters.AddWithValue("$since", f);
        if (to is { } t) command.Parameters.AddWithValue("$until", t);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return ReadReceiptTotal(reader);
        }
    }

    // Receipts whose millisecond is in [$a, $b): a range of their key.
    private const string KeyRange = "r.rk >= $a * 1048576 AND r.rk < $b * 1048576";

    private static async IAsyncEnumerable<ReceiptTotal> ReceiptsJoinedAsync(SqliteConnection connection, string where, long? a, long? b, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = ReceiptsWithCallsSelect + " WHERE " + where + ";";
        if (a is { } from) command.Parameters.AddWithValue("$a", from);
        if (b is { } to) command.Parameters.AddWithValue("$b", to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var pending = new PendingCalls(connection);
        while (await reader.ReadAsync(cancellationToken))
        {
            var item = ReadReceiptWithCall(reader, pending);
            yield return ReceiptTotal.Of(item.Receipt, item.Call);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT task, outcome, ts_ms FROM outcomes ORDER BY task;";
        using var reader = command.ExecuteReader();
        var outcomes = new List<TaskOutcomeRecord>();
        while (reader.Read())
        {
            // A label this version does not know is skipped rather than guessed.
            if (WireNames.TryParseOutcome(reader.GetString(1), out var outcome))
            {
                outcomes.Add(new TaskOutcomeRecord(reader.GetString(0), outcome, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2))));
            }
        }

        return ValueTask.FromResult<IReadOnlyList<TaskOutcomeRecord>>(outcomes);
    }

    /// <inheritdoc/>
    public ValueTask RecordOutcomeAsync(TaskOutcomeRecord outcome, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentException.ThrowIfNullOrWhiteSpace(outcome.Task, nameof(outcome));
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        // A rare, tiny write: an ordinary connection (SQLite serializes it with the batch writer through its lock).
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            INSERT INTO outcomes (task, outcome, ts_ms) VALUES ($task, $outcome, $ts)
            ON CONFLICT (task) DO UPDATE SET outcome = excluded.outcome, ts_ms = excluded.ts_ms;
            """;
        command.Parameters.AddWithValue("$task", outcome.Task);
        command.Parameters.AddWithValue("$outcome", outcome.Outcome.ToWire());
        command.Parameters.AddWithValue("$ts", outcome.Timestamp.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the file. Appends that already returned are committed; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _writer?.Dispose();
        using var connection = new SqliteConnection(_readConnectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>Closes the file; see <see cref="Dispose"/>.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private SqliteWriter Writer => _writer ?? throw new InvalidOperationException($"The Cage ledger '{Path}' was opened read-only.");

    /// <summary>A read connection from the pool (WAL lets it read while a batch is being written). Internal for tests: query plans, integrity checks.</summary>
    internal SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        return connection;
    }

    private static void AddGroups(SqliteConnection connection, ReportDimension dimension, string sql, long? since, long? until, Dictionary<string, SpendTotals> groups)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (since is { } from)
        {
            command.Parameters.AddWithValue("$since", from);
        }

        if (until is { } to)
        {
            command.Parameters.AddWithValue("$until", to);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            AddGroup(reader, dimension, groups);
        }
    }

    /// <summary>
    /// Reads one report row (key, count, the token sums, cost in 1e-10 USD, unpriced, missing, local) into
    /// <paramref name="groups"/>: the same group from whole days and edge days, or a literal "(none)" value and missing
    /// values, is one group. Shared with the PostgreSQL ledger, whose report queries return the same columns.
    /// </summary>
    internal static void AddGroup(DbDataReader reader, ReportDimension dimension, Dictionary<string, SpendTotals> groups)
    {
        string name;
        if (reader.IsDBNull(0))
        {
            name = SpendReport.NoneKey;
        }
        else if (dimension == CallTotals.RouteTask)
        {
            var pair = reader.GetString(0);
            var at = pair.IndexOf(SpendReport.PairSeparator, StringComparison.Ordinal);
            var (route, task) = at < 0 ? (pair, "") : (pair[..at], pair[(at + 1)..]);
            name = (route.Length == 0 ? SpendReport.NoneKey : route) + SpendReport.PairSeparator + (task.Length == 0 ? SpendReport.NoneKey : task);
        }
        else if (dimension == ReportDimension.Day)
        {
            name = DateTimeOffset.UnixEpoch.AddDays(reader.GetInt64(0)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }
        else
        {
            name = reader.GetString(0);
            if (name.Length == 0)
            {
                name = SpendReport.NoneKey;
            }
        }

        var totals = new SpendTotals
        {
            Calls = reader.GetInt64(1),
            Input = reader.GetInt64(2),
            CacheRead = reader.GetInt64(3),
            CacheWrite5m = reader.GetInt64(4),
            CacheWrite1h = reader.GetInt64(5),
            Output = reader.GetInt64(6),
            Reasoning = reader.IsDBNull(7) ? 0 : reader.GetInt64(7),
            CostUsd = reader.IsDBNull(8) ? 0m : LedgerMoney.FromE10(reader.GetInt64(8)),
            UnpricedCalls = reader.GetInt64(9),
            MissingUsageCalls = reader.GetInt64(10),
            LocalCalls = reader.GetInt64(11),
        };

        groups[name] = groups.TryGetValue(name, out var existing) ? SpendTotals.Sum(existing, totals) : totals;
    }

    /// <summary>The report of the groups summed for a query: most expensive first, then by key, with the grand total.</summary>
    internal static SpendReport Finish(ReportQuery query, Dictionary<string, SpendTotals> groups) =>
        PairReports.Build(query, groups.Select(pair => new SpendGroup(pair.Key, pair.Value)));

    /// <summary>
    /// The whole UTC days inside a window: the first (null when unbounded) and the end (exclusive, null when unbounded).
    /// Views read whole days from the maintained per-day totals and only the partial days at the edges row by row.
    /// </summary>
    internal static (long? First, long? End) WholeDays(long? since, long? until) =>
        (since is { } s ? CallTotals.DayOf(s) + (CallTotals.DayOf(s) * CallTotals.MillisecondsPerDay == s ? 0 : 1) : null,
         until is { } u ? CallTotals.DayOf(u) : null);

    // A time window over calls as a range of their key: the key starts with the millisecond, so the range is exact.
    private static string KeyWindowClause(long? since, long? until) => (since, until) switch
    {
        (not null, not null) => " WHERE rk >= $since * 1048576 AND rk < $until * 1048576",
        (not null, null) => " WHERE rk >= $since * 1048576",
        (null, not null) => " WHERE rk < $until * 1048576",
        _ => "",
    };

    private static string KeyWindowClause(SqliteCommand command, TimeWindow window)
    {
        var since = window.Since?.ToUnixTimeMilliseconds();
        var until = window.Until?.ToUnixTimeMilliseconds();
        if (since is { } from)
        {
            command.Parameters.AddWithValue("$since", from);
        }

        if (until is { } to)
        {
            command.Parameters.AddWithValue("$until", to);
        }

        return KeyWindowClause(since, until);
    }

    private static CallRecord ReadCall(SqliteDataReader reader) => ReadCall(reader, 0);

    internal static CallRecord ReadCall(DbDataReader reader, int o) => new()
    {
        Id = reader.GetString(o + 0),
        Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(o + 1)),
        Session = OptionalString(reader, o + 2),
        Task = OptionalString(reader, o + 3),
        Agent = OptionalString(reader, o + 4),
        Route = OptionalString(reader, o + 5),
        Category = OptionalString(reader, o + 6),
        User = OptionalString(reader, o + 7),
        Provider = reader.GetString(o + 8),
        Model = reader.GetString(o + 9),
        Usage = new TokenUsage(
            reader.GetInt64(o + 10),
            reader.GetInt64(o + 11),
            reader.GetInt64(o + 12),
            reader.GetInt64(o + 13),
            reader.GetInt64(o + 14),
            reader.IsDBNull(o + 15) ? null : reader.GetInt64(o + 15)),
        CostUsd = reader.IsDBNull(o + 16) ? null : LedgerMoney.FromE10(reader.GetInt64(o + 16)),
        CostSource = reader.GetInt32(o + 17) is var source && Enum.IsDefined((CostSource)source) ? (CostSource)source : CostSource.Unpriced,
        PriceKey = OptionalString(reader, o + 18) is { } key && key.Length == 0 ? reader.GetString(o + 8) + "/" + reader.GetString(o + 9) : OptionalString(reader, o + 18),
        UsageStatus = reader.GetInt32(o + 19) is var status && Enum.IsDefined((UsageStatus)status) ? (UsageStatus)status : UsageStatus.Reported,
        LatencyMs = reader.GetInt64(o + 20),
        Ok = reader.GetInt64(o + 21) != 0,
        Retries = reader.GetInt32(o + 22),
        Attempt = reader.GetInt32(o + 23),
        RequestId = OptionalString(reader, o + 24),
        Error = OptionalString(reader, o + 25),
        Tags = LedgerJson.ReadMap(OptionalString(reader, o + 26)),
    };

    private static SavingsReceipt ReadReceipt(SqliteDataReader reader) => ReadReceipt(reader, 0);

    internal static SavingsReceipt ReadReceipt(DbDataReader reader, int o) => SavingsReceipt.Create(
        id: reader.GetString(o),
        timestamp: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(o + 1)),
        tool: reader.GetString(o + 4),
        rawAlternative: decimal.Parse(reader.GetString(o + 6), NumberStyles.Float, CultureInfo.InvariantCulture),
        actual: decimal.Parse(reader.GetString(o + 7), NumberStyles.Float, CultureInfo.InvariantCulture),
        callId: OptionalString(reader, o + 2),
        task: OptionalString(reader, o + 3),
        unit: WireNames.TryParseUnit(reader.GetString(o + 5), out var unit) ? unit : SavingsUnit.Tokens,
        method: WireNames.TryParseMethod(reader.GetString(o + 8), out var method) ? method : SavingsMethod.Modeled,
        confidence: reader.GetDouble(o + 9),
        meta: LedgerJson.ReadMap(OptionalString(reader, o + 10)));

    internal static string? OptionalString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static string? Pragma(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
