using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace CageNet.Ledger;

/// <summary>
/// The ledger's single write connection: one transaction per batch, through statements prepared once and rebound
/// for every record with SQLite's native API (no per-record command, parameter or reader objects), so durable
/// ingest runs at SQLite's own speed. Both inserts are <c>ON CONFLICT DO NOTHING</c>, which makes appends
/// idempotent by id and by call request id; a record that changed nothing is counted as skipped.
/// </summary>
internal sealed partial class SqliteWriter : IDisposable
{
    private const string InsertCallSql =
        """
        INSERT INTO calls (rk, id, foreign_id, seq, ts_ms, session, task, agent, route, category, "user", provider, model,
                           input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
                           cost_e10, cost_source, price_key, usage_status, latency_ms, ok, retries, attempt,
                           request_id, error, tags)
        VALUES (?28, ?1, ?29, ?30, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                ?21, ?22, ?23, ?24, ?25, ?26, ?27)
        ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
        ON CONFLICT (id) WHERE foreign_id <> 0 DO NOTHING;
        """;

    private const string InsertReceiptSql =
        """
        INSERT INTO receipts (rk, id, foreign_id, seq, ts_ms, call_id, task, tool, unit, raw_alternative, actual, method,
                              confidence, meta, pending, call_rk)
        VALUES (?14, ?1, ?15, ?16, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        ON CONFLICT (id) WHERE foreign_id <> 0 DO NOTHING;
        """;

    // Probing a millisecond's bucket: the id in a slot, with the pricing basis a receipt needs when it is the one sought.
    private const string CallAtSql =
        "SELECT id, provider, model, route, input + cache_read + cache_write_5m + cache_write_1h FROM calls WHERE rk = ?1;";



    // Upgrading a call read before it was complete: the stored row by request id, then its usage and cost replaced.
    private const string StoredByRequestSql =
        """
        SELECT rk, ts_ms, session, task, agent, route, category, "user", provider, model,
               input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_e10, cost_source, usage_status, tags
        FROM calls WHERE request_id = ?1;
        """;

    private const string UpgradeCallSql =
        """
        UPDATE calls SET model = ?2, input = ?3, cache_read = ?4, cache_write_5m = ?5, cache_write_1h = ?6, output = ?7,
                         reasoning = ?8, cost_e10 = ?9, cost_source = ?10, price_key = ?11, usage_status = ?12
        WHERE rk = ?1;
        """;

    private const string InsertPostingSql = "INSERT INTO postings (kind, key, first, rks) VALUES (?1, ?2, ?3, ?4);";

    private const string ReceiptTotalsKey =
        "day = ?1 AND tool = ?2 AND unit = ?3 AND method = ?4 AND basis = ?5 AND provider = ?6 AND model = ?7 AND prompt_k = ?8 AND route = ?9 AND task = ?10";

    // The same statements serve receipt_totals (per day) and receipt_totals_month (per month, day = its first day).
    private static string ReadReceiptTotalsSql(string table) =>
        "SELECT receipts, raw_alternative, actual, tool_cost, added_ms, eliminated, min_confidence FROM " + table + " WHERE " + ReceiptTotalsKey + ";";

    private static string WriteReceiptTotalsSql(string table) =>
        $"""
        INSERT INTO {table} (day, tool, unit, method, basis, provider, model, prompt_k, route, task,
                                    receipts, raw_alternative, actual, tool_cost, added_ms, eliminated, min_confidence)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
        ON CONFLICT (day, tool, unit, method, basis, provider, model, prompt_k, route, task) DO UPDATE SET
            receipts = excluded.receipts, raw_alternative = excluded.raw_alternative, actual = excluded.actual,
            tool_cost = excluded.tool_cost, added_ms = excluded.added_ms, eliminated = excluded.eliminated,
            min_confidence = excluded.min_confidence;
        """;

    // Receipts usually follow their call closely: the writer remembers the pricing basis of the calls it stored last.
    private const int RecentCallCapacity = 65_536;

    private const string UpsertTotalsSql =
        """
        INSERT INTO call_totals (dim, key, day, calls, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
                                 cost_e10, unpriced, missing, local)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
        ON CONFLICT (dim, key, day) DO UPDATE SET
            calls = calls + excluded.calls, input = input + excluded.input, cache_read = cache_read + excluded.cache_read,
            cache_write_5m = cache_write_5m + excluded.cache_write_5m, cache_write_1h = cache_write_1h + excluded.cache_write_1h,
            output = output + excluded.output, reasoning = reasoning + excluded.reasoning, cost_e10 = cost_e10 + excluded.cost_e10,
            unpriced = unpriced + excluded.unpriced, missing = missing + excluded.missing, local = local + excluded.local;
        """;

    // The hourly groups of CallTotals.HourlyDimensions (call_totals_hour, for the dashboard's hourly series).
    private const string UpsertHourTotalsSql =
        """
        INSERT INTO call_totals_hour (dim, hour, key, calls, cost_e10) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (dim, hour, key) DO UPDATE SET calls = calls + excluded.calls, cost_e10 = cost_e10 + excluded.cost_e10;
        """;

    // Whether a route × task pair has a row on any day (probed before the batch's rows go in), and the count of pairs new
    // to the ledger per route and first day (route_task_counts, schema step 13).
    private const string PairStoredSql = "SELECT 1 FROM call_totals WHERE dim = 100 AND key = ?1 LIMIT 1;";

    private const string AddRouteTasksSql =
        """
        INSERT INTO route_task_counts (route, day, tasks) VALUES (?1, ?2, ?3)
        ON CONFLICT (route, day) DO UPDATE SET tasks = tasks + excluded.tasks;
        """;

    private const int CancellationCheckInterval = 4096;

    private readonly Lock _gate = new();
    private readonly sqlite3 _db;
    private readonly string _path;
    private readonly sqlite3_stmt _begin;
    private readonly sqlite3_stmt _commit;
    private readonly sqlite3_stmt _rollback;
    private readonly sqlite3_stmt _insertCall;
    private readonly sqlite3_stmt _insertReceipt;
    private readonly sqlite3_stmt _upsertTotals;
    private readonly sqlite3_stmt _upsertHourTotals;
    private readonly sqlite3_stmt _pairStored;
    private readonly sqlite3_stmt _addRouteTasks;
    private readonly sqlite3_stmt _callAt;
    private readonly KeyedTable _callKeys;
    private readonly sqlite3_stmt _insertPosting;
    private readonly sqlite3_stmt _readReceiptTotals;
    private readonly sqlite3_stmt _writeReceiptTotals;
    private readonly sqlite3_stmt _readReceiptMonths;
    private readonly sqlite3_stmt _writeReceiptMonths;
    private readonly CallTotals _totals = new();

    // Per batch: the route × task pairs it has that the ledger had on no day, with the first day the batch has them on.
    private readonly Dictionary<string, long> _newPairs = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Route, long Day), long> _newPairCounts = [];
    private readonly ReceiptTotals _receiptTotals = new();
    private readonly Dictionary<string, StoredCall> _batchCalls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredCall> _recentCalls = new(StringComparer.Ordinal);

    // Per transaction: the last millisecond holding calls when it began; the calls this transaction put in later
    // milliseconds (their buckets are probed here instead of in the file); whether the file has foreign ids.
    private readonly Dictionary<(int Kind, string Key), List<long>> _postings = [];
    private readonly Stack<List<long>> _spareLists = new();

    // Per posting kind, the list used last: consecutive rows usually belong to the same task (or call), so the common
    // case skips hashing the key. Reset with the lists at the end of every transaction.
    private readonly string?[] _lastPostKey = new string?[PostingList.ReceiptsByTask + 1];
    private readonly List<long>?[] _lastPostList = new List<long>?[PostingList.ReceiptsByTask + 1];
    private readonly KeyedTable _receiptKeys;
    private byte[] _posting = new byte[1024];
    private readonly Queue<string> _recentOrder = new();
    private readonly string?[] _boundCallText = new string?[28];
    private readonly string?[] _boundReceiptText = new string?[14];
    private readonly long?[] _boundCallNumber = new long?[31];
    private readonly bool[] _callNumberBound = new bool[31];
    private byte[] _utf8 = new byte[512];
    private bool _disposed;

    private SqliteWriter(sqlite3 db, string path)
    {
        _db = db;
        _path = path;
        _begin = Prepare("BEGIN IMMEDIATE;");
        _commit = Prepare("COMMIT;");
        _rollback = Prepare("ROLLBACK;");
        _insertCall = Prepare(InsertCallSql);
        _insertReceipt = Prepare(InsertReceiptSql);
        _upsertTotals = Prepare(UpsertTotalsSql);
        _upsertHourTotals = Prepare(UpsertHourTotalsSql);
        _pairStored = Prepare(PairStoredSql);
        _addRouteTasks = Prepare(AddRouteTasksSql);
        _callAt = Prepare(CallAtSql);
        _callKeys = new KeyedTable(db, path, "calls");
        _receiptKeys = new KeyedTable(db, path, "receipts");
        _insertPosting = Prepare(InsertPostingSql);
        _readReceiptTotals = Prepare(ReadReceiptTotalsSql("receipt_totals"));
        _writeReceiptTotals = Prepare(WriteReceiptTotalsSql("receipt_totals"));
        _readReceiptMonths = Prepare(ReadReceiptTotalsSql("receipt_totals_month"));
        _writeReceiptMonths = Prepare(WriteReceiptTotalsSql("receipt_totals_month"));
    }

    /// <summary>
    /// Opens the write handle on an existing, migrated ledger file. The handle is opened without SQLite's
    /// per-call mutex (<c>SQLITE_OPEN_NOMUTEX</c>): only this class uses it, always under its own lock.
    /// </summary>
    public static SqliteWriter Open(string path, SqliteLedgerOptions options)
    {
        var rc = raw.sqlite3_open_v2(path, out var db, raw.SQLITE_OPEN_READWRITE | raw.SQLITE_OPEN_NOMUTEX | raw.SQLITE_OPEN_PRIVATECACHE, null);
        if (rc != raw.SQLITE_OK)
        {
            var message = db is null ? raw.sqlite3_errstr(rc).utf8_to_string() : raw.sqlite3_errmsg(db).utf8_to_string();
            db?.Dispose();
            throw new SqliteException(string.Create(CultureInfo.InvariantCulture, $"SQLite error {rc} opening the ledger '{path}' for writing: {message}"), rc);
        }

        try
        {
            raw.sqlite3_busy_timeout(db, options.BusyTimeoutMilliseconds);
            NativeSqlite.TryEnable(); // now that SQLitePCLRaw's provider is set and its SQLite has allocated
            Exec(db, path, options.SynchronousFull ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;");
            // A larger page cache keeps the index pages that appends touch hot across batches (64 MiB at most).
            Exec(db, path, "PRAGMA cache_size = -65536;");
            Exec(db, path, "PRAGMA temp_store = MEMORY;");
            return new SqliteWriter(db, path);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Validates the batch, then stores it in one transaction. Completes once the transaction has committed. A record
    /// whose id the ledger holds is skipped as a repeat; with <paramref name="renamed"/> (imports of the reference
    /// tool's files) only when the stored record has the same content (<see cref="DistinctIds"/>), and one that differs
    /// is stored under a derived id, listed there.
    /// </summary>
    public AppendResult Append(LedgerBatch batch, CancellationToken cancellationToken, List<RenamedRecord>? renamed = null)
    {
        foreach (var call in batch.Calls)
        {
            Validate(call);
        }

        foreach (var receipt in batch.Receipts)
        {
            Validate(receipt);
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            Step(_begin);
            try
            {
                RefreshRollups();
                _callKeys.Begin();
                if (batch.Receipts.Count > 0)
                {
                    _receiptKeys.Begin();
                }
                int callsAdded = 0, receiptsAdded = 0, done = 0;
                using var contents = renamed is null ? null : new StoredContents(_db, _path);
                foreach (var call in batch.Calls)
                {
                    if (++done % CancellationCheckInterval == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    if (InsertCall(call, batch.Receipts.Count > 0))
                    {
                        callsAdded++;
                    }
                    else if (contents is not null && _callKeys.Find(call.Id) is { } storedRk && contents.CallKey(storedRk) is { } stored
                             && !string.Equals(stored, DistinctIds.ContentKey(call), StringComparison.Ordinal))
                    {
                        // Same id, different call (the reference tool's ids are short enough to collide): kept under a
                        // derived id that is the same on every import, so importing the file again still adds nothing.
                        var derived = call.WithIdentity(DistinctIds.Derive(call.Id, DistinctIds.ContentKey(call)), call.Attempt, call.Retries, call.Tags);
                        if (InsertCall(derived, batch.Receipts.Count > 0))
                        {
                            callsAdded++;
                            renamed!.Add(new RenamedRecord(call.Id, derived.Id, IsReceipt: false));
                        }
                    }
                }

                foreach (var receipt in batch.Receipts)
                {
                    if (++done % CancellationCheckInterval == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    if (InsertReceipt(receipt))
                    {
                        receiptsAdded++;
                    }
                    else if (contents is not null && _receiptKeys.Find(receipt.Id) is { } storedRk && contents.ReceiptKey(storedRk) is { } stored
                             && !string.Equals(stored, DistinctIds.ContentKey(receipt), StringComparison.Ordinal))
                    {
                        var derived = receipt.WithId(DistinctIds.Derive(receipt.Id, DistinctIds.ContentKey(receipt)));
                        if (InsertReceipt(derived))
                        {
                            receiptsAdded++;
                            renamed!.Add(new RenamedRecord(receipt.Id, derived.Id, IsReceipt: true));
                        }
                    }
                }

                WriteTotals();
                WriteRollups();
                WriteReceiptTotals();
                WritePostings();
                Step(_commit);
                RememberBatchCalls();
                return new AppendResult(callsAdded, batch.Calls.Count - callsAdded, receiptsAdded, batch.Receipts.Count - receiptsAdded);
            }
            catch
            {
                RollBack();
                throw;
            }
            finally
            {
                _totals.Clear();
                ClearRollupSums();
                _receiptTotals.Clear();
                _callKeys.End();
                _receiptKeys.End();
                foreach (var list in _postings.Values)
                {
                    list.Clear();
                    _spareLists.Push(list);
                }

                _postings.Clear();
                Array.Clear(_lastPostKey);
                Array.Clear(_lastPostList);
                _batchCalls.Clear(); // remembered above only when the transaction committed
            }
        }
    }

    /// <summary>Inserts a call of the open transaction; false when the ledger already holds its id or request id.</summary>
    private bool InsertCall(CallRecord call, bool receiptsFollow)
    {
        if (!_callKeys.TryPlace(call.Id, call.Timestamp.ToUnixTimeMilliseconds(), out var rk, out var foreign))
        {
            return false; // an id the ledger already holds
        }

        var costE10 = BindCall(call, rk, foreign);
        if (StepInsert(_insertCall) != 1)
        {
            return false;
        }

        Placed(call, rk, foreign);
        _totals.Add(call, costE10);
        RollUp(call, 1);
        if (receiptsFollow)
        {
            _batchCalls[call.Id] = new StoredCall(ReceiptTotals.CallKey.Of(call), rk);
        }

        return true;
    }

    /// <summary>Inserts a receipt of the open transaction; false when the ledger already holds its id.</summary>
    private bool InsertReceipt(SavingsReceipt receipt)
    {
        if (!_receiptKeys.TryPlace(receipt.Id, receipt.Timestamp.ToUnixTimeMilliseconds(), out var rk, out var foreign))
        {
            return false; // an id the ledger already holds
        }

        var stored = ResolveCall(receipt, out var known);
        var basis = stored?.Key;
        BindReceipt(receipt, pending: !known, stored?.Rk);
        NativeSqlite.BindInt64(_insertReceipt, 14, rk);
        NativeSqlite.BindInt64(_insertReceipt, 15, foreign);
        NativeSqlite.BindInt64(_insertReceipt, 16, _receiptKeys.NextSeq(CallKeys.MillisecondOf(rk)));
        if (StepInsert(_insertReceipt) != 1)
        {
            return false;
        }

        _receiptKeys.Placed(receipt.Id, rk, foreign);
        Post(PostingList.ReceiptsByCall, receipt.CallId, rk);
        Post(PostingList.ReceiptsByTask, receipt.Task, rk);
        if (known)
        {
            _receiptTotals.Add(receipt, basis);
        }

        return true;
    }

    /// <summary>
    /// Replaces the usage, model and cost of stored calls that have the same request id as one of
    /// <paramref name="calls"/> and less output (a response read while it was still streaming), in one transaction;
    /// the stored id, time and labels stay, and <c>call_totals</c> moves by the difference. Returns how many changed.
    /// </summary>
    public int Upgrade(IReadOnlyList<CallRecord> calls, CancellationToken cancellationToken)
    {
        foreach (var call in calls)
        {
            Validate(call);
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            cancellationToken.ThrowIfCancellationRequested();
            using var find = Prepare(StoredByRequestSql);
            using var update = Prepare(UpgradeCallSql);
            Step(_begin);
            try
            {
                RefreshRollups();
                var upgraded = 0;
                foreach (var call in calls)
                {
                    if (call.RequestId is not { Length: > 0 } requestId || StoredByRequest(find, requestId, call) is not { } stored
                        || stored.Call.Usage.Output >= call.Usage.Output)
                    {
                        continue;
                    }

                    var usage = call.Usage;
                    long? costE10 = call.CostUsd is { } cost ? LedgerMoney.ToE10(cost) : null;
                    NativeSqlite.BindInt64(update, 1, stored.Rk);
                    BindText(update, 2, call.Model ?? "");
                    NativeSqlite.BindInt64(update, 3, usage.Input);
                    NativeSqlite.BindInt64(update, 4, usage.CacheRead);
                    NativeSqlite.BindInt64(update, 5, usage.CacheWrite5m);
                    NativeSqlite.BindInt64(update, 6, usage.CacheWrite1h);
                    NativeSqlite.BindInt64(update, 7, usage.Output);
                    BindNullable(update, 8, usage.Reasoning);
                    BindNullable(update, 9, costE10);
                    NativeSqlite.BindInt64(update, 10, (int)call.CostSource);
                    if (StoredPriceKey(call) is { } key) BindText(update, 11, key); else NativeSqlite.BindNull(update, 11);
                    NativeSqlite.BindInt64(update, 12, (int)call.UsageStatus);
                    StepInsert(update);
                    _totals.Remove(stored.Call, stored.CostE10);
                    RollUp(stored.Call, -1);
                    var replaced = new CallRecord
                    {
                        Id = stored.Call.Id,
                        Timestamp = stored.Call.Timestamp,
                        Session = stored.Call.Session,
                        Task = stored.Call.Task,
                        Agent = stored.Call.Agent,
                        Route = stored.Call.Route,
                        Category = stored.Call.Category,
                        User = stored.Call.User,
                        Provider = stored.Call.Provider,
                        Model = call.Model ?? "",
                        Usage = usage,
                        CostUsd = call.CostUsd,
                        CostSource = call.CostSource,
                        UsageStatus = call.UsageStatus,
                        Tags = stored.Call.Tags,
                    };
                    _totals.Add(replaced, costE10 ?? 0);
                    RollUp(replaced, 1);
                    upgraded++;
                }

                WriteTotals();
                WriteRollups();
                Step(_commit);
                return upgraded;
            }
            catch
            {
                RollBack();
                throw;
            }
            finally
            {
                _totals.Clear();
                ClearRollupSums();
            }
        }
    }

    /// <summary>The stored call with a request id: what its totals hold (its labels, usage and cost) and its row key.</summary>
    private static (long Rk, CallRecord Call, long CostE10)? StoredByRequest(sqlite3_stmt find, string requestId, CallRecord incoming)
    {
        raw.sqlite3_bind_text(find, 1, requestId);
        try
        {
            var rc = NativeSqlite.Step(find);
            if (rc != raw.SQLITE_ROW)
            {
                return null;
            }

            string? Text(int i) => raw.sqlite3_column_type(find, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_text(find, i).utf8_to_string();
            long Number(int i) => raw.sqlite3_column_int64(find, i);
            var call = new CallRecord
            {
                Id = incoming.Id,
                Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(Number(1)),
                Session = Text(2),
                Task = Text(3),
                Agent = Text(4),
                Route = Text(5) ?? "",
                Category = Text(6),
                User = Text(7),
                Provider = Text(8) ?? "",
                Model = Text(9) ?? "",
                Usage = new TokenUsage(Number(10), Number(11), Number(12), Number(13), Number(14),
                    raw.sqlite3_column_type(find, 15) == raw.SQLITE_NULL ? null : Number(15)),
                CostUsd = raw.sqlite3_column_type(find, 16) == raw.SQLITE_NULL ? null : LedgerMoney.FromE10(Number(16)),
                CostSource = (CostSource)Number(17),
                UsageStatus = (UsageStatus)Number(18),
                Tags = LedgerJson.ReadMap(Text(19)),
            };
            return (Number(0), call, raw.sqlite3_column_type(find, 16) == raw.SQLITE_NULL ? 0 : Number(16));
        }
        finally
        {
            NativeSqlite.Reset(find);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _insertCall.Dispose();
            _insertReceipt.Dispose();
            _upsertTotals.Dispose();
            _upsertHourTotals.Dispose();
            _pairStored.Dispose();
            _addRouteTasks.Dispose();
            _callAt.Dispose();
            _callKeys.Dispose();
            _receiptKeys.Dispose();
            _insertPosting.Dispose();
            _readReceiptTotals.Dispose();
            _writeReceiptTotals.Dispose();
            _readReceiptMonths.Dispose();
            _writeReceiptMonths.Dispose();
            _rollupStampStatement?.Dispose();
            _upsertRollup?.Dispose();
            _begin.Dispose();
            _commit.Dispose();
            _rollback.Dispose();
            _db.Dispose(); // sqlite3_close_v2: the last connection to close checkpoints and removes the WAL
        }
    }

    internal static void Validate(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (string.IsNullOrEmpty(call.Id))
        {
            throw new CageValidationException("id", "a call record needs an id");
        }

        if (!CallKeys.InRange(call.Timestamp.ToUnixTimeMilliseconds()))
        {
            throw new CageValidationException("ts", string.Create(CultureInfo.InvariantCulture,
                $"call {call.Id}: ts {call.Timestamp:O} is outside the ledger's range (years 1691 to 2248)"));
        }

        if (call.Usage.Validation() is { } error)
        {
            throw new CageValidationException(error.Field, $"call {call.Id}: {error.Message}");
        }

        if (call.CostUsd is { } cost && !LedgerMoney.InRange(cost))
        {
            throw new CageValidationException("cost_usd", $"call {call.Id}: cost_usd {cost.ToString(CultureInfo.InvariantCulture)} is outside the ledger's range");
        }

        if (!Enum.IsDefined(call.CostSource) || !Enum.IsDefined(call.UsageStatus))
        {
            throw new CageValidationException(Enum.IsDefined(call.CostSource) ? "usage_status" : "cost_source", $"call {call.Id}: unknown enum value");
        }
    }

    internal static void Validate(SavingsReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        if (string.IsNullOrEmpty(receipt.Id))
        {
            throw new CageValidationException("id", "a receipt needs an id");
        }

        if (!CallKeys.InRange(receipt.Timestamp.ToUnixTimeMilliseconds()))
        {
            throw new CageValidationException("ts", string.Create(CultureInfo.InvariantCulture,
                $"receipt {receipt.Id}: ts {receipt.Timestamp:O} is outside the ledger's range (years 1691 to 2248)"));
        }
    }

    /// <summary>Binds a call's columns; returns its cost in 1e-10 USD (0 when unpriced) for the totals.</summary>
    private long BindCall(CallRecord call, long rk, int foreign)
    {
        var s = _insertCall;
        var b = _boundCallText;
        var usage = call.Usage;
        NativeSqlite.BindInt64(s, 28, rk);
        BindRepeated(s, 29, foreign);
        BindRepeated(s, 30, _callKeys.NextSeq(CallKeys.MillisecondOf(rk)));
        BindText(s, 1, call.Id);
        NativeSqlite.BindInt64(s, 2, call.Timestamp.ToUnixTimeMilliseconds());
        BindOptional(s, b, 3, call.Session);
        BindOptional(s, b, 4, call.Task);
        BindOptional(s, b, 5, call.Agent);
        BindOptional(s, b, 6, call.Route);
        BindOptional(s, b, 7, call.Category);
        BindOptional(s, b, 8, call.User);
        BindOptional(s, b, 9, call.Provider ?? "", keepEmpty: true);
        BindOptional(s, b, 10, call.Model ?? "", keepEmpty: true);
        NativeSqlite.BindInt64(s, 11, usage.Input);
        BindRepeated(s, 12, usage.CacheRead);
        BindRepeated(s, 13, usage.CacheWrite5m);
        BindRepeated(s, 14, usage.CacheWrite1h);
        NativeSqlite.BindInt64(s, 15, usage.Output);
        BindRepeated(s, 16, usage.Reasoning);
        long? costE10 = call.CostUsd is { } cost ? LedgerMoney.ToE10(cost) : null;
        BindNullable(s, 17, costE10);
        BindRepeated(s, 18, (int)call.CostSource);
        BindOptional(s, b, 19, StoredPriceKey(call), keepEmpty: true);
        BindRepeated(s, 20, (int)call.UsageStatus);
        NativeSqlite.BindInt64(s, 21, call.LatencyMs);
        BindRepeated(s, 22, call.Ok ? 1 : 0);
        BindRepeated(s, 23, call.Retries);
        BindRepeated(s, 24, call.Attempt);
        BindOptional(s, b, 25, call.RequestId);
        BindOptional(s, b, 26, call.Error is null ? null : ErrorText.Scrub(call.Error));
        BindOptional(s, b, 27, call.Tags is null || call.Tags.Count == 0 ? null : LedgerJson.WriteMap(ErrorText.ScrubLabels(call.Tags)));
        return costE10 ?? 0;
    }

    /// <summary>The price key as stored: '' for the usual "{provider}/{model}", NULL for none (see schema step 5).</summary>
    internal static string? StoredPriceKey(CallRecord call)
    {
        var key = call.PriceKey;
        if (string.IsNullOrEmpty(key))
        {
            return null;
        }

        var provider = call.Provider ?? "";
        var model = call.Model ?? "";
        return key.Length == provider.Length + 1 + model.Length && key[provider.Length] == '/'
            && key.StartsWith(provider, StringComparison.Ordinal) && key.EndsWith(model, StringComparison.Ordinal)
            ? ""
            : key;
    }

    /// <summary>Adds the batch's per-day group sums to <c>call_totals</c> and its hourly ones to <c>call_totals_hour</c> (inside the batch's transaction).</summary>
    private void WriteTotals()
    {
        CountNewPairs();
        var s = _upsertTotals;
        foreach (var (group, sums) in _totals.Groups)
        {
            if (CallTotals.HourlyDimensionOf(group.Dimension) is { } hourly)
            {
                var h = _upsertHourTotals;
                NativeSqlite.BindInt64(h, 1, (int)hourly);
                NativeSqlite.BindInt64(h, 2, group.Day); // the hour number
                BindText(h, 3, group.Key);
                NativeSqlite.BindInt64(h, 4, sums.Calls);
                NativeSqlite.BindInt64(h, 5, sums.CostE10);
                StepInsert(h);
                continue;
            }

            NativeSqlite.BindInt64(s, 1, (int)group.Dimension);
            BindText(s, 2, group.Key);
            NativeSqlite.BindInt64(s, 3, group.Day);
            NativeSqlite.BindInt64(s, 4, sums.Calls);
            NativeSqlite.BindInt64(s, 5, sums.Input);
            NativeSqlite.BindInt64(s, 6, sums.CacheRead);
            NativeSqlite.BindInt64(s, 7, sums.CacheWrite5m);
            NativeSqlite.BindInt64(s, 8, sums.CacheWrite1h);
            NativeSqlite.BindInt64(s, 9, sums.Output);
            NativeSqlite.BindInt64(s, 10, sums.Reasoning);
            NativeSqlite.BindInt64(s, 11, sums.CostE10);
            NativeSqlite.BindInt64(s, 12, sums.Unpriced);
            NativeSqlite.BindInt64(s, 13, sums.Missing);
            NativeSqlite.BindInt64(s, 14, sums.Local);
            StepInsert(s);
        }
    }

    /// <summary>
    /// Adds the batch's route × task pairs that no day of the ledger had yet to <c>route_task_counts</c>, under their
    /// route and first day (before the batch's pair rows go in: each pair is probed once). A task of no value or a
    /// literal "(none)" is not a task there, as in the counts that read it.
    /// </summary>
    private void CountNewPairs()
    {
        _newPairs.Clear();
        _newPairCounts.Clear();
        HashSet<string>? stored = null;
        foreach (var (group, _) in _totals.Groups)
        {
            if (group.Dimension != CallTotals.RouteTask)
            {
                continue;
            }

            var split = group.Key.IndexOf(SpendReport.PairSeparator, StringComparison.Ordinal);
            if (split < 0 || split == group.Key.Length - 1 || group.Key.AsSpan(split + 1).SequenceEqual(SpendReport.NoneKey))
            {
                continue;
            }

            if (_newPairs.TryGetValue(group.Key, out var first))
            {
                _newPairs[group.Key] = Math.Min(first, group.Day);
            }
            else if (stored?.Contains(group.Key) != true)
            {
                if (PairStored(group.Key))
                {
                    (stored ??= new(StringComparer.Ordinal)).Add(group.Key);
                }
                else
                {
                    _newPairs[group.Key] = group.Day;
                }
            }
        }

        foreach (var (key, day) in _newPairs)
        {
            var route = key[..key.IndexOf(SpendReport.PairSeparator, StringComparison.Ordinal)];
            _newPairCounts[(route, day)] = _newPairCounts.GetValueOrDefault((route, day)) + 1;
        }

        foreach (var ((route, day), tasks) in _newPairCounts)
        {
            BindText(_addRouteTasks, 1, route);
            NativeSqlite.BindInt64(_addRouteTasks, 2, day);
            NativeSqlite.BindInt64(_addRouteTasks, 3, tasks);
            StepInsert(_addRouteTasks);
        }
    }

    private bool PairStored(string key)
    {
        BindText(_pairStored, 1, key);
        try
        {
            var rc = NativeSqlite.Step(_pairStored);
            return rc == raw.SQLITE_ROW ? true : rc == raw.SQLITE_DONE ? false : throw Error(rc);
        }
        finally
        {
            NativeSqlite.Reset(_pairStored);
        }
    }

    /// <summary>
    /// The pricing basis of the call a receipt points to: from this batch, the calls stored recently, or the ledger.
    /// <paramref name="known"/> is false when the receipt names a call the ledger does not have (yet): it is stored as
    /// pending and left out of <c>receipt_totals</c>. A call-less receipt is known (priced at its task's latest call).
    /// </summary>
    private StoredCall? ResolveCall(SavingsReceipt receipt, out bool known)
    {
        known = true;
        if (string.IsNullOrEmpty(receipt.CallId))
        {
            return null;
        }

        if (_batchCalls.TryGetValue(receipt.CallId, out var stored) || _recentCalls.TryGetValue(receipt.CallId, out stored))
        {
            return stored;
        }

        if (FindStored(receipt.CallId) is { } found)
        {
            return found;
        }

        known = false;
        return null;
    }

    /// <summary>A stored call by id alone, with its pricing basis: through its id's bucket, else the foreign-id index.</summary>
    private StoredCall? FindStored(string id) =>
        _callKeys.Find(id) is { } rk && CallAt(rk, out _, out var basis) ? new StoredCall(basis, rk) : null;

    /// <summary>Reads the id (and pricing basis) of the call at <paramref name="rk"/>; false for an empty slot.</summary>
    private bool CallAt(long rk, out string id, out ReceiptTotals.CallKey basis)
    {
        NativeSqlite.BindInt64(_callAt, 1, rk);
        try
        {
            var rc = NativeSqlite.Step(_callAt);
            if (rc == raw.SQLITE_ROW)
            {
                id = raw.sqlite3_column_text(_callAt, 0).utf8_to_string() ?? "";
                var provider = raw.sqlite3_column_text(_callAt, 1).utf8_to_string() ?? "";
                var model = raw.sqlite3_column_text(_callAt, 2).utf8_to_string() ?? "";
                basis = new ReceiptTotals.CallKey(
                    provider,
                    model,
                    raw.sqlite3_column_type(_callAt, 3) == raw.SQLITE_NULL ? "" : raw.sqlite3_column_text(_callAt, 3).utf8_to_string() ?? "",
                    ReceiptTotals.PromptK(provider, model, raw.sqlite3_column_int64(_callAt, 4)));
                return true;
            }

            if (rc != raw.SQLITE_DONE)
            {
                throw Error(rc);
            }

            id = "";
            basis = default;
            return false;
        }
        finally
        {
            NativeSqlite.Reset(_callAt);
        }
    }

    /// <summary>Notes a stored call: its bucket for later probes in this transaction, its task's posting list.</summary>
    private void Placed(CallRecord call, long rk, int foreign)
    {
        _callKeys.Placed(call.Id, rk, foreign);

        Post(PostingList.CallsByTask, call.Task, rk);
    }

    /// <summary>Writes one posting row per task (and per <see cref="PostingList.MaxPerRow"/> keys) for the batch's calls.</summary>
    /// <summary>Adds a stored row's key to the batch's posting list for <paramref name="key"/> (none for an empty key).</summary>
    private void Post(int kind, string? key, long rk)
    {
        if (string.IsNullOrEmpty(key))
        {
            return;
        }

        if (_lastPostList[kind] is { } last && string.Equals(_lastPostKey[kind], key, StringComparison.Ordinal))
        {
            last.Add(rk);
            return;
        }

        if (!_postings.TryGetValue((kind, key), out var keys))
        {
            keys = _spareLists.Count > 0 ? _spareLists.Pop() : [];
            _postings.Add((kind, key), keys);
        }

        _lastPostKey[kind] = key;
        _lastPostList[kind] = keys;
        keys.Add(rk);
    }

    private void WritePostings()
    {
        var s = _insertPosting;
        foreach (var ((kind, task), keys) in _postings)
        {
            keys.Sort();
            for (var at = 0; at < keys.Count; at += PostingList.MaxPerRow)
            {
                var chunk = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys).Slice(at, Math.Min(PostingList.MaxPerRow, keys.Count - at));
                var length = PostingList.Encode(chunk, ref _posting);
                NativeSqlite.BindInt64(s, 1, kind);
                BindText(s, 2, task);
                NativeSqlite.BindInt64(s, 3, chunk[0]);
                raw.sqlite3_bind_blob(s, 4, new ReadOnlySpan<byte>(_posting, 0, length));
                StepInsert(s);
            }
        }
    }

    /// <summary>Moves the batch's stored calls into the bounded recent-call memory (oldest forgotten first).</summary>
    private void RememberBatchCalls()
    {
        foreach (var (id, key) in _batchCalls)
        {
            if (_recentCalls.TryAdd(id, key))
            {
                _recentOrder.Enqueue(id);
                if (_recentOrder.Count > RecentCallCapacity)
                {
                    _recentCalls.Remove(_recentOrder.Dequeue());
                }
            }
        }

        _batchCalls.Clear();
    }

    /// <summary>
    /// Merges the batch's receipt sums into <c>receipt_totals</c> and, summed per month, into <c>receipt_totals_month</c>
    /// (inside the batch's transaction): exact decimal addition.
    /// </summary>
    private void WriteReceiptTotals()
    {
        if (_receiptTotals.Count > 0)
        {
            MergeReceiptTotals(_readReceiptTotals, _writeReceiptTotals, _receiptTotals.Groups);
            MergeReceiptTotals(_readReceiptMonths, _writeReceiptMonths, _receiptTotals.MonthGroups());
        }
    }

    private void MergeReceiptTotals(sqlite3_stmt read, sqlite3_stmt write, IEnumerable<KeyValuePair<ReceiptTotals.Key, ReceiptTotals.Sums>> groups)
    {
        foreach (var (k, sums) in groups)
        {
            BindReceiptKey(read, k);
            long receipts = sums.Receipts, eliminated = sums.Eliminated;
            decimal rawAlternative = sums.Raw, actual = sums.Actual, toolCost = sums.ToolCost;
            double addedMs = sums.AddedMs, minConfidence = sums.MinConfidence;
            try
            {
                var rc = NativeSqlite.Step(read);
                if (rc == raw.SQLITE_ROW)
                {
                    receipts += raw.sqlite3_column_int64(read, 0);
                    rawAlternative += ReceiptTotals.Parse(raw.sqlite3_column_text(read, 1).utf8_to_string());
                    actual += ReceiptTotals.Parse(raw.sqlite3_column_text(read, 2).utf8_to_string());
                    toolCost += ReceiptTotals.Parse(raw.sqlite3_column_text(read, 3).utf8_to_string());
                    addedMs += raw.sqlite3_column_double(read, 4);
                    eliminated += raw.sqlite3_column_int64(read, 5);
                    minConfidence = Math.Min(minConfidence, raw.sqlite3_column_double(read, 6));
                }
                else if (rc != raw.SQLITE_DONE)
                {
                    throw Error(rc);
                }
            }
            finally
            {
                NativeSqlite.Reset(read);
            }

            var s = write;
            BindReceiptKey(s, k);
            NativeSqlite.BindInt64(s, 11, receipts);
            BindText(s, 12, ReceiptTotals.Text(rawAlternative));
            BindText(s, 13, ReceiptTotals.Text(actual));
            BindText(s, 14, ReceiptTotals.Text(toolCost));
            NativeSqlite.BindDouble(s, 15, addedMs);
            NativeSqlite.BindInt64(s, 16, eliminated);
            NativeSqlite.BindDouble(s, 17, minConfidence);
            StepInsert(s);
        }
    }

    private void BindReceiptKey(sqlite3_stmt s, ReceiptTotals.Key k)
    {
        NativeSqlite.BindInt64(s, 1, k.Day);
        BindText(s, 2, k.Tool);
        BindText(s, 3, k.Unit);
        BindText(s, 4, k.Method);
        NativeSqlite.BindInt64(s, 5, k.Basis);
        BindText(s, 6, k.Provider);
        BindText(s, 7, k.Model);
        NativeSqlite.BindInt64(s, 8, k.PromptK);
        BindText(s, 9, k.Route);
        BindText(s, 10, k.Task);
    }

    private void BindReceipt(SavingsReceipt receipt, bool pending, long? callKey)
    {
        var s = _insertReceipt;
        var b = _boundReceiptText;
        BindText(s, 1, receipt.Id);
        NativeSqlite.BindInt64(s, 2, receipt.Timestamp.ToUnixTimeMilliseconds());
        BindOptional(s, b, 3, receipt.CallId);
        BindOptional(s, b, 4, receipt.Task);
        BindOptional(s, b, 5, receipt.Tool, keepEmpty: true);
        BindOptional(s, b, 6, receipt.Unit.ToWire(), keepEmpty: true);
        BindText(s, 7, receipt.RawAlternative.ToString(CultureInfo.InvariantCulture));
        BindText(s, 8, receipt.Actual.ToString(CultureInfo.InvariantCulture));
        BindOptional(s, b, 9, receipt.Method.ToWire(), keepEmpty: true);
        NativeSqlite.BindDouble(s, 10, receipt.Confidence);
        BindOptional(s, b, 11, receipt.Meta.Count == 0 ? null : LedgerJson.WriteMap(ErrorText.RedactSecrets(receipt.Meta)));
        NativeSqlite.BindInt64(s, 12, pending ? 1 : 0);
        BindNullable(s, 13, callKey);
    }

    /// <summary>
    /// Binds a text column that often repeats from one record to the next (provider, model, route, session…).
    /// Bindings survive <c>sqlite3_reset</c>, so an unchanged value is not bound again. Unless
    /// <paramref name="keepEmpty"/>, an empty string is stored as NULL: it means "none" (and an empty request id
    /// must never collide with another).
    /// </summary>
    private void BindOptional(sqlite3_stmt statement, string?[] bound, int index, string? value, bool keepEmpty = false)
    {
        if (!keepEmpty && value is { Length: 0 })
        {
            value = null;
        }

        // (A parameter never bound is NULL, so the initial all-null array is accurate too.)
        if (string.Equals(bound[index], value, StringComparison.Ordinal))
        {
            return;
        }

        if (value is null)
        {
            NativeSqlite.BindNull(statement, index);
        }
        else
        {
            BindText(statement, index, value);
        }

        bound[index] = value;
    }

    /// <summary>
    /// Binds a number column of the call insert that is usually the same as in the previous call (a flag, an enum, a
    /// count that is mostly zero). Like <see cref="BindOptional"/>, an unchanged value is not bound again.
    /// </summary>
    private void BindRepeated(sqlite3_stmt statement, int index, long? value)
    {
        if (_callNumberBound[index] && _boundCallNumber[index] == value)
        {
            return;
        }

        BindNullable(statement, index, value);
        _boundCallNumber[index] = value;
        _callNumberBound[index] = true;
    }

    private static void BindNullable(sqlite3_stmt statement, int index, long? value)
    {
        if (value is { } v)
        {
            NativeSqlite.BindInt64(statement, index, v);
        }
        else
        {
            NativeSqlite.BindNull(statement, index);
        }
    }

    private void BindText(sqlite3_stmt statement, int index, string value)
    {
        if (value.Length == 0)
        {
            NativeSqlite.BindText(statement, index, []); // the empty string, not NULL
            return;
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_utf8.Length < max)
        {
            _utf8 = new byte[Math.Max(max, _utf8.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _utf8);
        // Bound with SQLITE_TRANSIENT: SQLite copies the bytes, so the buffer is reused at once.
        NativeSqlite.BindText(statement, index, new ReadOnlySpan<byte>(_utf8, 0, length));
    }

    /// <summary>Runs an insert; returns 1 when a row was added, 0 when a conflict left the ledger unchanged.</summary>
    private int StepInsert(sqlite3_stmt statement)
    {
        var rc = NativeSqlite.Step(statement);
        NativeSqlite.Reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            throw Error(rc);
        }

        return NativeSqlite.Changes(_db);
    }

    private void Step(sqlite3_stmt statement)
    {
        var rc = NativeSqlite.Step(statement);
        NativeSqlite.Reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            throw Error(rc);
        }
    }

    private void RollBack()
    {
        if (raw.sqlite3_get_autocommit(_db) == 0)
        {
            NativeSqlite.Step(_rollback);
            NativeSqlite.Reset(_rollback);
        }
    }

    private sqlite3_stmt Prepare(string sql)
    {
        var rc = raw.sqlite3_prepare_v3(_db, sql, raw.SQLITE_PREPARE_PERSISTENT, out var statement);
        if (rc != raw.SQLITE_OK)
        {
            throw Error(rc);
        }

        return statement;
    }

    private static void Exec(sqlite3 db, string path, string sql)
    {
        var rc = raw.sqlite3_exec(db, sql);
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteException(string.Create(CultureInfo.InvariantCulture, $"SQLite error {rc} setting up the ledger '{path}': {raw.sqlite3_errmsg(db).utf8_to_string()}"), rc);
        }
    }

    /// <summary>A call stored by this writer: its pricing basis for receipts and its key.</summary>
    private readonly record struct StoredCall(ReceiptTotals.CallKey Key, long Rk);

    private SqliteException Error(int rc) =>
        new(string.Create(CultureInfo.InvariantCulture, $"SQLite error {rc} writing the ledger '{_path}': {raw.sqlite3_errmsg(_db).utf8_to_string()}"),
            rc, raw.sqlite3_extended_errcode(_db));
}
