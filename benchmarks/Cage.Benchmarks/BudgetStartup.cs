using System.Diagnostics;
using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Benchmarks;

/// <summary>
/// <c>budgets [--calls N] [--dir PATH]</c>: the budget guard's start-up over a large SQLite ledger (issue 16 item 4),
/// from the writer-kept rollup against the replay of the current periods' calls it replaces, in one sitting; and what
/// keeping the rollup costs durable ingest (prebuilt calls into a file with and without a registered tree, alternated).
/// The traffic is the scale harness's (90 days, 2 agents, 2,000 sessions); the clock is at the end of the 90 days.
/// <c>--startup-only</c> skips the ingest comparison: the file is written once, batch by batch as it is generated (so
/// 10M calls fit in memory), and the replay baseline runs once. <c>--reuse</c> (with <c>--startup-only</c>) keeps the
/// file an earlier run left in <c>--dir</c> and times only the start-ups from its rollups.
/// </summary>
internal static class BudgetStartup
{
    /// <summary>An organisation over the harness's labels: a monthly root, a daily cap per agent, a lifetime cap per session, a 5-hour seat.</summary>
    private static BudgetOptions Tree(bool seat = true)
    {
        var o = new BudgetOptions();
        o.Node("org").CapUsd(1_000_000m).Every(BudgetPeriod.Month).WarnAt(pct: [80]);
        o.Node("org/{agent}").CapUsd(BudgetLimit.PercentOfParent(50)).Every(BudgetPeriod.Day);
        o.Node("sessions/{session}").CapUsd(10_000m);
        if (seat)
        {
            o.Node("seat").CapTokens(1_000_000_000).Every(BudgetPeriod.FiveHours);
        }

        return o;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 1_000_000;
        var dir = Path.Combine(Path.GetTempPath(), "cage-budgets");
        var startupOnly = false;
        var reuse = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[++i]; break;
                case "--startup-only": startupOnly = true; break;
                case "--reuse": reuse = true; break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }

        Console.WriteLine($"# Cage budget start-up: {calls:N0} calls  ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var path = Path.Combine(dir, "ledger.db");
        if (reuse && startupOnly && File.Exists(path))
        {
            var at = new FixedTime(LedgerScale.Generate(calls - 1, 1, start, PriceCatalog.BuiltIn).Calls[0].Timestamp.AddMinutes(1));
            var seat = await TimeStartAsync(() => SqliteLedger.Open(path), at, 9);
            Console.WriteLine($"guard start-up from the rollup: median {seat.Median:F1} ms (min {seat.Min:F1}, max {seat.Max:F1}), {seat.Replayed:N0} calls replayed (the 5-hour seat's)");
            var plainTree = await TimeStartAsync(() => SqliteLedger.Open(path), at, 9, seat: false);
            Console.WriteLine($"the same tree without the 5-hour seat, from its rollup: median {plainTree.Median:F1} ms (min {plainTree.Min:F1}, max {plainTree.Max:F1}), {plainTree.Replayed:N0} calls replayed");
            return 0;
        }

        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var time = startupOnly ? await WriteOnceAsync(path, calls, start) : await CompareIngestAsync(path, calls, start);

        // The last file has the rollup (registered before the calls). A copy without it is the replay baseline.
        var bare = Path.Combine(dir, "bare.db");
        File.Copy(path, bare);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={bare};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM budget_totals; DELETE FROM budget_rollups;";
            command.ExecuteNonQuery();
        }

        var replay = await TimeStartAsync(() => SqliteLedger.OpenReadOnly(bare), time, startupOnly ? 1 : 3);
        Console.WriteLine($"guard start-up replaying the current periods' calls (read-only, no rollup): median {replay.Median:F1} ms, {replay.Replayed:N0} calls replayed");

        var sw2 = Stopwatch.StartNew();
        await using (var ledger = SqliteLedger.Open(bare))
        {
            using var register = new BudgetGuard(Tree(), time, new SqliteBudgetStore(ledger));
            await register.InitializeAsync(ledger);
        }

        sw2.Stop();
        Console.WriteLine($"first start-up over that file, registering the tree (one pass over the current periods' calls): {sw2.Elapsed.TotalMilliseconds:F0} ms");

        var fromRollup = await TimeStartAsync(() => SqliteLedger.Open(path), time, 9);
        Console.WriteLine($"guard start-up from the rollup: median {fromRollup.Median:F1} ms (min {fromRollup.Min:F1}, max {fromRollup.Max:F1}), {fromRollup.Replayed:N0} calls replayed (the 5-hour seat's)");
        Console.WriteLine($"same answer as the replay: {(fromRollup.Status == replay.Status ? "yes" : "NO")}  ({fromRollup.Nodes:N0} nodes in the tree)");
        await using (var ledger = SqliteLedger.Open(path))
        {
            using var register = new BudgetGuard(Tree(seat: false), time, new SqliteBudgetStore(ledger));
            await register.InitializeAsync(ledger); // registers the tree without the seat
        }

        var noSeat = await TimeStartAsync(() => SqliteLedger.Open(path), time, 9, seat: false);
        Console.WriteLine($"the same tree without the 5-hour seat, from its rollup: median {noSeat.Median:F1} ms (min {noSeat.Min:F1}, max {noSeat.Max:F1}), {noSeat.Replayed:N0} calls replayed");
        return fromRollup.Status == replay.Status ? 0 : 1;
    }

    /// <summary>Ingest with and without a registered tree, alternated, three rounds each; leaves the file with the rollup at <paramref name="path"/>.</summary>
    private static async Task<TimeProvider> CompareIngestAsync(string path, int calls, DateTimeOffset start)
    {
        var prebuilt = new List<CallRecord[]>();
        for (var offset = 0; offset < calls; offset += 10_000)
        {
            prebuilt.Add(LedgerScale.Generate(offset, Math.Min(10_000, calls - offset), start, PriceCatalog.BuiltIn).Calls);
        }

        var time = new FixedTime(prebuilt[^1][^1].Timestamp.AddMinutes(1));
        var plain = new List<double>();
        var rolled = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            foreach (var withRollup in new[] { false, true })
            {
                File.Delete(path);
                await using (var ledger = SqliteLedger.Open(path))
                {
                    if (withRollup)
                    {
                        using var register = new BudgetGuard(Tree(), time, new SqliteBudgetStore(ledger));
                        await register.InitializeAsync(ledger); // an empty file: registers the tree
                    }

                    GC.Collect();
                    var sw = Stopwatch.StartNew();
                    foreach (var batch in prebuilt)
                    {
                        await ledger.AppendAsync(new LedgerBatch(batch, []));
                    }

                    sw.Stop();
                    (withRollup ? rolled : plain).Add(calls / sw.Elapsed.TotalSeconds);
                }
            }
        }

        plain.Sort();
        rolled.Sort();
        Console.WriteLine($"ingest of prebuilt calls, 10k-call transactions: without a tree {plain[1]:N0} calls/s, with the tree's rollup {rolled[1]:N0} calls/s (medians of 3): {rolled[1] / plain[1]:P0}");
        return time;
    }

    /// <summary>Writes the calls once into a file with the tree registered, generating each batch as it goes.</summary>
    private static async Task<TimeProvider> WriteOnceAsync(string path, int calls, DateTimeOffset start)
    {
        var end = LedgerScale.Generate(calls - 1, 1, start, PriceCatalog.BuiltIn).Calls[0].Timestamp;
        var time = new FixedTime(end.AddMinutes(1));
        await using var ledger = SqliteLedger.Open(path);
        using (var register = new BudgetGuard(Tree(), time, new SqliteBudgetStore(ledger)))
        {
            await register.InitializeAsync(ledger); // an empty file: registers the tree
        }

        var sw = Stopwatch.StartNew();
        for (var offset = 0; offset < calls; offset += 10_000)
        {
            await ledger.AppendAsync(new LedgerBatch(LedgerScale.Generate(offset, Math.Min(10_000, calls - offset), start, PriceCatalog.BuiltIn).Calls, []));
        }

        Console.WriteLine($"wrote {calls:N0} calls with the tree's rollup in {sw.Elapsed.TotalSeconds:F0} s; {new FileInfo(path).Length / (double)calls:F0} bytes per call on disk");
        return time;
    }

    private static async Task<(double Median, double Min, double Max, long Replayed, string Status, int Nodes)> TimeStartAsync(Func<SqliteLedger> open, TimeProvider time, int rounds, bool seat = true)
    {
        var times = new List<double>();
        long replayed = 0;
        var status = "";
        var nodes = 0;
        for (var i = 0; i < rounds; i++)
        {
            await using var ledger = open();
            var sw = Stopwatch.StartNew();
            using var guard = new BudgetGuard(Tree(seat), time, new SqliteBudgetStore(ledger));
            replayed = await guard.InitializeAsync(ledger);
            var init = sw.Elapsed.TotalMilliseconds;
            var tree = guard.GetStatus(new BudgetScope(Agent: "codex", Session: "s-1999"));
            sw.Stop();
            if (Environment.GetEnvironmentVariable("CAGE_BENCH_VERBOSE") is not null)
            {
                Console.WriteLine($"    round {i}: InitializeAsync {init:F1} ms, GetStatus {sw.Elapsed.TotalMilliseconds - init:F1} ms");
            }

            times.Add(sw.Elapsed.TotalMilliseconds);
            status = string.Join("; ", tree.Nodes.Select(n => $"{n.Path} {n.Usd.Spent} {n.Tokens.Spent} {n.UnpricedCalls}"));
            nodes = tree.Nodes.Count;
        }

        times.Sort();
        return (times[times.Count / 2], times[0], times[^1], replayed, status, nodes);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
