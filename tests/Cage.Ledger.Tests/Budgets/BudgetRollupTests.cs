using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 16 item 4 (and issue 19's budget path): a guard over a SQLite ledger starts from the budget rollup the writer
/// keeps (schema step 10, <c>budget_totals</c>) instead of replaying the current periods' calls. Every test compares
/// the rollup-started guard with a guard that replays the same file's calls (the rebuild the rollup replaces), node by
/// node, and checks the rollup was really used.
/// </summary>
public sealed class BudgetRollupTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 20, 15, 0, 0, TimeSpan.Zero);

    /// <summary>An organisation: a monthly root, teams routed by a label, users per day, a lifetime agent cap, a 5-hour seat.</summary>
    private static BudgetOptions Tree()
    {
        var o = new BudgetOptions { TimeZone = "America/New_York", FallbackUsdPerMillionTokens = 2m };
        o.Node("org").CapUsd(1000m).Every(BudgetPeriod.Month);
        o.Node("org/team-a").CapUsd(400m).Every(BudgetPeriod.Month);
        o.Node("org/team-b").CapUsd(600m).Every(BudgetPeriod.Month);
        o.Node("org/{team}/{user}").CapUsd(50m).Every(BudgetPeriod.Day);
        o.Node("agents/{agent}").CapUsd(500m);
        o.Node("seat").CapTokens(10_000_000).Every(BudgetPeriod.FiveHours);
        return o;
    }

    /// <summary>Deterministic traffic over the 45 days before <see cref="Now"/> and a few calls stamped after it.</summary>
    private static List<CallRecord> Traffic(int count, int seed, string prefix = "c")
    {
        var random = new Random(seed);
        var calls = new List<CallRecord>();
        for (var i = 0; i < count; i++)
        {
            var at = i % 50 == 49 ? Now + TimeSpan.FromMinutes(random.Next(1, 30)) : Now - TimeSpan.FromMinutes(random.Next(0, 45 * 24 * 60));
            calls.Add(Call(
                prefix + i.ToString(CultureInfo.InvariantCulture),
                ts: at.ToString("O", CultureInfo.InvariantCulture),
                user: "u" + random.Next(5).ToString(CultureInfo.InvariantCulture),
                agent: "agent-" + random.Next(3).ToString(CultureInfo.InvariantCulture),
                usage: new TokenUsage(random.Next(100, 5000), 0, 0, 0, random.Next(10, 900)),
                cost: random.Next(10) == 0 ? null : random.Next(1, 100_000) / 1_000_000m,
                source: CostSource.Catalog,
                tags: random.Next(4) == 0 ? null : new Dictionary<string, string> { ["team"] = random.Next(2) == 0 ? "team-a" : "team-b" }));
        }

        return calls;
    }

    /// <summary>Every node's spent dollars, tokens and unpriced calls, from the guard's whole tree.</summary>
    private static List<(string Path, decimal Usd, decimal Tokens, long Unpriced)> Spent(BudgetGuard guard) =>
        [.. guard.Tree(default).Nodes.Select(n => (n.Path, n.Usd.Spent, n.Tokens.Spent, n.UnpricedCalls)).OrderBy(n => n.Path, StringComparer.Ordinal)];

    private static async Task<(BudgetGuard Guard, long Replayed)> StartAsync(ILedgerReader ledger, IBudgetStore store, TimeProvider time, BudgetOptions? options = null)
    {
        var guard = new BudgetGuard(options ?? Tree(), time, store);
        var replayed = await guard.InitializeAsync(ledger);
        return (guard, replayed);
    }

    /// <summary>The guard's answer when it replays the file's calls (a reader that keeps no rollup).</summary>
    private static async Task<List<(string, decimal, decimal, long)>> ReplayedAsync(SqliteLedger ledger, TimeProvider time, BudgetOptions? options = null)
    {
        var (guard, replayed) = await StartAsync(new ReplayOnly(ledger), new SqliteBudgetStore(ledger), time, options);
        using (guard)
        {
            Assert.That(replayed, Is.GreaterThan(0), "the reference guard replays calls");
            return Spent(guard);
        }
    }

    private static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    [Test]
    public async Task FirstStart_RegistersTheRollup_AndLaterStartsReadItInsteadOfReplaying()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(3000, 1), []));
        var expected = await ReplayedAsync(test.Ledger, time);

        // The first guard registers the tree: one pass over the current periods' calls, written as rows.
        var (first, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (first)
        {
            Assert.That(Spent(first), Is.EqualTo(expected));
        }

        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_rollups;"), Is.EqualTo(1));
        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_totals;"), Is.GreaterThan(10));

        // Later calls are summed by the writer as they are stored, in the batch's transaction.
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(2000, 2, "d"), []));
        var (second, replayed) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (second)
        {
            Assert.That(Spent(second), Is.EqualTo(await ReplayedAsync(test.Ledger, time)));
            var seatCalls = Traffic(3000, 1).Concat(Traffic(2000, 2, "d")).Count(c => c.Timestamp > Now - TimeSpan.FromHours(5) - TimeSpan.FromMinutes(1) && c.Timestamp <= Now);
            Assert.That(replayed, Is.EqualTo(seatCalls), "only the 5-hour seat's last five hours of calls are replayed");
        }
    }

    [Test]
    public async Task StartingFromTheRollup_CreatesNoTemplatedInstance_UntilACallNeedsIt_ThenItHasItsRolledUpSpend()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(3000, 7), []));
        var (first, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time); // registers the tree
        first.Dispose();
        var scope = new BudgetScope(User: "u3", Agent: "agent-1") { Labels = new Dictionary<string, string> { ["team"] = "team-b" } };
        var (reference, _) = await StartAsync(new ReplayOnly(test.Ledger), new SqliteBudgetStore(test.Ledger), time);
        using (reference)
        {
            var (guard, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
            using (guard)
            {
                var before = guard.InstanceCounts();
                Assert.That(before.Live, Is.Zero, "the start-up kept the instances' spend without creating them");
                Assert.That(before.Evicted, Is.GreaterThan(5), "one kept record per user of the day and per agent");

                var status = guard.GetStatus(scope).Nodes.Select(n => (n.Path, n.Usd.Spent, n.Tokens.Spent, n.UnpricedCalls, n.WarningsFired.Count));
                var expected = reference.GetStatus(scope).Nodes.Select(n => (n.Path, n.Usd.Spent, n.Tokens.Spent, n.UnpricedCalls, n.WarningsFired.Count));
                Assert.That(status, Is.EqualTo(expected));
                Assert.That(status.Single(n => n.Path == "agents/agent-1").Item2, Is.GreaterThan(0m));
                Assert.That(guard.InstanceCounts().Live, Is.EqualTo(2), "the call's user and agent instances, created from what was kept");
            }
        }
    }

    [Test]
    public async Task CallsWrittenByAnotherLedgerInstance_AreInTheRollup()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        var (guard, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time); // registers on an empty file
        guard.Dispose();
        test.Ledger.Dispose();

        // Another process (here: another instance with its own write connection) stores calls; it reads the registered
        // spec from the file and keeps the rollup too.
        await using (var other = SqliteLedger.Open(test.Path))
        {
            foreach (var chunk in Traffic(2500, 3).Chunk(400))
            {
                await other.AppendAsync(new LedgerBatch(chunk, []));
            }
        }

        await using var reopened = SqliteLedger.Open(test.Path);
        var (restarted, replayed) = await StartAsync(reopened, new SqliteBudgetStore(reopened), time);
        using (restarted)
        {
            Assert.That(Spent(restarted), Is.EqualTo(await ReplayedAsync(reopened, time)));
            Assert.That(replayed, Is.LessThan(100));
        }
    }

    [Test]
    public async Task AResetNode_IsRebuiltFromItsReset_AndTheRestFromTheRollup()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now - TimeSpan.FromHours(2));
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(2000, 4).Where(c => c.Timestamp <= time.GetUtcNow()).ToList(), []));
        var (live, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        live.Reset("org/team-a");
        live.Dispose();

        time.SetUtcNow(Now);
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(2000, 4).Where(c => c.Timestamp > Now - TimeSpan.FromHours(2)).ToList(), []));
        var expected = await ReplayedAsync(test.Ledger, time);
        Assert.That(expected.Single(n => n.Item1 == "org/team-a").Item2, Is.LessThan(expected.Single(n => n.Item1 == "org/team-b").Item2),
            "the reset cleared team-a's month so far");
        var (restarted, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (restarted)
        {
            Assert.That(Spent(restarted), Is.EqualTo(expected));
        }
    }

    [Test]
    public async Task CallsStampedAfterNow_AreLeftToTheLiveGuard()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        var calls = Traffic(1500, 5);
        Assert.That(calls.Count(c => c.Timestamp > Now), Is.GreaterThan(0), "the traffic has calls after now");
        await test.Ledger.AppendAsync(new LedgerBatch(calls, []));
        var (first, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        first.Dispose();
        var (second, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (second)
        {
            Assert.That(Spent(second), Is.EqualTo(await ReplayedAsync(test.Ledger, time)));
        }
    }

    [Test]
    public async Task AnUpgradedStreamedCall_MovesItsRollupRows()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        var (guard, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        guard.Dispose();
        var team = new Dictionary<string, string> { ["team"] = "team-b" };
        var partial = Call("s1", ts: "2026-06-20T14:00:00Z", user: "u1", usage: new TokenUsage(1000, 0, 0, 0, 10), cost: 0.001m, requestId: "req-1", tags: team);
        await test.Ledger.AppendAsync(new LedgerBatch([partial], []));
        var complete = Call("s1-final", ts: "2026-06-20T14:00:00Z", user: "u1", usage: new TokenUsage(1000, 0, 0, 0, 800), cost: 0.05m, requestId: "req-1", tags: team);
        Assert.That(await test.Ledger.UpgradeAsync([complete]), Is.EqualTo(1));

        var (restarted, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (restarted)
        {
            var spent = Spent(restarted);
            Assert.That(spent, Is.EqualTo(await ReplayedAsync(test.Ledger, time)));
            Assert.That(spent.Single(n => n.Item1 == "org/team-b/u1").Item2, Is.EqualTo(0.05m));
        }
    }

    [Test]
    public async Task TwoTrees_AreKeptSideBySide_AndAChangedTreeRegistersItsOwn()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        var other = new BudgetOptions();
        other.Node("users/{user}").CapUsd(10m).Every(BudgetPeriod.Week);
        foreach (var options in new[] { Tree(), other })
        {
            var (g, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time, options);
            g.Dispose();
        }

        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(2000, 6), []));
        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_rollups;"), Is.EqualTo(2));
        foreach (var options in new[] { Tree(), other })
        {
            var (g, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time, options);
            using (g)
            {
                Assert.That(Spent(g), Is.EqualTo(await ReplayedAsync(test.Ledger, time, options)));
            }
        }
    }

    [Test]
    public async Task ASpecTheWriterCannotRead_IsDroppedWithItsRows_AndTheGuardRegistersAgain()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(500, 7), []));
        var (g, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        g.Dispose();
        using (var connection = new SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE budget_rollups SET spec = '{\"v\":99}';";
            command.ExecuteNonQuery();
        }

        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(500, 8, "e"), []));
        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_rollups;"), Is.Zero);
        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_totals;"), Is.Zero);

        var (again, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (again)
        {
            Assert.That(Spent(again), Is.EqualTo(await ReplayedAsync(test.Ledger, time)));
        }
    }

    [Test]
    public async Task AReadOnlyLedgerWithoutTheRollup_Replays_AndGivesTheSameAnswer()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        await test.Ledger.AppendAsync(new LedgerBatch(Traffic(800, 9), []));
        var expected = await ReplayedAsync(test.Ledger, time);
        test.Ledger.Dispose();
        await using var readOnly = SqliteLedger.OpenReadOnly(test.Path);
        var (guard, replayed) = await StartAsync(readOnly, new InMemoryBudgetStore(), time);
        using (guard)
        {
            Assert.That(Spent(guard), Is.EqualTo(expected));
            Assert.That(replayed, Is.GreaterThan(100), "nothing registered: the guard replays");
        }

        Assert.That(Scalar(test.Path, "SELECT count(*) FROM budget_rollups;"), Is.Zero, "a read-only ledger registers nothing");
    }

    [Test]
    public async Task AValueWithASlash_MakesAPathThatDoesNotParseBack_AndTheGuardReplaysInstead()
    {
        using var test = TestLedger.Create();
        var time = new FakeTimeProvider(Now);
        var team = new Dictionary<string, string> { ["team"] = "team-a" };
        await test.Ledger.AppendAsync(new LedgerBatch(
            [.. Traffic(300, 10), Call("slash", ts: "2026-06-20T14:00:00Z", user: "dept/42", usage: new TokenUsage(100, 0, 0, 0, 10), cost: 0.25m, tags: team)], []));
        var expected = await ReplayedAsync(test.Ledger, time);
        var (first, _) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        first.Dispose();
        var (second, replayed) = await StartAsync(test.Ledger, new SqliteBudgetStore(test.Ledger), time);
        using (second)
        {
            Assert.That(Spent(second), Is.EqualTo(expected));
            Assert.That(replayed, Is.GreaterThan(250), "the rows could not be mapped back to their nodes: every call was replayed");
            var slashed = new BudgetScope(User: "dept/42").WithLabel("team", "team-a");
            Assert.That(second.GetStatus(slashed).Nodes.Single(n => n.Path == "org/team-a/dept/42").Usd.Spent, Is.GreaterThanOrEqualTo(0.25m));
        }
    }

    [Test]
    public void TheSpec_CompilesBackToItself_AndIgnoresCaps()
    {
        var options = Tree();
        var rollup = BudgetRollup.Of(BudgetTree.Compile(options, null), options)!;
        Assert.That(BudgetRollup.FromSpec(rollup.Spec).Spec, Is.EqualTo(rollup.Spec));
        var recapped = Tree();
        recapped.Node("org").CapUsd(5000m);
        Assert.That(BudgetRollup.Of(BudgetTree.Compile(recapped, null), recapped)!.Spec, Is.EqualTo(rollup.Spec), "caps do not change the spend");
        var rezoned = Tree();
        rezoned.TimeZone = "UTC";
        Assert.That(BudgetRollup.Of(BudgetTree.Compile(rezoned, null), rezoned)!.Spec, Is.Not.EqualTo(rollup.Spec), "the zone moves period starts");
        Assert.That(() => BudgetRollup.FromSpec("{\"v\":1}"), Throws.InstanceOf<BudgetConfigurationException>());
    }

    /// <summary>A reader over a ledger that keeps no rollup: the guard replays its calls.</summary>
    private sealed class ReplayOnly(SqliteLedger ledger) : ILedgerReader
    {
        public ValueTask<SpendReport> ReportAsync(ReportQuery query, CancellationToken cancellationToken = default) => ledger.ReportAsync(query, cancellationToken);

        public ValueTask<CallRecord?> FindCallAsync(string callId, CancellationToken cancellationToken = default) => ledger.FindCallAsync(callId, cancellationToken);

        public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForCallAsync(string callId, CancellationToken cancellationToken = default) => ledger.ReceiptsForCallAsync(callId, cancellationToken);

        public ValueTask<IReadOnlyList<CallRecord>> CallsForTaskAsync(string task, CancellationToken cancellationToken = default) => ledger.CallsForTaskAsync(task, cancellationToken);

        public ValueTask<IReadOnlyList<SavingsReceipt>> ReceiptsForTaskAsync(string task, CancellationToken cancellationToken = default) => ledger.ReceiptsForTaskAsync(task, cancellationToken);

        public ValueTask<string?> LatestTaskAsync(CancellationToken cancellationToken = default) => ledger.LatestTaskAsync(cancellationToken);

        public IAsyncEnumerable<CallRecord> ReadCallsAsync(TimeWindow window, CancellationToken cancellationToken = default) => ledger.ReadCallsAsync(window, cancellationToken);

        public IAsyncEnumerable<SavingsReceipt> ReadReceiptsAsync(TimeWindow window, CancellationToken cancellationToken = default) => ledger.ReadReceiptsAsync(window, cancellationToken);

        public IAsyncEnumerable<ReceiptWithCall> ReadReceiptsWithCallsAsync(TimeWindow window, CancellationToken cancellationToken = default) => ledger.ReadReceiptsWithCallsAsync(window, cancellationToken);

        public IAsyncEnumerable<ReceiptTotal> ReadReceiptTotalsAsync(TimeWindow window, CancellationToken cancellationToken = default) => ledger.ReadReceiptTotalsAsync(window, cancellationToken);

        public ValueTask<IReadOnlyList<TaskOutcomeRecord>> ReadOutcomesAsync(CancellationToken cancellationToken = default) => ledger.ReadOutcomesAsync(cancellationToken);
    }
}
