using System.Diagnostics;
using System.Reflection;
using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using CageNet.Ledger;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 5, durability: a new process sees the same counters and warning state. The host (tests/Cage.Ledger.CrashHost,
/// <c>budget</c> mode) meters reserved calls into a real SQLite file; the first run is killed with SIGKILL after its
/// calls were flushed, a second process carries on from the same counters, and this process reads them back.
/// </summary>
[NonParallelizable]
public sealed class SqliteBudgetDurabilityTests
{
    private static void Tree(BudgetOptions o)
    {
        o.Node("team").CapUsd(5m).WarnAt(usd: 0.5m);
        o.Node("team/{user}").CapUsd(1m).Block();
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Guard_KilledProcessThenNewProcess_KeepsCountersAndWarningState(CancellationToken cancellationToken)
    {
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        try
        {
            // 1. First process: six $0.10 calls; the team's $0.50 warning fires on the fifth. SIGKILL once flushed.
            var first = await RunAsync(path, 6, kill: true, cancellationToken);
            Assert.That(first, Is.EqualTo(new[]
            {
                "admitted 0", "admitted 1", "admitted 2", "admitted 3", "warning team usd:0.5", "admitted 4", "admitted 5", "flushed",
            }));

            // 2. Second process: rebuilds $0.60 for alice, admits four more up to her $1 cap (warning at 100%), refuses the
            //    fifth before it is sent. The team's $0.50 warning does not fire again.
            var second = await RunAsync(path, 6, kill: false, cancellationToken);
            Assert.That(second, Is.EqualTo(new[]
            {
                "admitted 0", "admitted 1", "admitted 2", "warning team/alice usd:100%", "admitted 3", "refused team/alice budget_exceeded", "flushed",
            }));

            // 3. This process reads the same state from the file.
            await using var ledger = SqliteLedger.Open(path);
            var options = new BudgetOptions();
            Tree(options);
            using var guard = new BudgetGuard(options, TimeProvider.System, new SqliteBudgetStore(ledger));
            // The host registered the tree's budget rollup: its writer summed the ten calls, so none is replayed.
            Assert.That(await guard.InitializeAsync(ledger, cancellationToken), Is.Zero);

            var status = guard.GetStatus(new BudgetScope(User: "alice"));
            Assert.That(status.Nodes.Select(n => (n.Path, n.Usd.Spent)), Is.EqualTo(new[] { ("team", 1.0m), ("team/alice", 1.0m) }));
            Assert.That(status.Nodes[0].WarningsFired, Is.EqualTo(new[] { "usd:0.5" }));
            Assert.That(status.Nodes[1].WarningsFired, Is.EqualTo(new[] { "usd:100%" }));
            Assert.That(status.Proceed, Is.False);
            Assert.That(guard.Check(new BudgetScope(User: "alice"))!.Node, Is.EqualTo("team/alice"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task EstimatorTokens_MeteredAfterTheLastSave_AreCountedFromTheLedgerAfterASigkill(CancellationToken cancellationToken)
    {
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        try
        {
            // A reading of 10% (saved), then two calls of 8,000 sonnet tokens that nothing saved before the SIGKILL.
            var lines = await RunAsync(["estimator", path, "2", "8000"], kill: true, cancellationToken);
            Assert.That(lines, Has.Count.EqualTo(2));
            Assert.That(lines[1], Is.EqualTo("flushed"));
            var resets = DateTimeOffset.Parse(lines[0]["resets ".Length..], System.Globalization.CultureInfo.InvariantCulture);

            await using var ledger = SqliteLedger.Open(path);
            var options = new BudgetOptions();
            options.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(50));
            var store = new SqliteBudgetStore(ledger);
            using (var guard = new BudgetGuard(options, TimeProvider.System, store))
            {
                await guard.InitializeAsync(ledger, cancellationToken);

                // The next reading (14%) reconciles against the 16,000 tokens the killed process metered: the sonnet
                // bootstrap is 40,000 / 5 = 8,000 tokens per 1%, so they were estimated at 2%.
                var now = DateTimeOffset.UtcNow;
                guard.Estimator.Observe(new SubscriptionSample("5h", 0.14, now, resets));
                var reconciled = guard.Estimator.LastReconciliation;
                Assert.That(reconciled, Is.Not.Null, "the tokens metered before the SIGKILL reached the reading");
                Assert.That(reconciled!.MeasuredPct, Is.EqualTo(4.0).Within(1e-9));
                Assert.That(reconciled.EstimatedPct, Is.EqualTo(2.0).Within(1e-9));
            }

            // Counted once: a guard started after that one (which saved the reading) finds nothing more to count.
            using var again = new BudgetGuard(options, TimeProvider.System, store);
            await again.InitializeAsync(ledger, cancellationToken);
            var now2 = DateTimeOffset.UtcNow.AddMilliseconds(1);
            again.Estimator.Observe(new SubscriptionSample("5h", 0.16, now2, resets));
            Assert.That(again.Estimator.LastReconciliation, Is.Null, "no tokens were pending: the recovered calls are not counted twice");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    private static Task<List<string>> RunAsync(string path, int calls, bool kill, CancellationToken cancellationToken) =>
        RunAsync(["budget", path, calls.ToString(System.Globalization.CultureInfo.InvariantCulture), .. (kill ? (string[])["wait"] : [])], kill, cancellationToken);

    private static async Task<List<string>> RunAsync(string[] arguments, bool kill, CancellationToken cancellationToken)
    {
        var host = typeof(SqliteBudgetDurabilityTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "CrashHostAssembly").Value;
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { host! }.Concat(arguments))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            lines.Add(line);
            if (kill && line == "flushed")
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no disposal, no graceful shutdown
                break;
            }
        }

        await process.WaitForExitAsync(cancellationToken);
        if (!kill)
        {
            Assert.That(await process.StandardError.ReadToEndAsync(cancellationToken), Is.Empty);
            Assert.That(process.ExitCode, Is.Zero);
        }

        return lines;
    }
}
