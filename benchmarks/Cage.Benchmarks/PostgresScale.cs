using System.Diagnostics;
using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.TestFixtures;

namespace CageNet.Benchmarks;

/// <summary>
/// The PostgreSQL ledger on loopback: durable ingest of 1M calls from one process (binary COPY, one transaction per
/// batch), <c>report</c> at 1M calls through the maintained rollups, reserve + settle round trips, and reservations per
/// second from 4 concurrent instances. Uses <c>--connection</c> (or <c>CAGE_BENCH_POSTGRES</c>), else starts a throwaway
/// cluster with <c>fsync</c> on (as <c>tests/Shared/Postgres</c> does for the tests) and removes it at the end.
/// </summary>
internal static class PostgresScale
{
    private static string? s_dataFolder;

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 1_000_000;
        var batch = 4_096;
        var phases = "ingest,report,budgets,processes";
        var seconds = 10;
        var drop = "";
        string? connection = Environment.GetEnvironmentVariable("CAGE_BENCH_POSTGRES");
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--calls") calls = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--batch") batch = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--connection") connection = args[i + 1];
            if (args[i] == "--phases") phases = args[i + 1];
            if (args[i] == "--drop") drop = args[i + 1];
            if (args[i] == "--seconds") seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }

        TestPostgres.Cluster? cluster = null;
        if (string.IsNullOrEmpty(connection))
        {
            cluster = await TestPostgres.Cluster.StartAsync(durable: true);
            connection = cluster.ConnectionString;
            s_dataFolder = cluster.DataFolder;
            Console.WriteLine($"throwaway cluster in {cluster.Folder} (fsync on, synchronous_commit on)");
        }

        try
        {
            await using var ledger = await PostgresLedger.OpenAsync(connection);
            await DropAsync(ledger, drop);
            if (phases.Contains("ingest", StringComparison.Ordinal)) await IngestAsync(ledger, calls, batch);
            if (phases.Contains("report", StringComparison.Ordinal)) await ReportAsync(ledger);
            if (phases.Contains("budgets", StringComparison.Ordinal))
            {
                await ReserveSettleAsync(ledger);
                Console.WriteLine($"load average before the reservations: {LoadAverage()}");
                foreach (var combined in new[] { false, true, false, true })
                {
                    await ReservationsPerSecondAsync(connection, sharedTree: true, combined, seconds);
                }

                await ReservationsPerSecondAsync(connection, sharedTree: false, combined: false, seconds);
                await ReservationsPerSecondAsync(connection, sharedTree: false, combined: true, seconds);
            }

            if (phases.Contains("processes", StringComparison.Ordinal))
            {
                Console.WriteLine($"load average before the processes: {LoadAverage()}");
                foreach (var (combined, callers) in new[] { (false, 8), (true, 8), (false, 8), (true, 8), (true, 32) })
                {
                    await ProcessesAsync(connection, combined, callers, seconds);
                }
            }
            return 0;
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }
        }
    }

    // The scale harness's traffic shape: 50 calls per task, 500 per session, 8 routes, 8 models (one unpriced), 90 days.
    private static async Task IngestAsync(PostgresLedger ledger, int count, int batchSize)
    {
        var origin = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        var step = TimeSpan.FromDays(90).Ticks / count;
        string[] models = ["gpt-5", "gpt-4o-mini", "claude-opus-4-8", "claude-sonnet-4-6", "gemini-2.5-pro", "gemini-2.5-flash", "o3", "mystery"];
        var records = new CallRecord[count];
        for (var n = 0; n < count; n++)
        {
            var model = models[n % 8];
            records[n] = new CallRecord
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"c_bench_{n:D9}"),
                Timestamp = origin.AddTicks(step * n),
                Route = "route-" + (n % 8), Task = "task-" + (n / 50), Session = "session-" + (n / 500), Agent = "agent-" + (n % 3),
                Provider = model.StartsWith("claude", StringComparison.Ordinal) ? "anthropic" : model.StartsWith("gemini", StringComparison.Ordinal) ? "google" : "openai",
                Model = model,
                Usage = new TokenUsage(1000 + n % 5000, n % 700, 0, 0, 200 + n % 900),
                CostUsd = model == "mystery" ? null : 0.0001m * (1 + n % 97),
                CostSource = model == "mystery" ? CostSource.Unpriced : CostSource.Catalog,
                LatencyMs = 300 + n % 2000,
                RequestId = string.Create(CultureInfo.InvariantCulture, $"req_{n:D9}"),
            };
        }

        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var start = 0; start < count; start += batchSize)
        {
            var slice = new ArraySegment<CallRecord>(records, start, Math.Min(batchSize, count - start));
            await ledger.AppendAsync(new LedgerBatch(slice, []));
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        var logged = await BareCopyAsync(ledger, records, batchSize, temporary: false);
        var temporary = await BareCopyAsync(ledger, records, batchSize, temporary: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ingest: {count:N0} calls in {seconds:F2} s = {count / seconds:N0} calls/s (batches of {batchSize:N0}, committed each; client CPU {cpuSeconds:F1} s); " +
            $"baselines, a bare binary COPY of the same rows (15 of the 28 columns) committed per batch: into a logged table without indexes {count / logged:N0} rows/s " +
            $"(ratio {logged / seconds:P0}), into a temporary table (no WAL) {count / temporary:N0} rows/s (ratio {temporary / seconds:P0})"));

        clock.Restart();
        var again = await ledger.AppendAsync(new LedgerBatch(new ArraySegment<CallRecord>(records, 0, Math.Min(100_000, count)), []));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"re-ingest of {again.CallsSkipped:N0} calls already stored: {again.CallsAdded} added, {clock.Elapsed.TotalMilliseconds:F0} ms"));
        await using var connection = await ledger.OpenReaderAsync(CancellationToken.None);
        await using var size = new Npgsql.NpgsqlCommand(
            "SELECT pg_total_relation_size('calls'), pg_total_relation_size('call_totals'), (SELECT count(*) FROM call_totals);", connection);
        await using var reader = await size.ExecuteReaderAsync();
        await reader.ReadAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"size: calls {reader.GetInt64(0) / 1048576.0:F0} MiB with indexes ({reader.GetInt64(0) / (double)count:F0} B per call), call_totals {reader.GetInt64(1) / 1048576.0:F1} MiB in {reader.GetInt64(2):N0} rows"));
    }

    // --drop: indexes (or "pkey") of calls dropped before the ingest, to measure what each costs. Breaks idempotency: for
    // measurement only, on a throwaway database.
    private static async Task DropAsync(PostgresLedger ledger, string drop)
    {
        foreach (var name in drop.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            await using var connection = await ledger.OpenReaderAsync(CancellationToken.None);
            await using var command = new Npgsql.NpgsqlCommand(
                name == "pkey" ? "ALTER TABLE calls DROP CONSTRAINT calls_pkey;" : $"DROP INDEX {name};", connection);
            await command.ExecuteNonQueryAsync();
            Console.WriteLine($"dropped {name} (measurement only: the ledger is not idempotent without it)");
        }
    }

    // The floor: the same calls, same batches, one binary COPY per transaction into a table without indexes or totals.
    private static async Task<double> BareCopyAsync(PostgresLedger ledger, CallRecord[] records, int batchSize, bool temporary)
    {
        await using var connection = await ledger.OpenReaderAsync(CancellationToken.None);
        await using (var create = new Npgsql.NpgsqlCommand(
            $"DROP TABLE IF EXISTS bare; CREATE {(temporary ? "TEMP" : "")} TABLE bare (id text, ts_ms bigint, task text, session text, agent text, route text, provider text, model text, " +
            "input bigint, cache_read bigint, output bigint, cost_e10 bigint, cost_source smallint, latency_ms bigint, request_id text);", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        var clock = Stopwatch.StartNew();
        for (var start = 0; start < records.Length; start += batchSize)
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var copy = await connection.BeginBinaryImportAsync(
                "COPY bare (id, ts_ms, task, session, agent, route, provider, model, input, cache_read, output, cost_e10, cost_source, latency_ms, request_id) FROM STDIN (FORMAT BINARY);"))
            {
                for (var n = start; n < Math.Min(records.Length, start + batchSize); n++)
                {
                    var c = records[n];
                    copy.StartRow();
                    copy.Write(c.Id);
                    copy.Write(c.Timestamp.ToUnixTimeMilliseconds());
                    copy.Write(c.Task!);
                    copy.Write(c.Session!);
                    copy.Write(c.Agent!);
                    copy.Write(c.Route!);
                    copy.Write(c.Provider);
                    copy.Write(c.Model);
                    copy.Write(c.Usage.Input);
                    copy.Write(c.Usage.CacheRead);
                    copy.Write(c.Usage.Output);
                    copy.Write((long)((c.CostUsd ?? 0) * 10_000_000_000m));
                    copy.Write((short)c.CostSource);
                    copy.Write(c.LatencyMs);
                    copy.Write(c.RequestId!);
                }

                await copy.CompleteAsync();
            }

            await transaction.CommitAsync();
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        await using (var drop = new Npgsql.NpgsqlCommand("DROP TABLE bare;", connection))
        {
            await drop.ExecuteNonQueryAsync();
        }

        return elapsed;
    }

    private static async Task ReportAsync(PostgresLedger ledger)
    {
        var since = new DateTimeOffset(2026, 4, 10, 13, 30, 0, TimeSpan.Zero);
        foreach (var (name, query) in new[]
        {
            ("route", new ReportQuery(ReportDimension.Route, TimeWindow.All)),
            ("model", new ReportQuery(ReportDimension.Model, TimeWindow.All)),
            ("day", new ReportQuery(ReportDimension.Day, TimeWindow.All)),
            ("session", new ReportQuery(ReportDimension.Session, TimeWindow.All)),
            ("task", new ReportQuery(ReportDimension.Task, TimeWindow.All)),
            ("route, partial-day --since", new ReportQuery(ReportDimension.Route, new TimeWindow(since, null))),
        })
        {
            var times = new List<double>();
            long total = 0;
            for (var i = 0; i < 9; i++)
            {
                var clock = Stopwatch.StartNew();
                var report = await ledger.ReportAsync(query);
                times.Add(clock.Elapsed.TotalMilliseconds);
                total = report.Total.Calls;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"report by {name}: median {Median(times):F1} ms over 9 runs ({total:N0} calls)"));
        }
    }

    private static async Task ReserveSettleAsync(PostgresLedger ledger)
    {
        var budgets = new PostgresBudgetReservations(ledger);
        var period = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
        SharedBudgetNode[] tree = [new("org/team/alice", period, 1_000_000m), new("org/team", period, 1_000_000m), new("org", period, 1_000_000m) { WarnAt = [0.8m] }];
        var times = new List<double>();
        for (var i = 0; i < 3_000; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = await budgets.TryReserveAsync(tree, 0.01m, TimeSpan.FromMinutes(1));
            await budgets.SettleAsync(result.Reservation!, 0.008m);
            if (i >= 500)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        times.Sort();
        await using (var leases = await ledger.OpenQuickAsync(asynchronousCommit: true, CancellationToken.None))
        {
            await using var show = new Npgsql.NpgsqlCommand("SHOW synchronous_commit;", leases);
            Console.WriteLine($"the reservations' connections: synchronous_commit = {await show.ExecuteScalarAsync()}");
        }

        var trips = new List<double>();
        await using (var connection = await ledger.OpenReaderAsync(CancellationToken.None))
        {
            await using var ping = new Npgsql.NpgsqlCommand("SELECT 1;", connection);
            for (var i = 0; i < 3_000; i++)
            {
                var clock = Stopwatch.StartNew();
                await ping.ExecuteScalarAsync();
                await ping.ExecuteScalarAsync();
                trips.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"reserve + settle (3 nodes, one round trip each), one caller: p50 {Median(times):F3} ms, p99 {times[(int)(times.Count * 0.99)]:F3} ms over {times.Count:N0}; " +
            $"baseline, two SELECT 1 round trips: p50 {Median(trips):F3} ms"));
    }

    // Four instances (each its own ledger and connection pool) × 8 callers, one shared tree; or, as the baseline without
    // the shared root's row lock, every caller on a tree of its own (same statements, same nodes per reservation). Combined:
    // the callers of an instance share one PostgresBudgetReservations, so what they queue while a round trip is in flight
    // goes together in the next; not combined: each caller has its own, so every reservation and settle is its own round
    // trip and single statement (the path a lone caller takes).
    private static async Task ReservationsPerSecondAsync(string connection, bool sharedTree, bool combined, int seconds)
    {
        var ledgers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostgresLedger.OpenAsync(connection)));
        var shared = ledgers.Select(l => new PostgresBudgetReservations(l)).ToArray();
        var done = 0L;
        var (client, server) = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, ServerCpuSeconds());
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(ledgers.SelectMany((ledger, p) => Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            var budgets = combined ? shared[p] : new PostgresBudgetReservations(ledger);
            var tree = Tree(sharedTree ? "org" : $"org-{p}-{c}", p, c);
            while (clock.Elapsed < until)
            {
                var result = await budgets.TryReserveAsync(tree, 0.01m, TimeSpan.FromMinutes(1));
                await budgets.SettleAsync(result.Reservation!, 0.01m);
                Interlocked.Increment(ref done);
            }
        }))));
        var elapsed = clock.Elapsed.TotalSeconds;
        (client, server) = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - client, ServerCpuSeconds() - server);
        var trips = shared.Select(b => b.RoundTrips).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"reservations (reserve + settle) across 4 instances x 8 callers in one process, {(sharedTree ? "one tree" : "a tree each (no shared row lock)")}, " +
            $"{(combined ? $"combined ({done / (double)Math.Max(1, trips.Sum(t => t.Reserves)):F1} reserves per round trip)" : "one round trip each")}: " +
            $"{done / elapsed:N0}/s; CPU per reservation: client {client * 1e6 / done:F0} µs, server {server * 1e6 / done:F0} µs (load {LoadAverage()})"));
        foreach (var ledger in ledgers)
        {
            await ledger.DisposeAsync();
        }
    }

    private static SharedBudgetNode[] Tree(string org, int process, int caller)
    {
        var period = new DateTimeOffset(2026, 7, 1, 0, 0, 0, TimeSpan.Zero);
        return [new($"{org}/team-{process % 2}/user-{process}-{caller}", period, 1_000_000m), new($"{org}/team-{process % 2}", period, 1_000_000m), new(org, period, 1_000_000m)];
    }

    // Four real processes (this program as postgres-worker) × callers, one shared tree: each opens its ledger, warms up,
    // says "ready", waits for "go" on its input, runs for the seconds and prints how many reservations it reserved and settled.
    private static async Task ProcessesAsync(string connection, bool combined, int callers, int seconds)
    {
        var self = Environment.ProcessPath!;
        var prefix = Path.GetFileNameWithoutExtension(self) == "dotnet" ? $"\"{typeof(PostgresScale).Assembly.Location}\" " : "";
        var workers = Enumerable.Range(0, 4).Select(p => Process.Start(new ProcessStartInfo(self,
            string.Create(CultureInfo.InvariantCulture, $"{prefix}postgres-worker \"{connection}\" {p} {callers} {seconds} {(combined ? "combined" : "alone")}"))
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false,
        })!).ToList();
        foreach (var worker in workers)
        {
            var ready = await worker.StandardOutput.ReadLineAsync();
            if (ready != "ready")
            {
                throw new InvalidOperationException($"a worker said '{ready}' instead of ready");
            }
        }

        foreach (var worker in workers)
        {
            await worker.StandardInput.WriteLineAsync("go");
            await worker.StandardInput.FlushAsync();
        }

        var counts = await Task.WhenAll(workers.Select(async w => double.Parse((await w.StandardOutput.ReadLineAsync())!, CultureInfo.InvariantCulture)));
        foreach (var worker in workers)
        {
            await worker.WaitForExitAsync();
            worker.Dispose();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"reservations (reserve + settle) across 4 processes x {callers} callers, one tree, {(combined ? "combined" : "one round trip each")}: {counts.Sum():N0}/s (load {LoadAverage()})"));
    }

    /// <summary>One process of <see cref="ProcessesAsync"/>: prints its reservations per second.</summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        var (connection, process, callers, seconds, combined) = (args[0], int.Parse(args[1], CultureInfo.InvariantCulture),
            int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), args[4] == "combined");
        await using var ledger = await PostgresLedger.OpenAsync(connection);
        var shared = new PostgresBudgetReservations(ledger);
        var budgets = Enumerable.Range(0, callers).Select(_ => combined ? shared : new PostgresBudgetReservations(ledger)).ToArray();
        var trees = Enumerable.Range(0, callers).Select(c => Tree("org", process, c)).ToArray();
        for (var c = 0; c < callers; c++)
        {
            await budgets[c].SettleAsync((await budgets[c].TryReserveAsync(trees[c], 0.01m, TimeSpan.FromMinutes(1))).Reservation!, 0.01m);
        }

        await Task.WhenAll(Enumerable.Range(0, callers).Select(async c =>
        {
            for (var i = 0; i < 50; i++)
            {
                await budgets[c].SettleAsync((await budgets[c].TryReserveAsync(trees[c], 0.01m, TimeSpan.FromMinutes(1))).Reservation!, 0.01m);
            }
        }));
        Console.WriteLine("ready");
        if (Console.ReadLine() != "go")
        {
            return 1;
        }

        var done = 0L;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            while (clock.Elapsed < until)
            {
                var result = await budgets[c].TryReserveAsync(trees[c], 0.01m, TimeSpan.FromMinutes(1));
                await budgets[c].SettleAsync(result.Reservation!, 0.01m);
                Interlocked.Increment(ref done);
            }
        })));
        Console.WriteLine((done / clock.Elapsed.TotalSeconds).ToString("F1", CultureInfo.InvariantCulture));
        return 0;
    }

    // The CPU the throwaway cluster's server processes used so far (the postmaster's children alive now), 0 for a server of --connection.
    private static double ServerCpuSeconds()
    {
        if (s_dataFolder is null || !File.Exists(Path.Combine(s_dataFolder, "postmaster.pid")))
        {
            return 0;
        }

        var postmaster = File.ReadLines(Path.Combine(s_dataFolder, "postmaster.pid")).First().Trim();
        var ticks = 0L;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == postmaster || Path.GetFileName(dir) == postmaster)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return ticks / 100.0;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
