using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>
/// The guard's fleet path against an in-memory <see cref="ISharedBudgetReservations"/> (the logic: which nodes are
/// shared, refusals, settles, warnings, faults). The PostgreSQL implementation is proven across processes in
/// Cage.Ledger.Tests (PostgresFleetGuardTests).
/// </summary>
public sealed class BudgetFleetTests
{
    private static readonly BudgetScope Anyone = default;

    private static BudgetGuard Guard(FakeTimeProvider time, ISharedBudgetReservations shared, Action<BudgetOptions> configure, FakeLogger? logger = null)
    {
        var options = new BudgetOptions();
        configure(options);
        return new BudgetGuard(options, time, logger: logger) { Shared = shared };
    }

    private static async Task<BudgetReservation> AdmitAsync(BudgetGuard guard, BudgetScope scope, decimal usd)
    {
        var admission = await guard.TryReserveAsync(scope, usd, 0);
        Assert.That(admission.Admitted, Is.True, () => "refused: " + admission.Refusal?.Message);
        return admission.Reservation!;
    }

    private static void Settled(BudgetGuard guard) => Assert.That(guard.WaitForSharedSettles(TimeSpan.FromSeconds(10)), Is.True, "shared settles still pending");

    [Test]
    public async Task TwoGuards_OneFleet_AdmitNoMoreThanTheCapTogether()
    {
        var time = Clock();
        var fleet = new MemoryFleet();
        void Tree(BudgetOptions o) => o.Node("team").CapUsd(1m).Every(BudgetPeriod.Day).Block();
        using var a = Guard(time, fleet, Tree);
        using var b = Guard(time, fleet, Tree);

        var first = await AdmitAsync(a, Anyone, 0.4m);
        var second = await AdmitAsync(b, Anyone, 0.4m);
        var refused = await a.TryReserveAsync(Anyone, 0.4m, 0);

        Assert.That(refused.Admitted, Is.False, "each process alone has the headroom; the fleet has not");
        Assert.That(refused.Refusal!.Node, Is.EqualTo("team"));
        Assert.That(refused.Refusal.Message, Does.Contain("budget 'team' is exhausted across the fleet: spent $0.000000 + reserved $0.800000 of $1.000000, this call needs $0.400000"));
        Assert.That(a.Node("team").Usd.Reserved, Is.EqualTo(0.4m), "the refused call's local hold was given back");

        first.Settle(0.3m);
        second.Settle(0.5m);
        Settled(a);
        Settled(b);
        Assert.That(fleet.State("team"), Is.EqualTo((0.8m, 0m)), "the actual costs reached the fleet's counter, the holds went");
        Assert.That((await b.TryReserveAsync(Anyone, 0.25m, 0)).Admitted, Is.False, "0.8 spent + 0.25 > 1 across the fleet");
        Assert.That(b.Node("team").Usd.Spent, Is.EqualTo(0.5m), "each guard still counts its own calls");
    }

    [Test]
    public async Task OnlyBlockingDollarCapsOfCalendarPeriods_AreShared()
    {
        var time = Clock();
        var fleet = new MemoryFleet();
        using var guard = Guard(time, fleet, o =>
        {
            o.Node("org").CapUsd(10m).Every(BudgetPeriod.Month).WarnAt(pct: [50, 120]).Block();
            o.Node("org/{user}").CapUsd(1m).Every(BudgetPeriod.Day).Block();
            o.Node("org/{user}/{session}").CapTokens(1_000_000).Block();               // tokens: this process
            o.Node("seat").CapUsd(5m).Every(BudgetPeriod.FiveHours).Block();            // 5-hour: this process
            o.Node("watch").CapUsd(2m).Every(BudgetPeriod.Day).WarnAt(pct: [50]);       // warns only
        });
        guard.Charge(new BudgetScope(User: "alice", Session: "s1"), 0.25m, 10);

        using var reservation = await AdmitAsync(guard, new BudgetScope(User: "alice", Session: "s1"), 0.1m);

        var nodes = fleet.Requests.Single();
        Assert.That(nodes.Select(n => n.Node), Is.EquivalentTo(new[] { "org", "org/alice" }));
        var org = nodes.Single(n => n.Node == "org");
        Assert.That(org.PeriodStart, Is.EqualTo(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.That(org.CapUsd, Is.EqualTo(10m));
        Assert.That(org.WarnAt, Is.EqualTo(new[] { 0.5m, 1m }), "50% and the blocking cap itself; 120% (past the cap) stays with this process");
        Assert.That(org.OpeningSpendUsd, Is.EqualTo(0.25m), "the period's spend this process already knew of");
        Assert.That(nodes.Single(n => n.Node == "org/alice").PeriodStart, Is.EqualTo(new DateTimeOffset(2026, 6, 20, 0, 0, 0, TimeSpan.Zero)));
    }

    [Test]
    public async Task AnUnsharedTree_CompletesSynchronously_WithoutTheFleet()
    {
        var fleet = new MemoryFleet();
        using var guard = Guard(Clock(), fleet, o => o.Node("session").CapTokens(1_000).Block());

        var pending = guard.TryReserveAsync(Anyone, 1m, 10);

        Assert.That(pending.IsCompletedSuccessfully, Is.True);
        Assert.That(pending.Result.Admitted, Is.True);
        Assert.That(fleet.Requests, Is.Empty);
    }

    [Test]
    public async Task FleetWarnings_FireOnceForTheFleet_OnTheProcessWhoseSettleCrossed()
    {
        var time = Clock();
        var fleet = new MemoryFleet();
        void Tree(BudgetOptions o) => o.Node("team").CapUsd(1m).Every(BudgetPeriod.Day).WarnAt(pct: [50]).Block();
        using var a = Guard(time, fleet, Tree);
        using var b = Guard(time, fleet, Tree);
        var firedA = new List<BudgetWarningEventArgs>();
        var firedB = new List<BudgetWarningEventArgs>();
        a.Warning += (_, e) => firedA.Add(e);
        b.Warning += (_, e) => firedB.Add(e);

        (await AdmitAsync(a, Anyone, 0.1m)).Settle(0.3m);
        Settled(a);
        (await AdmitAsync(b, Anyone, 0.1m)).Settle(0.3m); // the fleet reaches 0.6: crosses 50% on b's settle
        Settled(b);
        (await AdmitAsync(a, Anyone, 0.1m)).Settle(0.3m); // a's own counter reaches 0.6: the fleet fired already
        Settled(a);

        Assert.That(firedA, Is.Empty, "a crossed 50% only in its own counter, which the fleet's warning replaces");
        Assert.That(firedB.Select(f => f.Threshold), Is.EqualTo(new[] { "usd:50%" }));
        Assert.That(firedB[0].Message, Does.Contain("budget 'team' crossed 50% of its $1.000000 cap across the fleet"));
        Assert.That(b.Node("team").WarningsFired, Is.EqualTo(new[] { "usd:50%" }));
    }

    [Test]
    public async Task AFleetThatCannotBeReached_IsFailOpen_OrRefusesWhenTheGuardFailsClosed()
    {
        var time = Clock();
        var fleet = new MemoryFleet { Fault = "connection refused (127.0.0.1:5432)" };
        var logger = new FakeLogger();
        using var open = Guard(time, fleet, o => o.Node("team").CapUsd(1m).Block(), logger);
        using var closed = Guard(time, fleet, o =>
        {
            o.FailClosed = true;
            o.Node("team").CapUsd(1m).Block();
        });

        var admitted = await open.TryReserveAsync(Anyone, 0.4m, 0);
        var refused = await closed.TryReserveAsync(Anyone, 0.4m, 0);

        Assert.That(admitted.Admitted, Is.True);
        Assert.That(open.Node("team").Usd.Reserved, Is.EqualTo(0.4m), "held on this process's counters");
        Assert.That(logger.Collector.GetSnapshot().Single(r => r.Id.Id == 1114).Message, Does.Contain("connection refused (127.0.0.1:5432)").And.Contain("admitted on this process's counters alone"));
        Assert.That(refused.Admitted, Is.False);
        Assert.That(refused.Refusal!.Message, Does.Contain("could not be reached and the guard fails closed: connection refused"));
        Assert.That(closed.Node("team").Usd.Reserved, Is.Zero, "nothing stays held");

        admitted.Reservation!.Settle(0.2m);
        Settled(open);
        Assert.That(fleet.Settles, Is.Empty, "a reservation the fleet never held is not settled there");
        Assert.That(open.Node("team").Usd.Spent, Is.EqualTo(0.2m));
    }

    [Test]
    public async Task AFleetThatThrows_IsTreatedAsUnreachable()
    {
        var fleet = new MemoryFleet { Throw = new InvalidOperationException("schema is damaged") };
        using var guard = Guard(Clock(), fleet, o => o.Node("team").CapUsd(1m).Block());

        var admission = await guard.TryReserveAsync(Anyone, 0.4m, 0);

        Assert.That(admission.Admitted, Is.True, "fail-open by default");
    }

    [Test]
    public async Task CancellingTheRoundTrip_ReleasesTheLocalHold()
    {
        var fleet = new MemoryFleet { Stall = true };
        using var guard = Guard(Clock(), fleet, o => o.Node("team").CapUsd(1m).Block());
        using var cts = new CancellationTokenSource();

        var pending = guard.TryReserveAsync(Anyone, 0.4m, 0, cts.Token).AsTask();
        Assert.That(guard.Node("team").Usd.Reserved, Is.EqualTo(0.4m), "held locally while the fleet decides");
        await cts.CancelAsync();

        Assert.That(async () => await pending, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(guard.Node("team").Usd.Reserved, Is.Zero);
    }

    [Test]
    public async Task ReleasesReachTheFleet_AndALateSettleAfterTheLeaseStillCounts()
    {
        var time = Clock();
        var fleet = new MemoryFleet();
        using var guard = Guard(time, fleet, o =>
        {
            o.LeaseDuration = TimeSpan.FromMinutes(1);
            o.Node("team").CapUsd(1m).Block();
        });

        (await AdmitAsync(guard, Anyone, 0.5m)).Release(billedUsd: 0.1m);
        var forgotten = await AdmitAsync(guard, Anyone, 0.5m);
        time.Advance(TimeSpan.FromMinutes(2)); // the reaper expires it here; the fleet's own lease ends it there
        Settled(guard);
        Assert.That(forgotten.State, Is.EqualTo(BudgetReservationState.Expired));
        Assert.That(fleet.Settles.Select(s => s.Usd), Is.EqualTo(new[] { 0.1m }), "an expiry sends nothing: the fleet's lease runs out by itself");

        Assert.That(forgotten.Settle(0.3m), Is.True, "the money was spent after all");
        Settled(guard);
        Assert.That(fleet.Settles.Select(s => s.Usd), Is.EqualTo(new[] { 0.1m, 0.3m }));
        Assert.That(fleet.State("team"), Is.EqualTo((0.4m, 0m)));
    }

    [Test]
    public async Task AMeteringScope_SettlesTheFleetWithTheCallsCost()
    {
        var time = Clock();
        var fleet = new MemoryFleet();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<ISharedBudgetReservations>(fleet);
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddInMemoryLedger(new InMemoryLedger())
            .AddBudgets(o => o.Node("users/{user}").CapUsd(1m).Every(BudgetPeriod.Day).Block());
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        var guard = provider.GetRequiredService<BudgetGuard>();
        Assert.That(guard.Shared, Is.SameAs(fleet), "AddBudgets picks the fleet's reservations up");

        using (var m = meter.Meter("chat", user: "alice"))
        {
            var admission = await guard.TryReserveAsync(m, 0.5m, 1_000);
            Assert.That(admission.Admitted, Is.True);
            m.Usage("anthropic", "claude-sonnet-4-5", input: 1_000, output: 100, providerCost: 0.2m);
        }

        Settled(guard);
        Assert.That(fleet.Requests.Single().Single().Node, Is.EqualTo("users/alice"));
        Assert.That(fleet.Settles.Single().Usd, Is.EqualTo(0.2m));
        Assert.That(fleet.State("users/alice"), Is.EqualTo((0.2m, 0m)));
    }

    [Test]
    public void SynchronousReserve_OnAFleetNode_SaysOnceThatItIsLocal()
    {
        var fleet = new MemoryFleet();
        var logger = new FakeLogger();
        using var guard = Guard(Clock(), fleet, o => o.Node("team").CapUsd(1m).Block(), logger);

        guard.Admit(default, 0.1m).Dispose();
        guard.Admit(default, 0.1m).Dispose();

        Assert.That(logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1116), Is.EqualTo(1));
        Assert.That(fleet.Requests, Is.Empty);
    }

    /// <summary>An in-memory fleet: one counter per node and period, holds checked against caps under one lock.</summary>
    private sealed class MemoryFleet : ISharedBudgetReservations
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<(string, DateTimeOffset), (decimal Spent, decimal Held)> _counters = [];
        private readonly HashSet<(string, DateTimeOffset, decimal)> _fired = [];
        private readonly HashSet<string> _open = [];

        public string? Fault { get; init; }

        public Exception? Throw { get; init; }

        public bool Stall { get; init; }

        public List<IReadOnlyList<SharedBudgetNode>> Requests { get; } = [];

        public List<(string Id, decimal Usd)> Settles { get; } = [];

        public (decimal Spent, decimal Held) State(string node)
        {
            lock (_gate)
            {
                return _counters.Single(c => c.Key.Item1 == node).Value;
            }
        }

        public async Task<SharedReserveResult> TryReserveAsync(IReadOnlyList<SharedBudgetNode> nodes, decimal usd, TimeSpan lease, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            if (Stall) await Task.Delay(Timeout.Infinite, cancellationToken);
            if (Throw is not null) throw Throw;
            var id = Guid.NewGuid().ToString("N");
            if (Fault is not null) return new SharedReserveResult(new SharedReservation(id, nodes, usd, DateTimeOffset.MaxValue) { Held = false }, null) { Fault = Fault };
            lock (_gate)
            {
                Requests.Add(nodes);
                foreach (var n in nodes.OrderBy(n => n.Node, StringComparer.Ordinal))
                {
                    (decimal Spent, decimal Held) c = _counters.GetValueOrDefault((n.Node, n.PeriodStart), (n.OpeningSpendUsd, 0m));
                    if (c.Spent + c.Held + usd > n.CapUsd) return new SharedReserveResult(null, n.Node) { RefusedSpentUsd = c.Spent, RefusedHeldUsd = c.Held };
                }

                foreach (var n in nodes)
                {
                    (decimal Spent, decimal Held) c = _counters.GetValueOrDefault((n.Node, n.PeriodStart), (n.OpeningSpendUsd, 0m));
                    _counters[(n.Node, n.PeriodStart)] = (c.Spent, c.Held + usd);
                }

                _open.Add(id);
            }

            return new SharedReserveResult(new SharedReservation(id, nodes, usd, DateTimeOffset.MaxValue), null);
        }

        public async Task<IReadOnlyList<SharedBudgetWarning>> SettleAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var warnings = new List<SharedBudgetWarning>();
            lock (_gate)
            {
                Settles.Add((reservation.Id, actualUsd));
                if (!_open.Remove(reservation.Id)) return warnings;
                foreach (var n in reservation.Nodes)
                {
                    var c = _counters[(n.Node, n.PeriodStart)];
                    var spent = c.Spent + actualUsd;
                    _counters[(n.Node, n.PeriodStart)] = (spent, c.Held - reservation.HeldUsd);
                    foreach (var at in n.WarnAt)
                    {
                        if (spent >= n.CapUsd * at && _fired.Add((n.Node, n.PeriodStart, at))) warnings.Add(new SharedBudgetWarning(n.Node, at));
                    }
                }
            }

            return warnings;
        }
    }
}
