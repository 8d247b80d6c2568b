using CageNet.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 16: idle instances of templated nodes are dropped from memory by the lease timer and rebuilt with their spend
/// when a call needs them again; an instance a caller holds is never dropped, and no spend is lost in the race.
/// </summary>
public sealed class BudgetEvictionTests
{
    private static BudgetGuard PerUser(FakeTimeProvider time, TimeSpan idle, decimal userCap = 1m, BudgetPeriod period = BudgetPeriod.Day) => Guard(time, o =>
    {
        o.EvictIdleAfter = idle;
        o.LeaseDuration = TimeSpan.FromHours(1);
        o.Node("org").CapUsd(1_000_000m).Every(period).Block();
        o.Node("org/{user}").CapUsd(userCap).Every(period).Block().WarnAt(pct: [50]);
    });

    private static readonly BudgetScope Alice = new(User: "alice");

    [Test]
    public void IdleInstance_IsEvicted_AndRebuiltWithItsSpendAndWarnings()
    {
        var time = Clock();
        using var guard = PerUser(time, TimeSpan.FromMinutes(10));
        var fired = new List<string>();
        guard.Warning += (_, e) => fired.Add(e.Node + " " + e.Threshold);
        guard.Admit(Alice, 0.6m).Settle(0.6m);
        Assert.That(fired, Is.EqualTo(new[] { "org/alice usd:50%" }));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((1, 0)));

        time.Advance(TimeSpan.FromMinutes(9));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((1, 0)), "not idle for 10 minutes yet");

        time.Advance(TimeSpan.FromMinutes(2)); // the lease timer (every 30 s) sweeps
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 1)), "evicted, its spend kept as a record");

        // Rebuilt on the next call: $0.60 spent of $1, so $0.50 more is refused and $0.40 fits; the 50% warning does not
        // fire again (the 100% one does, once).
        var refusal = guard.Refuse(Alice, 0.5m);
        Assert.That(refusal.Node, Is.EqualTo("org/alice"));
        Assert.That(refusal.Spent, Is.EqualTo(0.6m));
        guard.Admit(Alice, 0.4m).Settle(0.3m);
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.EqualTo(0.9m));
        Assert.That(guard.Node("org").Usd.Spent, Is.EqualTo(0.9m));
        guard.Admit(Alice, 0.1m).Settle(0.1m);
        Assert.That(fired, Is.EqualTo(new[] { "org/alice usd:50%", "org/alice usd:100%" }));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((1, 0)), "the record went back into the live instance");
    }

    [Test]
    public void OpenReservation_PinsItsInstance()
    {
        var time = Clock();
        using var guard = PerUser(time, TimeSpan.FromMinutes(10));
        var open = guard.Admit(Alice, 0.3m);

        time.Advance(TimeSpan.FromMinutes(30));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((1, 0)), "a reservation holds it");
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.EqualTo(0.3m));

        open.Settle(0.25m);
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 1)));
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.EqualTo(0.25m));
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
    }

    [Test]
    public void LateSettle_AfterTheLeaseExpiredAndTheInstanceWasEvicted_IsCharged()
    {
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.EvictIdleAfter = TimeSpan.FromMinutes(1);
            o.LeaseDuration = TimeSpan.FromMinutes(2);
            o.Node("org/{user}").CapUsd(1m).Block();
        });
        guard.Admit(Alice, 0.1m).Settle(0.1m);
        var late = guard.Admit(Alice, 0.5m);

        time.Advance(TimeSpan.FromMinutes(5)); // the lease expires (unpinning it), then the instance is evicted
        Assert.That(late.State, Is.EqualTo(BudgetReservationState.Expired));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 1)));

        Assert.That(late.Settle(0.3m), Is.True);
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.EqualTo(0.4m), "the earlier $0.10 from the record, plus the late $0.30");
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
    }

    [Test]
    public void InstanceWithNothingSpent_LeavesNoRecord_AndRecordsOfEndedPeriodsAreDropped()
    {
        var time = Clock(); // Saturday 12:00 UTC
        using var guard = PerUser(time, TimeSpan.FromMinutes(10));
        guard.Admit(new BudgetScope(User: "bob")).Release();
        guard.Admit(Alice, 0.2m).Settle(0.2m);

        time.Advance(TimeSpan.FromMinutes(11));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 1)), "bob spent nothing: no record");

        time.Advance(TimeSpan.FromHours(12)); // the day ended
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 0)));
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.Zero, "a new day");
    }

    [Test]
    public void InfiniteIdle_KeepsEveryInstance()
    {
        var time = Clock();
        using var guard = PerUser(time, Timeout.InfiniteTimeSpan);
        guard.Admit(Alice, 0.2m).Settle(0.2m);
        time.Advance(TimeSpan.FromHours(3));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((1, 0)));
        Assert.That(() => PerUser(time, TimeSpan.Zero), Throws.TypeOf<BudgetConfigurationException>().With.Message.Contains("EvictIdleAfter"));
    }

    [Test]
    public void EvictIdleAfter_IsReadFromConfiguration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cage:Budgets:EvictIdleAfter"] = "00:02:30",
        }).Build();
        Assert.That(BudgetConfiguration.Read(configuration.GetSection("Cage:Budgets")).EvictIdleAfter, Is.EqualTo(TimeSpan.FromSeconds(150)));
        Assert.That(new BudgetOptions().EvictIdleAfter, Is.EqualTo(TimeSpan.FromMinutes(10)));
    }

    [Test]
    public void HundredThousandUsers_LiveInstancesStayBounded()
    {
        // One user a millisecond of fake time, each with one reserve + settle; an instance idle for 5 s is evicted.
        const int Users = 100_000;
        var time = Clock();
        using var guard = PerUser(time, TimeSpan.FromSeconds(5), period: BudgetPeriod.Day);
        var most = 0;
        for (var i = 0; i < Users; i++)
        {
            guard.Admit(new BudgetScope(User: "u" + i), 0.001m).Settle(i % 2 == 0 ? 0.001m : 0m);
            time.Advance(TimeSpan.FromMilliseconds(1));
            most = Math.Max(most, guard.InstanceCounts().Live);
        }

        // 5 s of users (5,000), plus up to one sweep (every 1.25 s) of them waiting to go.
        Assert.That(most, Is.LessThanOrEqualTo(6_300), "live instances are bounded by the users of the last idle time");
        Assert.That(most, Is.GreaterThanOrEqualTo(5_000));
        var (live, evicted) = guard.InstanceCounts();
        Assert.That(live + evicted, Is.LessThanOrEqualTo((Users / 2) + 6_300), "only users with spend this period leave a record");
        Assert.That(guard.Node("org").Usd.Spent, Is.EqualTo(Users / 2 * 0.001m));
        Assert.That(guard.Node("org/u99998").Usd.Spent, Is.EqualTo(0.001m));
        Assert.That(guard.Node("org/u2").Usd.Spent, Is.EqualTo(0.001m), "rebuilt from its record");
        Assert.That(guard.Node("org/u3").Usd.Spent, Is.Zero);

        time.Advance(TimeSpan.FromDays(1)); // the day ends: every record goes
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 0)));
    }

    [Test]
    public void EvictedInstances_TakeAFractionOfTheMemoryOfLiveOnes()
    {
        // 20,000 users × 2 nodes each (org/{user}, org/{user}/{agent}) with spend: measured live, then evicted.
        const int Users = 20_000;
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.EvictIdleAfter = TimeSpan.FromMinutes(1);
            o.Node("org").CapUsd(1_000m).Every(BudgetPeriod.Day).Block();
            o.Node("org/{user}").CapUsd(1m).Every(BudgetPeriod.Day).Block();
            o.Node("org/{user}/{agent}").CapUsd(1m).Every(BudgetPeriod.Day).Block();
        }, new NullStore());
        var scopes = Enumerable.Range(0, Users).Select(i => new BudgetScope(User: "user-" + i, Agent: "agent-" + (i % 10))).ToArray();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        foreach (var scope in scopes)
        {
            guard.Admit(scope, 0.01m).Settle(0.01m);
        }

        var live = GC.GetTotalMemory(forceFullCollection: true) - before;
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.That(guard.InstanceCounts(), Is.EqualTo((0, 2 * Users)));
        var evicted = GC.GetTotalMemory(forceFullCollection: true) - before;
        TestContext.Out.WriteLine($"per instance: live {live / (2.0 * Users):F0} B, evicted {evicted / (2.0 * Users):F0} B");
        Assert.That(evicted, Is.LessThan(live / 3), $"live {live:N0} B, evicted {evicted:N0} B");
        Assert.That(guard.Node("org/user-7/agent-7").Usd.Spent, Is.EqualTo(0.01m));
        GC.KeepAlive(scopes);
    }

    /// <summary>Keeps nothing (so the memory measured is the guard's).</summary>
    private sealed class NullStore : IBudgetStore
    {
        public ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<IReadOnlyList<BudgetNodeState>>([]);

        public ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default) => ValueTask.FromResult<IReadOnlyList<BudgetCharge>>([]);
    }

    [Test]
    [Repeat(3)]
    public void ManyCallers_WhileTheSweeperEvictsAggressively_LoseNoSpendAndPassNoCap()
    {
        // 8 callers over 64 users reserve $0.01 and settle $0.01, $0.005 or release; charge directly now and then. A
        // sweeper advances the clock a second and evicts every instance idle for a tick, as fast as it can, so every
        // instance no caller holds is evicted. Each user's cap is $0.50, each user × agent's $0.20.
        const int Callers = 8, Rounds = 4_000, UserCount = 64;
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.EvictIdleAfter = TimeSpan.FromTicks(1);
            o.LeaseDuration = TimeSpan.FromDays(3650);
            o.Node("org").CapUsd(1_000m).Every(BudgetPeriod.Lifetime).Block();
            o.Node("org/{user}").CapUsd(0.5m).Every(BudgetPeriod.Lifetime).Block();
            o.Node("org/{user}/{agent}").CapUsd(0.2m).Every(BudgetPeriod.Lifetime).Block();
        });
        var settled = new long[UserCount, 2]; // in 1e-4 USD, per user and agent
        var reserved = new long[UserCount, 2]; // the part settled through reservations (which the caps admit)
        using var stop = new CancellationTokenSource();
        var sweeper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                guard.EvictIdle();
            }
        });
        sweeper.Start();
        using var start = new Barrier(Callers);
        var callers = Enumerable.Range(0, Callers).Select(c => new Thread(() =>
        {
            var random = new Random(c);
            start.SignalAndWait();
            for (var round = 0; round < Rounds; round++)
            {
                var (user, agent) = (random.Next(UserCount), random.Next(2));
                var scope = new BudgetScope(User: "u" + user, Agent: "a" + agent);
                var pick = random.Next(4);
                if (pick == 3)
                {
                    guard.Charge(scope, 0.0001m, 0); // no reservation: pinned only while charged
                    Interlocked.Add(ref settled[user, agent], 1);
                    continue;
                }

                if (!guard.TryReserve(scope, 0.01m, 0, out var reservation, out _))
                {
                    continue;
                }

                if (round % 8 == 0) Thread.Yield();
                switch (pick)
                {
                    case 0: reservation.Settle(0.01m); Interlocked.Add(ref settled[user, agent], 100); Interlocked.Add(ref reserved[user, agent], 100); break;
                    case 1: reservation.Settle(0.005m); Interlocked.Add(ref settled[user, agent], 50); Interlocked.Add(ref reserved[user, agent], 50); break;
                    default: reservation.Release(); break;
                }
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        stop.Cancel();
        sweeper.Join();

        Assert.That(guard.Evictions, Is.GreaterThan(1_000), "the sweeper evicted instances under the callers' feet");
        Assert.That(guard.OpenReservations, Is.Zero);
        long total = 0;
        for (var user = 0; user < UserCount; user++)
        {
            var userTotal = settled[user, 0] + settled[user, 1];
            total += userTotal;
            var node = guard.Node("org/u" + user);
            Assert.That(node.Usd.Spent, Is.EqualTo(userTotal / 10_000m), $"org/u{user}: spend lost or counted twice");
            Assert.That((reserved[user, 0] + reserved[user, 1]) / 10_000m, Is.LessThanOrEqualTo(0.5m), $"org/u{user}: past its cap");
            Assert.That(node.Usd.Reserved, Is.Zero);
            for (var agent = 0; agent < 2; agent++)
            {
                var leaf = guard.Node($"org/u{user}/a{agent}");
                Assert.That(leaf.Usd.Spent, Is.EqualTo(settled[user, agent] / 10_000m), $"org/u{user}/a{agent}");
                Assert.That(leaf.Usd.Reserved, Is.Zero);
                Assert.That(reserved[user, agent] / 10_000m, Is.LessThanOrEqualTo(0.2m), $"org/u{user}/a{agent}: past its cap");
            }
        }

        Assert.That(guard.Node("org").Usd.Spent, Is.EqualTo(total / 10_000m));
    }
}
