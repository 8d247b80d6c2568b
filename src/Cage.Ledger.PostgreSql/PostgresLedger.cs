using System.Data.Common;
using System.Runtime.CompilerServices;
using Npgsql;

namespace CageNet.Ledger;

/// <summary>
/// The ledger on PostgreSQL, for fleets: many processes on many machines write and read one ledger. The same contract as
/// <see cref="SqliteLedger"/>: appends are idempotent by record id and by call request id (<c>ON CONFLICT DO NOTHING</c>),
/// a batch is acknowledged once its transaction has committed, and reports read maintained per-day totals rather than
/// every call. Batches go to the server by binary <c>COPY</c>, one transaction each. Thread-safe.
/// </summary>
/// <remarks>
/// <see cref="OpenAsync"/> applies the schema migrations under an advisory lock, so instances starting together migrate
/// once. Costs are stored as integers of 1e-10 USD, like the SQLite ledger; the password in the connection string is never
/// part of an error message.
/// </remarks>
public sealed class PostgresLedger : ILedgerStore, IDisposable, IAsyncDisposable
{
    // The same columns, in the same order, as the SQLite ledger's, so rows map through the same code.
    private const string CallColumns =
        """
        id, ts_ms, session, task, agent, route, category, "user", provider, model, input, cache_read,
        cache_write_5m, cache_write_1h, output, reasoning, cost_e10, cost_source, price_key, usage_status,
        latency_ms, ok, retries, attempt, request_id, error, tags
        """;

    private const string ReceiptColumns = "r.id, r.ts_ms, r.call_id, r.task, r.tool, r.unit, r.raw_alternative, r.actual, r.method, r.confidence, r.meta";

    private const string ReceiptsWithCallsSelect =
        "SELECT " + ReceiptColumns +
        """
        , c.provider, c.model, c.route, c.task, c.input + c.cache_read + c.cache_write_5m + c.cache_write_1h, c.ts_ms
        FROM receipts r LEFT JOIN calls c ON c.id = r.call_id
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _quick;
    private readonly NpgsqlDataSource _leases;
    private readonly PostgresWriter _writer;
    private int _disposed;

    private PostgresLedger(NpgsqlDataSource dataSource, NpgsqlConnectionStringBuilder builder, string where, int schemaVersion)
    {
        _dataSource = dataSource;
        _quick = QuickSource(builder, asynchronousCommit: false);
        _leases = QuickSource(builder, asynchronousCommit: true);
        Where = where;
        SchemaVersion = schemaVersion;
        _writer = new PostgresWriter(dataSource);
    }

    /// <summary>Where the ledger is, for messages: host, port, database and user, never the password.</summary>
    public string Where { get; }

    /// <summary>The schema version of the database (after the migrations <see cref="OpenAsync"/> applied).</summary>
    public int SchemaVersion { get; }

    /// <summary>
    /// Connects to the database and brings its schema up to date under an advisory lock (creating the tables on first use).
    /// </summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=…;Database=…;Username=…</c>) or a
    /// <c>postgres://user@host:port/database</c> URL. Without a password in it, the password is the first line of the file
    /// named by <c>CAGE_POSTGRES_PASSWORD_FILE</c>, else what Npgsql reads (<c>PGPASSWORD</c>, the passfile).</param>
    /// <param name="cancellationToken">Cancels the connection and migration.</param>
    /// <returns>The open ledger; dispose it to close its connections.</returns>
    /// <exception cref="ArgumentException">The connection string is empty or malformed (the message names the bad part, never the password).</exception>
    /// <exception cref="IOException">The server cannot be reached or refused the login (the message names the server, never the password).</exception>
    /// <exception cref="InvalidOperationException">The database has a newer Cage schema, or tables of its own named like Cage's.</exception>
    public static async Task<PostgresLedger> OpenAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var builder = PostgresConnection.Parse(connectionString);
        var where = PostgresConnection.Describe(builder);
        var dataSource = NpgsqlDataSource.Create(builder);
        try
        {
            int version;
            await using (var connection = await OpenConnectionAsync(dataSource, where, cancellationToken).ConfigureAwait(false))
            {
                version = await PostgresSchema.MigrateAsync(connection, where, cancellationToken).ConfigureAwait(false);
            }

            return new PostgresLedger(dataSource, builder, where, version);
        }
        catch (PostgresException ex)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"Cannot open the Cage ledger {where}: {ex.MessageText} ({ex.SqlState})", ex);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // The pools for the budget statements: no session reset when a connection goes back to the pool (a reset discards the
    // server's cached plans, which cost more than the statements themselves), and the statements prepared on their
    // second use. Their connections never keep session state: no temporary tables, no SET. The reservations' pool commits
    // without waiting for the WAL flush (leases: see docs/postgres.md on what a server crash can lose).
    private static NpgsqlDataSource QuickSource(NpgsqlConnectionStringBuilder builder, bool asynchronousCommit)
    {
        var quick = new NpgsqlConnectionStringBuilder(builder.ConnectionString)
        {
            NoResetOnClose = true,
            MaxAutoPrepare = Math.Max(builder.MaxAutoPrepare, 16),
            AutoPrepareMinUsages = 2,
        };
        if (asynchronousCommit)
        {
            quick.Options = (quick.Options is { Length: > 0 } options ? options + " " : "") + "-c synchronous_commit=off";
        }

        return NpgsqlDataSource.Create(quick);
    }

    private static async Task<NpgsqlConnection> OpenConnectionAsync(NpgsqlDataSource dataSource, string where, CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new IOException($"Cannot connect to the Cage ledger {where}: {PostgresConnection.Reason(ex)}", ex);
        }
    }

    /// <inheritdoc/>
    public ValueTask<AppendResult> AppendAsync(LedgerBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ThrowIfDisposed();
        return batch.Count == 0 ? ValueTask.FromResult(default(AppendResult)) : _writer.AppendAsync(batch, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) =>
        await AppendAsync(batch, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    public async ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!Enum.IsDefined(query.Dimension))
        {
            throw new ArgumentOutOfRangeException(nameof(query), query.Dimension, "unknown report dimension");
        }

        ThrowIfDisposed();

        // Whole UTC days from call_totals; the partial days at the window's edges from the calls, through the time index.
        var since = query.Window.Since?.ToUnixTimeMilliseconds();
        var until = query.Window.Until?.ToUnixTimeMilliseconds();
        var (firstWholeDay, endWholeDay) = SqliteLedger.WholeDays(since, until);
        var groups = new Dictionary<string, SpendTotals>(StringComparer.Ordinal);
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        if (firstWholeDay is { } first && endWholeDay is { } end && first >= end)
        {
            await AddGroupsAsync(connection, query.Dimension, CallsSql(query.Dimension, since, until), since, until, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await AddGroupsAsync(connection, query.Dimension, TotalsSql(query.Dimension, firstWholeDay, endWholeDay), firstWholeDay, endWholeDay, cancellationToken).ConfigureAwait(false);
            if (since is { } from && firstWholeDay * CallTotals.MillisecondsPerDay is { } wholeFrom && from < wholeFrom)
            {
                await AddGroupsAsync(connection, query.Dimension, CallsSql(query.Dimension, from, wholeFrom), from, wholeFrom, cancellationToken).ConfigureAwait(false);
            }

            if (until is { } to && endWholeDay * CallTotals.MillisecondsPerDay is { } wholeTo && wholeTo < to)
            {
                await AddGroupsAsync(connection, query.Dimension, CallsSql(query.Dimension, wholeTo, to), wholeTo, to, cancellationToken).ConfigureAwait(false);
            }
        }

        return SqliteLedger.Finish(query, groups);

        async Task AddGroupsAsync(NpgsqlConnection c, ReportDimension dimension, string sql, long? a, long? b, CancellationToken ct)
        {
            await using var command = Command(c, sql, a, b);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                SqliteLedger.AddGroup(reader, dimension, groups);
            }
        }
    }

    /// <summary>The report over whole days: the per-day totals of one dimension, summed per group.</summary>
    internal static string TotalsSql(ReportDimension dimension, long? firstDay, long? endDay) =>
        $"""
        SELECT {(dimension == ReportDimension.Day ? "day::bigint" : "key")}, sum(calls)::bigint, sum(input)::bigint, sum(cache_read)::bigint,
               sum(cache_write_5m)::bigint, sum(cache_write_1h)::bigint, sum(output)::bigint, sum(reasoning)::bigint,
               sum(cost_e10)::bigint, sum(unpriced)::bigint, sum(missing)::bigint, sum(local)::bigint
        FROM call_totals WHERE dim = {(int)dimension}{(firstDay is null ? "" : " AND day >= $1")}{(endDay is null ? "" : " AND day < $2")}
        GROUP BY 1;
        """;

    /// <summary>The report over the calls of a time range (partial days): one GROUP BY, summing buckets and cost and counting flags.</summary>
    internal static string CallsSql(ReportDimension dimension, long? since, long? until)
    {
        var key = SqliteLedger.ColumnOf(dimension, "day::bigint");

        return $"""
            SELECT {key}, count(*), sum(input)::bigint, sum(cache_read)::bigint, sum(cache_write_5m)::bigint, sum(cache_write_1h)::bigint,
                   sum(output)::bigint, sum(reasoning)::bigint, sum(cost_e10)::bigint, count(*) FILTER (WHERE cost_source = 3),
                   count(*) FILTER (WHERE usage_status = 1), count(*) FILTER (WHERE cost_source = 2)
            FROM calls{TimeClause("ts_ms", since, until)}
            GROUP BY 1;
            """;
    }

    // A half-open range on a column, bound to $1 (lower) and $2 (upper).
    private static string TimeClause(string column, long? since, long? until) => (since, until) switch
    {
        (not null, not null) => $" WHERE {column} >= $1 AND {column} < $2",
        (not null, null) => $" WHERE {column} >= $1",
        (null, not null) => $" WHERE {column} < $2",
        _ => "",
    };

    // A command with the two optional range parameters ($1, $2; unused ones are bound but not referenced).
    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, long? a, long? b)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = a ?? 0 });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = b ?? 0 });
        return command;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, string value)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = value });
        return command;
    }

    /// <inheritdoc/>
    public async ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        var calls = await ReadListAsync($"SELECT {CallColumns} FROM calls WHERE id = $1;", callId, ReadCall, cancellationToken).ConfigureAwait(false);
        return calls.Count == 0 ? null : calls[0];
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        return await ReadListAsync($"SELECT {ReceiptColumns} FROM receipts r WHERE r.call_id = $1 ORDER BY r.ts_ms, r.seq;", callId, ReadReceipt, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        return await ReadListAsync($"SELECT {CallColumns} FROM calls WHERE task = $1 ORDER BY ts_ms, seq;", task, ReadCall, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        return await ReadListAsync(
            $"""
            SELECT {ReceiptColumns} FROM receipts r
            WHERE r.task = $1 OR r.call_id IN (SELECT id FROM calls WHERE task = $1)
            ORDER BY r.ts_ms, r.seq;
            """, task, ReadReceipt, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT task FROM calls WHERE task IS NOT NULL ORDER BY ts_ms DESC, seq DESC LIMIT 1;", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (since, until) = Bounds(window);
        return StreamAsync($"SELECT {CallColumns} FROM calls{TimeClause("ts_ms", since, until)} ORDER BY ts_ms, seq;", since, until, ReadCall, cancellationToken);
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (since, until) = Bounds(window);
        return StreamAsync($"SELECT {ReceiptColumns} FROM receipts r{TimeClause("r.ts_ms", since, until)} ORDER BY r.ts_ms, r.seq;", since, until, ReadReceipt, cancellationToken);
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (since, until) = Bounds(window);
        return StreamAsync(ReceiptsWithCallsSelect + TimeClause("r.ts_ms", since, until) + " ORDER BY r.ts_ms, r.seq;", since, until, ReadReceiptWithCall, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Whole UTC days come from <c>receipt_totals</c> (one row per day and group); the partial days at the window's edges
    /// and the receipts whose call was unknown when they were stored (pending) are read one by one, joined to their call.
    /// </remarks>
    public async IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (since, until) = Bounds(window);
        var (firstWholeDay, endWholeDay) = SqliteLedger.WholeDays(since, until);
        if (firstWholeDay is { } f0 && endWholeDay is { } e0 && f0 >= e0)
        {
            await foreach (var item in JoinedAsync(TimeClause("r.ts_ms", since, until), since, until, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }

            yield break;
        }

        var totals = StreamAsync(
            """
            SELECT day::bigint, tool, unit, method, basis::integer, provider, model, prompt_k, route, task, receipts,
                   raw_alternative::text, actual::text, tool_cost::text, added_ms, eliminated, min_confidence
            FROM receipt_totals
            """ + TimeClause("day", firstWholeDay, endWholeDay) + ";",
            firstWholeDay, endWholeDay, SqliteLedger.ReadReceiptTotal, cancellationToken);
        await foreach (var item in totals.ConfigureAwait(false))
        {
            yield return item;
        }

        // Pending receipts inside the whole days (their call was unknown when they were stored).
        var wholeFrom = firstWholeDay * CallTotals.MillisecondsPerDay;
        var wholeTo = endWholeDay * CallTotals.MillisecondsPerDay;
        var pending = " WHERE r.pending" + (wholeFrom is null ? "" : " AND r.ts_ms >= $1") + (wholeTo is null ? "" : " AND r.ts_ms < $2");
        await foreach (var item in JoinedAsync(pending, wholeFrom, wholeTo, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }

        // The partial days at the edges.
        if (since is { } from && wholeFrom is { } wf && from < wf)
        {
            await foreach (var item in JoinedAsync(TimeClause("r.ts_ms", from, wf), from, wf, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }

        if (until is { } to && wholeTo is { } wt && wt < to)
        {
            await foreach (var item in JoinedAsync(TimeClause("r.ts_ms", wt, to), wt, to, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
    }

    // Receipts matching a WHERE clause, each as a group of its own with the basis of its call.
    private IAsyncEnumerable<ReceiptTotal> JoinedAsync(string where, long? a, long? b, CancellationToken cancellationToken) =>
        StreamAsync(ReceiptsWithCallsSelect + where + ";", a, b,
            static reader => ReceiptTotal.Of(SqliteLedger.ReadReceipt(reader, 0), SqliteLedger.ReadBasis(reader, 11)), cancellationToken);

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var outcomes = new List<TaskOutcomeRecord>();
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT task, outcome, ts_ms FROM outcomes ORDER BY task COLLATE \"C\";", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // A label this version does not know is skipped rather than guessed.
            if (WireNames.TryParseOutcome(reader.GetString(1), out var outcome))
            {
                outcomes.Add(new TaskOutcomeRecord(reader.GetString(0), outcome, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2))));
            }
        }

        return outcomes;
    }

    /// <inheritdoc/>
    public async ValueTask RecordOutcomeAsync(TaskOutcomeRecord outcome, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentException.ThrowIfNullOrWhiteSpace(outcome.Task, nameof(outcome));
        ThrowIfDisposed();
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO outcomes (task, outcome, ts_ms) VALUES ($1, $2, $3)
            ON CONFLICT (task) DO UPDATE SET outcome = excluded.outcome, ts_ms = excluded.ts_ms;
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = outcome.Task });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = outcome.Outcome.ToWire() });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = outcome.Timestamp.ToUnixTimeMilliseconds() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A connection from the pool, for queries and small writes. Internal for the budget store and tests.</summary>
    /// <exception cref="IOException">The server cannot be reached (the message names it, never the password).</exception>
    internal async Task<NpgsqlConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return await OpenConnectionAsync(_dataSource, Where, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A connection from the pool for small, repeated statements (prepared, no session reset); see <see cref="QuickSource"/>.</summary>
    /// <param name="asynchronousCommit">Whether its commits may return before the WAL flush (the shared reservations' leases).</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <exception cref="IOException">The server cannot be reached (the message names it, never the password).</exception>
    internal async Task<NpgsqlConnection> OpenQuickAsync(bool asynchronousCommit, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return await OpenConnectionAsync(asynchronousCommit ? _leases : _quick, Where, cancellationToken).ConfigureAwait(false);
    }

    private async Task<List<T>> ReadListAsync<T>(string sql, string value, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, sql, value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private async IAsyncEnumerable<T> StreamAsync<T>(string sql, long? a, long? b, Func<DbDataReader, T> read, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, sql, a, b);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return read(reader);
        }
    }

    private static (long? Since, long? Until) Bounds(TimeWindow window) => (window.Since?.ToUnixTimeMilliseconds(), window.Until?.ToUnixTimeMilliseconds());

    private static CallRecord ReadCall(DbDataReader reader) => SqliteLedger.ReadCall(reader, 0);

    private static SavingsReceipt ReadReceipt(DbDataReader reader) => SqliteLedger.ReadReceipt(reader, 0);

    private static ReceiptWithCall ReadReceiptWithCall(DbDataReader reader) =>
        new(SqliteLedger.ReadReceipt(reader, 0), SqliteLedger.ReadBasis(reader, 11));

    /// <summary>Closes the ledger's connections. Appends that already returned are committed; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Closes the ledger's connections; see <see cref="Dispose"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _writer.DisposeAsync().ConfigureAwait(false);
        await _quick.DisposeAsync().ConfigureAwait(false);
        await _leases.DisposeAsync().ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
