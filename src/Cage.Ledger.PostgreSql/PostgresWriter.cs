using NpgsqlTypes;
using Npgsql;

namespace CageNet.Ledger;

/// <summary>
/// The PostgreSQL ledger's write path: one connection, one transaction per batch. The calls of a batch go straight into
/// <c>calls</c> by binary <c>COPY</c> (one round trip for any number of rows, the server's multi-row insert path), and
/// their per-day sums, added up in the client, go to <c>call_totals</c> in one upsert (<c>ON CONFLICT DO UPDATE</c>, in
/// key order so concurrent writers lock total rows in the same order). When the <c>COPY</c> meets a call already stored
/// (a retried batch, or two instances sending the same call), the transaction is rolled back and the batch goes the
/// idempotent way: binary <c>COPY</c> into a temporary staging table, then one statement that moves the rows with
/// <c>INSERT … ON CONFLICT DO NOTHING</c> (by id and by call request id) and adds the rows actually inserted to the totals.
/// Receipts always go that way (<c>receipt_totals</c> depend on their calls). The batch is acknowledged when the
/// transaction has committed. A connection that failed is dropped and a new one opened on the next batch, so writes
/// resume when the server comes back.
/// </summary>
internal sealed class PostgresWriter : IAsyncDisposable
{
    private const string StageSql =
        """
        CREATE TEMP TABLE IF NOT EXISTS cage_stage_calls (
            ord integer, id text, ts_ms bigint, day integer, session text, task text, agent text, route text, category text,
            "user" text, provider text, model text, input bigint, cache_read bigint, cache_write_5m bigint, cache_write_1h bigint,
            output bigint, reasoning bigint, cost_e10 bigint, cost_source smallint, price_key text, usage_status smallint,
            latency_ms bigint, ok smallint, retries integer, attempt integer, request_id text, error text, tags text
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS cage_stage_receipts (
            ord integer, id text, ts_ms bigint, day integer, call_id text, task text, tool text, unit text,
            raw_alternative text, actual text, method text, confidence double precision, meta text,
            raw_n numeric, actual_n numeric, tool_cost numeric, added_ms double precision, eliminated integer, prompt_k bigint
        ) ON COMMIT DELETE ROWS;
        """;

    private const string CallNames =
        """
        id, ts_ms, day, session, task, agent, route, category, "user", provider, model, input, cache_read, cache_write_5m,
        cache_write_1h, output, reasoning, cost_e10, cost_source, price_key, usage_status, latency_ms, ok, retries, attempt,
        request_id, error, tags
        """;

    private const string CopyCallsSql = "COPY cage_stage_calls (ord, " + CallNames + ") FROM STDIN (FORMAT BINARY);";

    private const string CopyCallsDirectSql = "COPY calls (" + CallNames + ") FROM STDIN (FORMAT BINARY);";

    // The client's per-day sums of the calls the COPY stored, one row per dimension, key and day.
    private const string AddTotalsSql =
        """
        INSERT INTO call_totals AS t (dim, key, day, calls, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
                                      cost_e10, unpriced, missing, local)
        SELECT * FROM unnest($1::smallint[], $2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                             $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
            AS u (dim, key, day, calls, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_e10, unpriced, missing, local)
        ORDER BY u.dim, u.key, u.day
        ON CONFLICT (dim, key, day) DO UPDATE SET
            calls = t.calls + excluded.calls, input = t.input + excluded.input, cache_read = t.cache_read + excluded.cache_read,
            cache_write_5m = t.cache_write_5m + excluded.cache_write_5m, cache_write_1h = t.cache_write_1h + excluded.cache_write_1h,
            output = t.output + excluded.output, reasoning = t.reasoning + excluded.reasoning, cost_e10 = t.cost_e10 + excluded.cost_e10,
            unpriced = t.unpriced + excluded.unpriced, missing = t.missing + excluded.missing, local = t.local + excluded.local;
        """;

    private const string CopyReceiptsSql =
        """
        COPY cage_stage_receipts (ord, id, ts_ms, day, call_id, task, tool, unit, raw_alternative, actual, method, confidence,
                                  meta, raw_n, actual_n, tool_cost, added_ms, eliminated, prompt_k) FROM STDIN (FORMAT BINARY);
        """;

    // The calls, then their per-day sums for every report dimension (ReportDimension's numbers; the day dimension's key is '').
    private const string MoveCallsSql =
        "WITH ins AS (INSERT INTO calls (" + CallNames + ") SELECT " + CallNames +
        """
         FROM cage_stage_calls ORDER BY ord
            ON CONFLICT DO NOTHING
            RETURNING day, route, model, provider, agent, task, session, category, "user", input, cache_read, cache_write_5m,
                      cache_write_1h, output, reasoning, cost_e10, cost_source, usage_status
        ), sums AS (
            INSERT INTO call_totals AS t (dim, key, day, calls, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
                                          cost_e10, unpriced, missing, local)
            SELECT d.dim, d.key, i.day, count(*), sum(i.input), sum(i.cache_read), sum(i.cache_write_5m), sum(i.cache_write_1h),
                   sum(i.output), coalesce(sum(i.reasoning), 0), coalesce(sum(i.cost_e10), 0),
                   count(*) FILTER (WHERE i.cost_source = 3), count(*) FILTER (WHERE i.usage_status = 1),
                   count(*) FILTER (WHERE i.cost_source = 2)
            FROM ins i CROSS JOIN LATERAL (VALUES
                (0::smallint, coalesce(i.route, '')), (1::smallint, i.model), (2::smallint, i.provider), (3::smallint, ''),
                (4::smallint, coalesce(i.agent, '')), (5::smallint, coalesce(i.task, '')), (6::smallint, coalesce(i.session, '')),
                (7::smallint, coalesce(i.category, '')), (8::smallint, coalesce(i."user", ''))) AS d (dim, key)
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (dim, key, day) DO UPDATE SET
                calls = t.calls + excluded.calls, input = t.input + excluded.input, cache_read = t.cache_read + excluded.cache_read,
                cache_write_5m = t.cache_write_5m + excluded.cache_write_5m, cache_write_1h = t.cache_write_1h + excluded.cache_write_1h,
                output = t.output + excluded.output, reasoning = t.reasoning + excluded.reasoning, cost_e10 = t.cost_e10 + excluded.cost_e10,
                unpriced = t.unpriced + excluded.unpriced, missing = t.missing + excluded.missing, local = t.local + excluded.local
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM sums);
        """;

    // The receipts (pending when they name a call the ledger does not have), then the sums of the ones that are not pending
    // per day, tool, unit, method and pricing basis (basis 0: the call's provider, model, route and long-context bucket,
    // which the client chose as the SQLite ledger does, one per price tier of the model; basis 1: call-less, by task).
    private const string MoveReceiptsSql =
        """
        WITH ins AS (
            INSERT INTO receipts (id, ts_ms, call_id, task, tool, unit, raw_alternative, actual, method, confidence, meta, pending)
            SELECT s.id, s.ts_ms, s.call_id, s.task, s.tool, s.unit, s.raw_alternative, s.actual, s.method, s.confidence, s.meta,
                   s.call_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = s.call_id)
            FROM cage_stage_receipts s ORDER BY s.ord
            ON CONFLICT DO NOTHING
            RETURNING id, pending
        ), sums AS (
            INSERT INTO receipt_totals AS t (day, tool, unit, method, basis, provider, model, prompt_k, route, task, receipts,
                                             raw_alternative, actual, tool_cost, added_ms, eliminated, min_confidence)
            SELECT s.day, s.tool, s.unit, s.method, CASE WHEN s.call_id IS NULL THEN 1 ELSE 0 END,
                   coalesce(c.provider, ''), coalesce(c.model, ''),
                   s.prompt_k,
                   coalesce(c.route, ''), CASE WHEN s.call_id IS NULL THEN coalesce(s.task, '') ELSE '' END,
                   count(*), sum(s.raw_n), sum(s.actual_n), sum(s.tool_cost), sum(s.added_ms), sum(s.eliminated), min(s.confidence)
            FROM ins i JOIN cage_stage_receipts s ON s.id = i.id LEFT JOIN calls c ON c.id = s.call_id
            WHERE NOT i.pending
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
            ON CONFLICT (day, tool, unit, method, basis, provider, model, prompt_k, route, task) DO UPDATE SET
                receipts = t.receipts + excluded.receipts, raw_alternative = t.raw_alternative + excluded.raw_alternative,
                actual = t.actual + excluded.actual, tool_cost = t.tool_cost + excluded.tool_cost,
                added_ms = t.added_ms + excluded.added_ms, eliminated = t.eliminated + excluded.eliminated,
                min_confidence = least(t.min_confidence, excluded.min_confidence)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM sums);
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenRequests = new(StringComparer.Ordinal);
    private readonly List<CallRecord> _calls = [];
    private readonly List<SavingsReceipt> _receipts = [];
    private readonly CallTotals _totals = new();
    private readonly Dictionary<string, long> _promptK = new(StringComparer.Ordinal);
    private NpgsqlConnection? _connection;
    private bool _disposed;

    public PostgresWriter(NpgsqlDataSource dataSource) => _dataSource = dataSource;

    /// <summary>Validates the batch, then stores it in one transaction; completes once it has committed.</summary>
    public async ValueTask<AppendResult> AppendAsync(LedgerBatch batch, CancellationToken cancellationToken)
    {
        foreach (var call in batch.Calls)
        {
            SqliteWriter.Validate(call);
        }

        foreach (var receipt in batch.Receipts)
        {
            SqliteWriter.Validate(receipt);
        }

        cancellationToken.ThrowIfCancellationRequested();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Distinct(batch);
            var connection = _connection ??= await OpenAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                (long Calls, long Receipts)? added = null;
                if (_calls.Count > 0)
                {
                    try
                    {
                        added = await StoreAsync(connection, direct: true, cancellationToken).ConfigureAwait(false);
                    }
                    catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
                    {
                        // A call of the batch is stored already (the transaction rolled back): the idempotent way below.
                    }
                }

                added ??= await StoreAsync(connection, direct: false, cancellationToken).ConfigureAwait(false);
                var (callsAdded, receiptsAdded) = added.Value;
                return new AppendResult((int)callsAdded, batch.Calls.Count - (int)callsAdded, (int)receiptsAdded, batch.Receipts.Count - (int)receiptsAdded);
            }
            catch
            {
                // The transaction rolled back (or the connection broke): start the next batch on a fresh connection.
                _connection = null;
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _calls.Clear();
            _receipts.Clear();
            _gate.Release();
        }
    }

    /// <summary>
    /// Stores the batch in one transaction: the calls by <c>COPY</c> straight into <c>calls</c> with the client's totals
    /// (<paramref name="direct"/>; throws a unique violation when one is stored already), or through the staging table
    /// and <c>ON CONFLICT DO NOTHING</c>; the receipts through theirs. Returns the rows added.
    /// </summary>
    private async Task<(long Calls, long Receipts)> StoreAsync(NpgsqlConnection connection, bool direct, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long callsAdded = 0, receiptsAdded = 0;
        if (_calls.Count > 0 && direct)
        {
            await CopyCallsAsync(connection, CopyCallsDirectSql, withOrder: false, cancellationToken).ConfigureAwait(false);
            await AddTotalsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            callsAdded = _calls.Count;
        }
        else if (_calls.Count > 0)
        {
            await CopyCallsAsync(connection, CopyCallsSql, withOrder: true, cancellationToken).ConfigureAwait(false);
            callsAdded = await MoveAsync(connection, transaction, MoveCallsSql, cancellationToken).ConfigureAwait(false);
        }

        if (_receipts.Count > 0)
        {
            await PromptBucketsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await CopyReceiptsAsync(connection, cancellationToken).ConfigureAwait(false);
            receiptsAdded = await MoveAsync(connection, transaction, MoveReceiptsSql, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (callsAdded, receiptsAdded);
    }

    // The long-context bucket of each receipt's call (ReceiptTotals.PromptK: one per price tier of its model), from the calls
    // the ledger has now (this batch's included); a receipt whose call is not there is stored pending and gets none.
    private async Task PromptBucketsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        _promptK.Clear();
        var ids = _receipts.Where(static r => !string.IsNullOrEmpty(r.CallId)).Select(static r => r.CallId!).Distinct(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand(
            "SELECT id, provider, model, input + cache_read + cache_write_5m + cache_write_1h FROM calls WHERE id = ANY($1);", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            _promptK[reader.GetString(0)] = ReceiptTotals.PromptK(reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
        }
    }

    // The per-day sums of the batch's calls for every report dimension (as MoveCallsSql computes them on the server).
    private async Task AddTotalsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        _totals.Clear();
        foreach (var call in _calls)
        {
            _totals.Add(call, call.CostUsd is { } cost ? LedgerMoney.ToE10(cost) : 0);
        }

        var groups = _totals.Groups.Where(static g => g.Key.Dimension != CallTotals.RouteTask).ToList();
        await using var command = new NpgsqlCommand(AddTotalsSql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<short[]> { TypedValue = [.. groups.Select(static g => (short)g.Key.Dimension)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. groups.Select(static g => g.Key.Key)] });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = [.. groups.Select(static g => (int)g.Key.Day)] });
        Column(static s => s.Calls);
        Column(static s => s.Input);
        Column(static s => s.CacheRead);
        Column(static s => s.CacheWrite5m);
        Column(static s => s.CacheWrite1h);
        Column(static s => s.Output);
        Column(static s => s.Reasoning);
        Column(static s => s.CostE10);
        Column(static s => s.Unpriced);
        Column(static s => s.Missing);
        Column(static s => s.Local);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        _totals.Clear();

        void Column(Func<CallTotals.Sums, long> value) =>
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. groups.Select(g => value(g.Value))] });
    }

    /// <summary>The batch without its repeats (same id, or same call request id, as an earlier record of the batch): they are skipped as repeats.</summary>
    private void Distinct(LedgerBatch batch)
    {
        _seen.Clear();
        _seenRequests.Clear();
        foreach (var call in batch.Calls)
        {
            if (_seen.Add(call.Id) && (string.IsNullOrEmpty(call.RequestId) || _seenRequests.Add(call.RequestId)))
            {
                _calls.Add(call);
            }
        }

        _seen.Clear();
        foreach (var receipt in batch.Receipts)
        {
            if (_seen.Add(receipt.Id))
            {
                _receipts.Add(receipt);
            }
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand(StageSql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<long> MoveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetInt64(0);
    }

    private async Task CopyCallsAsync(NpgsqlConnection connection, string sql, bool withOrder, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(sql, cancellationToken).ConfigureAwait(false);
        var ord = 0;
        foreach (var call in _calls)
        {
            // Synchronous writes into COPY's buffer: it flushes to the socket as it fills.
            var ms = call.Timestamp.ToUnixTimeMilliseconds();
            var usage = call.Usage;
            copy.StartRow();
            if (withOrder)
            {
                copy.Write(ord++, NpgsqlDbType.Integer);
            }

            copy.Write(call.Id, NpgsqlDbType.Text);
            copy.Write(ms, NpgsqlDbType.Bigint);
            copy.Write((int)CallTotals.DayOf(ms), NpgsqlDbType.Integer);
            Text(copy, call.Session);
            Text(copy, call.Task);
            Text(copy, call.Agent);
            Text(copy, call.Route);
            Text(copy, call.Category);
            Text(copy, call.User);
            copy.Write(call.Provider ?? "", NpgsqlDbType.Text);
            copy.Write(call.Model ?? "", NpgsqlDbType.Text);
            copy.Write(usage.Input, NpgsqlDbType.Bigint);
            copy.Write(usage.CacheRead, NpgsqlDbType.Bigint);
            copy.Write(usage.CacheWrite5m, NpgsqlDbType.Bigint);
            copy.Write(usage.CacheWrite1h, NpgsqlDbType.Bigint);
            copy.Write(usage.Output, NpgsqlDbType.Bigint);
            Number(copy, usage.Reasoning);
            Number(copy, call.CostUsd is { } cost ? LedgerMoney.ToE10(cost) : null);
            copy.Write((short)call.CostSource, NpgsqlDbType.Smallint);
            Text(copy, SqliteWriter.StoredPriceKey(call), keepEmpty: true);
            copy.Write((short)call.UsageStatus, NpgsqlDbType.Smallint);
            copy.Write(call.LatencyMs, NpgsqlDbType.Bigint);
            copy.Write((short)(call.Ok ? 1 : 0), NpgsqlDbType.Smallint);
            copy.Write(call.Retries, NpgsqlDbType.Integer);
            copy.Write(call.Attempt, NpgsqlDbType.Integer);
            Text(copy, call.RequestId);
            Text(copy, call.Error is null ? null : ErrorText.Scrub(call.Error));
            Text(copy, call.Tags is null || call.Tags.Count == 0 ? null : LedgerJson.WriteMap(ErrorText.ScrubLabels(call.Tags)));
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CopyReceiptsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(CopyReceiptsSql, cancellationToken).ConfigureAwait(false);
        var ord = 0;
        foreach (var receipt in _receipts)
        {
            var ms = receipt.Timestamp.ToUnixTimeMilliseconds();
            copy.StartRow();
            copy.Write(ord++, NpgsqlDbType.Integer);
            copy.Write(receipt.Id, NpgsqlDbType.Text);
            copy.Write(ms, NpgsqlDbType.Bigint);
            copy.Write((int)CallTotals.DayOf(ms), NpgsqlDbType.Integer);
            Text(copy, receipt.CallId);
            Text(copy, receipt.Task);
            copy.Write(receipt.Tool, NpgsqlDbType.Text);
            copy.Write(receipt.Unit.ToWire(), NpgsqlDbType.Text);
            copy.Write(ReceiptTotals.Text(receipt.RawAlternative), NpgsqlDbType.Text);
            copy.Write(ReceiptTotals.Text(receipt.Actual), NpgsqlDbType.Text);
            copy.Write(receipt.Method.ToWire(), NpgsqlDbType.Text);
            copy.Write(receipt.Confidence, NpgsqlDbType.Double);
            Text(copy, receipt.Meta.Count == 0 ? null : LedgerJson.WriteMap(ErrorText.RedactSecrets(receipt.Meta)));
            copy.Write(receipt.RawAlternative, NpgsqlDbType.Numeric);
            copy.Write(receipt.Actual, NpgsqlDbType.Numeric);
            copy.Write(receipt.ToolCostUsd ?? 0m, NpgsqlDbType.Numeric);
            copy.Write(receipt.AddedLatencyMs ?? 0, NpgsqlDbType.Double);
            copy.Write(ReceiptTotal.IsEliminatedCall(receipt) ? 1 : 0, NpgsqlDbType.Integer);
            copy.Write(receipt.CallId is { Length: > 0 } callId && _promptK.TryGetValue(callId, out var k) ? k : 0L, NpgsqlDbType.Bigint);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A text column; unless <paramref name="keepEmpty"/>, an empty string is stored as NULL (it means "none"), as in the SQLite ledger.</summary>
    private static void Text(NpgsqlBinaryImporter copy, string? value, bool keepEmpty = false)
    {
        if (value is null || (!keepEmpty && value.Length == 0))
        {
            copy.WriteNull();
        }
        else
        {
            copy.Write(value, NpgsqlDbType.Text);
        }
    }

    private static void Number(NpgsqlBinaryImporter copy, long? value)
    {
        if (value is { } v)
        {
            copy.Write(v, NpgsqlDbType.Bigint);
        }
        else
        {
            copy.WriteNull();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_connection is { } connection)
            {
                _connection = null;
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
