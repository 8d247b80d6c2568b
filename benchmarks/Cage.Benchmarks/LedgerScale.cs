using System.Diagnostics;
using System.Globalization;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;

namespace CageNet.Benchmarks;

/// <summary>
/// The ledger-scale harness (SPEC 9): generates N calls and 3N receipts, and measures durable ingest (direct batched
/// appends and through the metering pipeline), JSONL import, and <c>report</c> at that scale, with the peak resident
/// memory of each phase (Linux VmHWM, reset between phases).
/// </summary>
internal static class LedgerScale
{
    private static readonly string[] Routes = ["code-edit", "chat", "search", "summarize", "plan", "review", "triage", "docs"];
    private static readonly (string Provider, string Model)[] Models =
    [
        ("anthropic", "claude-opus-4-8"), ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"),
        ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("gemini", "gemini-2.5-pro"), ("acme", "unpriced-model"),
    ];
    private static readonly string[] Tools = ["graphify", "fux", "compressor", "cache", "router"];

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 1_000_000;
        var reportOnly = false;
        var pipelineOnly = false;
        var viewsOnly = false;
        var ingestOnly = false;
        var skipPrebuilt = false;
        var dir = Path.Combine(Path.GetTempPath(), "cage-scale");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[++i]; break;
                case "--report-only": reportOnly = true; break;
                case "--pipeline-only": pipelineOnly = true; break;
                case "--views-only": viewsOnly = true; break;
                case "--ingest-only": ingestOnly = true; break;
                case "--skip-prebuilt": skipPrebuilt = true; break; // 10M+: the prebuilt phase would hold every record in memory
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }

        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        if (pipelineOnly)
        {
            // A fresh process: the pipeline's own peak memory, not what earlier phases left on the heap.
            Directory.CreateDirectory(dir);
            File.Delete(Path.Combine(dir, "pipeline.db"));
            await PipelinePhaseAsync(dir, calls, PriceCatalog.BuiltIn, all: true);
            return 0;
        }

        if (viewsOnly)
        {
            // A fresh process over an existing ledger: the attribution views' times and their own peak memory.
            await ViewsPhaseAsync(Path.Combine(dir, "ingest.db"), calls, start);
            return 0;
        }

        if (reportOnly)
        {
            // A fresh process over an existing ledger: its peak memory is the report's own.
            await ReportPhaseAsync(Path.Combine(dir, "ingest.db"), calls, start);
            return 0;
        }

        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        Console.WriteLine($"# Cage ledger scale: {calls:N0} calls + {3L * calls:N0} receipts  ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");

        var catalog = PriceCatalog.BuiltIn;

        // Phase 0: durable ingest of calls alone (the SPEC 9 ingest figure), 10k-call transactions. The traffic is
        // generated on another thread (as an app's metering threads produce it) and handed over in batches, so the
        // time is the ledger's, not the generator's.
        ResetPeak();
        var swCalls = Stopwatch.StartNew();
        await using (var ledger = SqliteLedger.Open(Path.Combine(dir, "calls-only.db")))
        {
            await foreach (var (c, _) in GenerateAhead(calls, start, catalog, receipts: false))
            {
                await ledger.AppendAsync(new LedgerBatch(c, []));
            }
        }

        swCalls.Stop();
        Report("ingest of calls alone (AppendAsync, 10k-call transactions, generated on another thread)", swCalls.Elapsed, calls);

        // Phase 0b: the ledger's own rate: every record is built before the clock starts (the harness holds them all,
        // about 1 GB at 1M calls, so this phase's peak memory is the harness's, not the ledger's).
        var prebuilt = new List<CallRecord[]>();
        for (var offset = 0; !skipPrebuilt && offset < calls; offset += 10_000)
        {
            prebuilt.Add(Generate(offset, Math.Min(10_000, calls - offset), start, catalog).Calls);
        }

        GC.Collect();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        swCalls.Restart();
        await using (var ledger = SqliteLedger.Open(Path.Combine(dir, "calls-prebuilt.db")))
        {
            foreach (var batch in prebuilt)
            {
                await ledger.AppendAsync(new LedgerBatch(batch, []));
            }
        }

        swCalls.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        prebuilt.Clear();
        if (!skipPrebuilt)
        {
            Report("ingest of prebuilt calls (AppendAsync, 10k-call transactions)", swCalls.Elapsed, calls);
            // The process's CPU time in that phase (one writer thread, plus the JIT): less sensitive than the wall time
            // to other work on a shared machine.
            Console.WriteLine($"  cpu time of that phase: {cpu.TotalSeconds:F2} s ({calls / cpu.TotalSeconds:N0} calls per CPU-second)");
        }
        if (ingestOnly)
        {
            return 0;
        }

        // Phase 1: durable ingest through SqliteLedger.AppendAsync in 10k batches.
        var ingestPath = Path.Combine(dir, "ingest.db");
        ResetPeak();
        var sw = Stopwatch.StartNew();
        await using (var ledger = SqliteLedger.Open(ingestPath))
        {
            // Sustained: the rate of each million, not only the average (printed past the first million).
            long stored = 0, mark = 0;
            var lap = Stopwatch.StartNew();
            await foreach (var (c, r) in GenerateAhead(calls, start, catalog, receipts: true))
            {
                await ledger.AppendAsync(new LedgerBatch(c, r));
                stored += c.Length;
                if (stored - mark >= 1_000_000 && calls > 1_000_000)
                {
                    Console.WriteLine($"  calls {mark:N0}–{stored:N0}: {(stored - mark) / lap.Elapsed.TotalSeconds:N0} calls/s (+3 receipts each)");
                    (mark, _) = (stored, 0);
                    lap.Restart();
                }
            }
        }

        sw.Stop();
        Report("ingest (AppendAsync, 10k batches, calls + 3 receipts each)", sw.Elapsed, calls);
        var bytes = new FileInfo(ingestPath).Length;
        Console.WriteLine($"  ledger file: {bytes / 1048576.0:N0} MiB, {bytes / (double)calls:N0} bytes per call (with its 3 receipts, totals and postings)");

        // Phase 2: ingest through the metering pipeline (the path an app takes).
        await PipelinePhaseAsync(dir, calls, catalog, all: false);

        // Phase 3: export to reference JSONL, then import into a fresh ledger.
        var exportDir = Path.Combine(dir, "export");
        await using (var ledger = SqliteLedger.Open(ingestPath))
        {
            sw.Restart();
            var exported = await ReferenceJsonl.ExportAsync(ledger, exportDir);
            sw.Stop();
            Report($"export ({exported.Calls:N0} calls, {exported.Receipts:N0} receipts)", sw.Elapsed, calls);
        }

        ResetPeak();
        await using (var fresh = SqliteLedger.Open(Path.Combine(dir, "import.db")))
        {
            sw.Restart();
            var result = await ReferenceJsonl.ImportAsync(fresh, exportDir, catalog);
            sw.Stop();
            Report($"import of calls.jsonl + receipts.jsonl (added {result.Appended.CallsAdded:N0} calls, {result.Appended.ReceiptsAdded:N0} receipts, {result.Errors.Count} errors)", sw.Elapsed, calls);
        }

        // Phase 4: report (run again with --report-only in a fresh process for its own peak memory).
        await ReportPhaseAsync(ingestPath, calls, start);
        Console.WriteLine($"ledger file {new FileInfo(ingestPath).Length / 1048576.0:F0} MB");
        return 0;
    }

    private static async Task PipelinePhaseAsync(string dir, int calls, PriceCatalog catalog, bool all)
    {
        var sw = new Stopwatch();
        var pipePath = Path.Combine(dir, "pipeline.db");
        File.Delete(pipePath);
        var pipeCalls = all ? calls : Math.Min(calls, 500_000);
        ResetPeak();
        sw.Restart();
        await using (var ledger = SqliteLedger.Open(pipePath))
        {
            // Default options and a tight loop with no back-off of its own: the producer outruns the writer, fills the
            // queue and then waits for room (the pipeline's backpressure), so this measures the sustained rate the
            // writer commits at, with the memory a real app would use; "dropped" must be 0.
            var meter = new CageMeter(ledger, catalog, TimeProvider.System, new MeteringOptions());
            for (var i = 0; i < pipeCalls; i++)
            {
                var (provider, model) = Models[i % Models.Length];
                using var m = meter.Meter(Routes[i % Routes.Length], task: "task-" + (i / 50));
                m.Usage(provider, model, input: 1000 + (i % 5000), output: 100 + (i % 900), cacheRead: i % 3 == 0 ? 2000 : 0);
            }

            await meter.FlushAsync();
            var stats = meter.Statistics;
            await meter.DisposeAsync();
            sw.Stop();
            Report($"ingest through the meter pipeline (written {stats.Written:N0}, dropped {stats.Dropped:N0})", sw.Elapsed, pipeCalls);
        }
    }

    private static async Task ReportPhaseAsync(string ingestPath, int calls, DateTimeOffset start)
    {
        var sw = new Stopwatch();
        ResetPeak();
        await using var ledger = SqliteLedger.Open(ingestPath);
        foreach (var dimension in new[] { ReportDimension.Route, ReportDimension.Model, ReportDimension.Day, ReportDimension.Task, ReportDimension.Session })
        {
            var times = new List<double>();
            SpendReport? last = null;
            for (var run = 0; run < 7; run++)
            {
                sw.Restart();
                last = await ledger.ReportAsync(new ReportQuery(dimension, TimeWindow.All));
                sw.Stop();
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Console.WriteLine($"report --by {dimension.ToString().ToLowerInvariant(),-8} median {times[3],8:F1} ms  (min {times[0]:F1}, max {times[^1]:F1})  groups {last!.Groups.Count:N0}  total ${last.Total.CostUsd:N2}  peak RSS {PeakMb():F0} MB");
        }

        var window = new TimeWindow(start.AddDays(80).AddHours(5), null, "2026-03-22T05:00:00Z");
        var t = new List<double>();
        for (var run = 0; run < 7; run++)
        {
            sw.Restart();
            await ledger.ReportAsync(new ReportQuery(ReportDimension.Route, window));
            sw.Stop();
            t.Add(sw.Elapsed.TotalMilliseconds);
        }

        t.Sort();
        Console.WriteLine($"report --since (last ~10 of 90 days, partial first day) median {t[3]:F1} ms");
        var task = "task-" + (calls / 100);
        sw.Restart();
        var taskCalls = await ledger.CallsForTaskAsync(task);
        var taskReceipts = await ledger.ReceiptsForTaskAsync(task);
        sw.Stop();
        Console.WriteLine($"one task's calls + receipts ({taskCalls.Count} + {taskReceipts.Count}) {sw.Elapsed.TotalMilliseconds:F2} ms; peak RSS of the whole report phase {PeakMb():F0} MB");
    }

    private static async Task ViewsPhaseAsync(string ingestPath, int calls, DateTimeOffset start)
    {
        ResetPeak();
        await using var ledger = SqliteLedger.Open(ingestPath);
        var end = start.AddDays(90);
        var service = new CageNet.Attribution.AttributionService(ledger, PriceCatalog.BuiltIn, Tools, new FixedClock(end));
        var task = "task-" + (calls / 100);
        Console.WriteLine($"# attribution views over {ingestPath}: {calls:N0} calls + {3L * calls:N0} receipts; one task = {task}");

        async Task Time(string what, int runs, Func<Task<string>> body)
        {
            var times = new List<double>();
            var cpus = new List<double>();
            var detail = "";
            for (var run = 0; run < runs; run++)
            {
                // The process's CPU time too: on a shared machine it moves less than the wall time (the views run on one thread).
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                detail = await body();
                sw.Stop();
                times.Add(sw.Elapsed.TotalMilliseconds);
                cpus.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
            }

            times.Sort();
            cpus.Sort();
            Console.WriteLine($"{what,-34} median {times[times.Count / 2],9:F1} ms  (min {times[0]:F1}, max {times[^1]:F1}; cpu {cpus[cpus.Count / 2]:F0} ms)  {detail}  peak RSS {PeakMb():F0} MB");
        }

        await Time("attrib --task (one task)", 7, async () => $"{(await service.AttributeAsync(task))!.Tools.Count} rows");
        await Time("matrix --task (one task)", 7, async () => $"{(await service.MatrixAsync(task))!.Rows.Count} rows");
        await Time("attrib --shapley (one task)", 7, async () => $"{(await service.AttributeAsync(task, shapley: true))!.Shapley?.Tools.Count} tools");
        await Time("quality (whole ledger)", 3, async () => $"{(await service.QualityAsync()).Tasks:N0} tasks");
        await Time("regression (7d vs 28d)", 3, async () => $"{(await service.RegressionAsync()).Groups.Count} groups");
        await Time("regression --by route", 3, async () => $"{(await service.RegressionAsync(new CageNet.Attribution.RegressionQuery { By = ReportDimension.Route })).Groups.Count} groups");
        await Time("forecast", 3, async () => $"${(await service.ForecastAsync()).ProjectedMonthUsd:N2} projected");
        await Time("roi (whole ledger)", 3, async () => $"{(await service.RoiAsync()).Tools.Count} tools");
        await Time("roi --since 7d", 3, async () => $"{(await service.RoiAsync(new TimeWindow(end.AddDays(-7), null))).Tools.Count} tools");
        await Time("recommend (whole ledger)", 5, async () => $"{(await service.RecommendAsync()).Routes.Count} routes");
        // Its parts: the tasks per route counted by SQLite, and the receipt totals it shares with roi.
        var routes = (await ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All))).Groups.Select(g => g.Key).ToList();
        await Time("  tasks per route (SQLite)", 5, async () =>
            $"{(await ((IRouteTaskCounts)ledger).CountRouteTasksAsync(TimeWindow.All, routes, new Dictionary<string, HashSet<string>>())).Values.Sum(c => c.Tasks):N0} route-tasks");
        await Time("  receipt totals (read)", 5, async () =>
        {
            var n = 0;
            await foreach (var _ in ledger.ReadReceiptTotalsAsync(TimeWindow.All))
            {
                n++;
            }

            return $"{n:N0} rows";
        });
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    /// <summary>Generates 10k-call batches on a background thread, at most four ahead of the consumer.</summary>
    internal static async IAsyncEnumerable<(CallRecord[] Calls, SavingsReceipt[] Receipts)> GenerateAhead(int calls, DateTimeOffset start, PriceCatalog catalog, bool receipts)
    {
        var channel = System.Threading.Channels.Channel.CreateBounded<(CallRecord[], SavingsReceipt[])>(4);
        var producer = Task.Run(async () =>
        {
            for (var offset = 0; offset < calls; offset += 10_000)
            {
                var (c, r) = Generate(offset, Math.Min(10_000, calls - offset), start, catalog);
                await channel.Writer.WriteAsync((c, receipts ? r : []));
            }

            channel.Writer.Complete();
        });
        await foreach (var batch in channel.Reader.ReadAllAsync())
        {
            yield return batch;
        }

        await producer;
    }

    /// <summary>Deterministic synthetic traffic: 50 calls per task, 8 routes, 8 models (one unpriced), 90 days, 3 receipts per call.</summary>
    internal static (CallRecord[] Calls, SavingsReceipt[] Receipts) Generate(int offset, int count, DateTimeOffset start, PriceCatalog catalog)
    {
        var calls = new CallRecord[count];
        var receipts = new SavingsReceipt[count * 3];
        for (var k = 0; k < count; k++)
        {
            var i = offset + k;
            var (provider, model) = Models[i % Models.Length];
            var usage = new TokenUsage(1000 + (i % 5000), CacheRead: i % 3 == 0 ? 2000 : 0, Output: 100 + (i % 900));
            var quote = catalog.Price(provider, model, usage);
            var at = start.AddSeconds(i * (90.0 * 86400 / 1_000_000));
            // Cage ids, as Cage.Meter stamps them: the call's millisecond and random bits.
            var id = CageIds.New('c', CageIds.TruncateToMilliseconds(at));
            var task = "task-" + (i / 50).ToString(CultureInfo.InvariantCulture);
            calls[k] = new CallRecord
            {
                Id = id,
                Timestamp = CageIds.TruncateToMilliseconds(at),
                Session = "s-" + (i / 500).ToString(CultureInfo.InvariantCulture),
                Task = task,
                Agent = i % 2 == 0 ? "claude-code" : "codex",
                Route = Routes[i % Routes.Length],
                Provider = provider,
                Model = model,
                Usage = usage,
                CostUsd = quote.CostUsd,
                CostSource = quote.Source,
                PriceKey = quote.PriceKey,
                LatencyMs = 200 + (i % 3000),
            };
            for (var j = 0; j < 3; j++)
            {
                var tool = Tools[(i + j) % Tools.Length];
                receipts[k * 3 + j] = SavingsReceipt.Create(
                    CageIds.New('r', CageIds.TruncateToMilliseconds(at)),
                    at, tool, 4000 + (i % 1000), 1000 + (j * 100), id, task,
                    method: j == 2 ? SavingsMethod.Measured : SavingsMethod.Modeled);
            }
        }

        return (calls, receipts);
    }

    private static void Report(string what, TimeSpan elapsed, long calls) =>
        Console.WriteLine($"{what}: {elapsed.TotalSeconds:F2} s, {calls / elapsed.TotalSeconds:N0} calls/s, peak RSS {PeakMb():F0} MB");

    private static void ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM on Linux
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static double PeakMb()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }
        catch (IOException)
        {
        }

        return Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
    }
}
