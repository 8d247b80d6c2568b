using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using SQLitePCL;

namespace CageNet.Benchmarks;

/// <summary>
/// Every throughput target as a ratio to a baseline measured in the same process and sitting, so the figure means
/// the same on any machine (issue "performance at ten times the scale"):
/// <list type="bullet">
/// <item>durable ingest vs a bare prepared-statement INSERT loop into a table of the calls table's width (30 columns,
/// rowid key, no other index), 10k-row transactions, the same pragmas, the same records: target ≥ 50%;</item>
/// <item>meter scope + usage + dispose vs a bare bounded-queue hand-off of a freshly built record-sized object to a
/// consumer thread: target ≤ 5×;</item>
/// <item><c>cage import</c> of calls.jsonl + receipts.jsonl vs <c>System.Text.Json</c> reading every token of every line
/// of the same files: target ≥ 50%.</item>
/// </list>
/// Each pair runs back to back, baseline first, three times; the medians and their ratio are printed.
/// Run: <c>dotnet run -c Release --project benchmarks/Cage.Benchmarks -- baselines [--calls N] [--dir PATH]</c>.
/// </summary>
internal static class Baselines
{
    private const int Rounds = 3;
    private const int Transaction = 10_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 1_000_000;
        var dir = Path.Combine(Path.GetTempPath(), "cage-baselines");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[++i]; break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }

        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        Console.WriteLine($"# Cage baselines: {calls:N0} calls ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, load {Load()})");

        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var batches = new List<CallRecord[]>();
        for (var offset = 0; offset < calls; offset += Transaction)
        {
            batches.Add(LedgerScale.Generate(offset, Math.Min(Transaction, calls - offset), start, PriceCatalog.BuiltIn).Calls);
        }

        // 1. Durable ingest vs the bare insert loop, over the same prebuilt records.
        var bare = new List<double>();
        var cage = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            bare.Add(calls / BareInsert(Path.Combine(dir, $"bare-{round}.db"), batches).TotalSeconds);
            cage.Add(calls / (await CageInsertAsync(Path.Combine(dir, $"cage-{round}.db"), batches)).TotalSeconds);
        }

        Print("durable ingest", "calls/s", Median(cage), "bare INSERT loop", Median(bare), Median(cage) / Median(bare), "≥ 50%", Median(cage) / Median(bare) >= 0.5, percent: true);
        batches.Clear();
        GC.Collect();

        // 2. Metering vs the bare bounded-queue hand-off.
        const int Ops = 2_000_000;
        var handOff = new List<double>();
        var meter = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            handOff.Add(BareHandOff(Ops));
            meter.Add(MeterLoopNs(Ops));
        }

        Print("meter scope + usage + dispose", "ns/op", Median(meter), "bare bounded-queue hand-off", Median(handOff), Median(meter) / Median(handOff), "≤ 5×", Median(meter) / Median(handOff) <= 5, percent: false);

        // 3. Import vs parsing alone, over one export of the first round's ledger.
        var export = Path.Combine(dir, "export");
        ExportResult exported;
        await using (var ledger = SqliteLedger.Open(Path.Combine(dir, "cage-0.db")))
        {
            exported = await ReferenceJsonl.ExportAsync(ledger, export);
        }

        var lines = exported.Calls + exported.Receipts;
        var parse = new List<double>();
        var import = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            parse.Add(lines / ParseAlone(export).TotalSeconds);
            import.Add(lines / (await ImportAsync(Path.Combine(dir, $"import-{round}.db"), export)).TotalSeconds);
        }

        Print("cage import (JSONL)", "lines/s", Median(import), "System.Text.Json parse alone", Median(parse), Median(import) / Median(parse), "≥ 50%", Median(import) / Median(parse) >= 0.5, percent: true);
        // An import stores every line durably, so it cannot beat the bare INSERT loop: that loop's rate over the parse
        // rate is the ceiling of the ratio above on this machine.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ceiling: the bare INSERT loop is {Median(bare) / Median(parse):P0} of the parse-alone rate"));
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    /// <summary>
    /// The floor for durable ingest: one prepared INSERT of 30 columns bound straight through the SQLite library's
    /// functions (the writer's own fastest path), into a rowid table with no other index, committed every 10k rows.
    /// The values are read from the same records the ledger stores; nothing else happens per row.
    /// </summary>
    private static TimeSpan BareInsert(string path, List<CallRecord[]> batches)
    {
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                CREATE TABLE calls (rk INTEGER PRIMARY KEY, id TEXT NOT NULL, foreign_id INTEGER NOT NULL, seq INTEGER NOT NULL,
                  ts_ms INTEGER NOT NULL, session TEXT, task TEXT, agent TEXT, route TEXT, category TEXT, "user" TEXT,
                  provider TEXT NOT NULL, model TEXT NOT NULL, input INTEGER NOT NULL, cache_read INTEGER NOT NULL,
                  cache_write_5m INTEGER NOT NULL, cache_write_1h INTEGER NOT NULL, output INTEGER NOT NULL, reasoning INTEGER,
                  cost_e10 INTEGER, cost_source INTEGER NOT NULL, price_key TEXT, usage_status INTEGER NOT NULL,
                  latency_ms INTEGER NOT NULL, ok INTEGER NOT NULL, retries INTEGER NOT NULL, attempt INTEGER NOT NULL,
                  request_id TEXT, error TEXT, tags TEXT);
                """;
            command.ExecuteNonQuery();
        }

        GC.Collect();
        var clock = Stopwatch.StartNew();
        raw.sqlite3_open_v2(path, out var db, raw.SQLITE_OPEN_READWRITE, null);
        using (db)
        {
            Exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
            NativeSqlite.TryEnable();
            raw.sqlite3_prepare_v3(db, "INSERT INTO calls VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30);",
                raw.SQLITE_PREPARE_PERSISTENT, out var insert);
            using (insert)
            {
                var utf8 = new byte[256];
                void Text(int index, string? value)
                {
                    if (value is null)
                    {
                        NativeSqlite.BindNull(insert, index);
                        return;
                    }

                    var n = Encoding.UTF8.GetBytes(value, utf8);
                    NativeSqlite.BindText(insert, index, utf8.AsSpan(0, n));
                }

                long rk = 0;
                foreach (var batch in batches)
                {
                    Exec(db, "BEGIN IMMEDIATE;");
                    foreach (var call in batch)
                    {
                        NativeSqlite.BindInt64(insert, 1, ++rk);
                        Text(2, call.Id);
                        NativeSqlite.BindInt64(insert, 3, 0);
                        NativeSqlite.BindInt64(insert, 4, 0);
                        NativeSqlite.BindInt64(insert, 5, call.Timestamp.ToUnixTimeMilliseconds());
                        Text(6, call.Session);
                        Text(7, call.Task);
                        Text(8, call.Agent);
                        Text(9, call.Route);
                        Text(10, call.Category);
                        Text(11, call.User);
                        Text(12, call.Provider);
                        Text(13, call.Model);
                        NativeSqlite.BindInt64(insert, 14, call.Usage.Input);
                        NativeSqlite.BindInt64(insert, 15, call.Usage.CacheRead);
                        NativeSqlite.BindInt64(insert, 16, call.Usage.CacheWrite5m);
                        NativeSqlite.BindInt64(insert, 17, call.Usage.CacheWrite1h);
                        NativeSqlite.BindInt64(insert, 18, call.Usage.Output);
                        NativeSqlite.BindInt64(insert, 19, call.Usage.Reasoning ?? 0);
                        NativeSqlite.BindInt64(insert, 20, call.CostUsd is { } cost ? (long)(cost * 10_000_000_000m) : 0);
                        NativeSqlite.BindInt64(insert, 21, (int)call.CostSource);
                        Text(22, call.PriceKey);
                        NativeSqlite.BindInt64(insert, 23, (int)call.UsageStatus);
                        NativeSqlite.BindInt64(insert, 24, call.LatencyMs);
                        NativeSqlite.BindInt64(insert, 25, call.Ok ? 1 : 0);
                        NativeSqlite.BindInt64(insert, 26, call.Retries);
                        NativeSqlite.BindInt64(insert, 27, call.Attempt);
                        Text(28, call.RequestId);
                        Text(29, call.Error);
                        NativeSqlite.BindNull(insert, 30);
                        if (NativeSqlite.Step(insert) != raw.SQLITE_DONE)
                        {
                            throw new InvalidOperationException(raw.sqlite3_errmsg(db).utf8_to_string());
                        }

                        NativeSqlite.Reset(insert);
                    }

                    Exec(db, "COMMIT;");
                }
            }
        }

        return clock.Elapsed;
    }

    private static void Exec(sqlite3 db, string sql)
    {
        if (raw.sqlite3_exec(db, sql) != raw.SQLITE_OK)
        {
            throw new InvalidOperationException(raw.sqlite3_errmsg(db).utf8_to_string());
        }
    }

    /// <summary>The ledger's durable ingest of the same records: <see cref="SqliteLedger.AppendAsync"/> in 10k-call transactions.</summary>
    private static async Task<TimeSpan> CageInsertAsync(string path, List<CallRecord[]> batches)
    {
        GC.Collect();
        var clock = Stopwatch.StartNew();
        await using (var ledger = SqliteLedger.Open(path))
        {
            foreach (var batch in batches)
            {
                await ledger.AppendAsync(new LedgerBatch(batch, []));
            }
        }

        return clock.Elapsed;
    }

    /// <summary>
    /// The floor for metering: build a record-sized object (a <see cref="CallRecord"/> with the fields a metered call
    /// has) and hand it to a consumer thread through a bounded channel of the pipeline's capacity; ns per hand-off.
    /// </summary>
    private static double BareHandOff(int ops)
    {
        var channel = Channel.CreateBounded<CallRecord>(new BoundedChannelOptions(65_536) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        var consumer = new Thread(() =>
        {
            var reader = channel.Reader;
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out _))
                {
                }
            }
        }) { IsBackground = true };
        consumer.Start();
        var at = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var writer = channel.Writer;
        for (var i = 0; i < ops; i++)
        {
            var record = new CallRecord
            {
                Id = "c_" + i.ToString(CultureInfo.InvariantCulture),
                Timestamp = at,
                Route = "code-edit",
                Provider = "anthropic",
                Model = "claude-opus-4-8",
                Usage = new TokenUsage(8600, Output: 1500),
                CostUsd = 0.0483m,
                CostSource = CostSource.Catalog,
                PriceKey = "anthropic/claude-opus-4-8",
            };
            while (!writer.TryWrite(record))
            {
                Thread.SpinWait(20);
            }
        }

        var elapsed = clock.Elapsed;
        writer.Complete();
        consumer.Join();
        return elapsed.TotalNanoseconds / ops;
    }

    /// <summary>The meter's hot path into a sink that keeps nothing: ns per scope + usage + dispose.</summary>
    private static double MeterLoopNs(int ops)
    {
        var meter = new CageMeter(new DiscardSink(), PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions());
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < ops; i++)
        {
            using var m = meter.Meter("code-edit");
            m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
        }

        var elapsed = clock.Elapsed;
        var dropped = meter.Statistics.Dropped;
        meter.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (dropped > 0)
        {
            throw new InvalidOperationException($"the meter dropped {dropped} records into a sink that never fails");
        }

        return elapsed.TotalNanoseconds / ops;
    }

    /// <summary>The floor for import: read both files and walk every JSON token of every line with <see cref="Utf8JsonReader"/>.</summary>
    private static TimeSpan ParseAlone(string folder)
    {
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        foreach (var file in new[] { "calls.jsonl", "receipts.jsonl" })
        {
            using var stream = new FileStream(Path.Combine(folder, file), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var buffer = new byte[1 << 20];
            var filled = 0;
            int read;
            while ((read = stream.Read(buffer, filled, buffer.Length - filled)) > 0 || filled > 0)
            {
                filled += read;
                var span = buffer.AsSpan(0, filled);
                var consumed = 0;
                int newline;
                while ((newline = span[consumed..].IndexOf((byte)'\n')) >= 0 || (read == 0 && consumed < filled))
                {
                    var length = newline >= 0 ? newline : filled - consumed;
                    var reader = new Utf8JsonReader(span.Slice(consumed, length));
                    while (reader.Read())
                    {
                        tokens++;
                    }

                    consumed += length + (newline >= 0 ? 1 : 0);
                }

                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (read == 0)
                {
                    break;
                }
            }
        }

        GC.KeepAlive(tokens);
        return clock.Elapsed;
    }

    private static async Task<TimeSpan> ImportAsync(string path, string folder)
    {
        GC.Collect();
        var clock = Stopwatch.StartNew();
        await using (var ledger = SqliteLedger.Open(path))
        {
            var result = await ReferenceJsonl.ImportAsync(ledger, folder, PriceCatalog.BuiltIn);
            if (result.Errors.Count > 0)
            {
                throw new InvalidOperationException($"the import rejected {result.Errors.Count} lines of a clean export");
            }
        }

        return clock.Elapsed;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static void Print(string what, string unit, double value, string baseline, double baselineValue, double ratio, string target, bool met, bool percent) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {value:N0} {unit} vs {baseline}: {baselineValue:N0} {unit} = {(percent ? $"{ratio:P0}" : $"{ratio:F2}×")} (target {target}: {(met ? "met" : "NOT met")})"));

    private static string Load()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private sealed class DiscardSink : ILedgerSink
    {
        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
