using CageNet.Budgets;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

public sealed class BudgetReservationTests
{
    private static readonly BudgetScope Alice = new(User: "alice");

    private static BudgetGuard Tree(Microsoft.Extensions.Time.Testing.FakeTimeProvider time) => Guard(time, o =>
    {
        o.LeaseDuration = TimeSpan.FromMinutes(1);
        o.Node("org").CapUsd(1m).Every(BudgetPeriod.Day).Block();
        o.Node("org/{user}").CapUsd(0.5m).Every(BudgetPeriod.Day).Block();
    });

    [Test]
    public void TryReserve_HoldsAgainstNodeAndEveryAncestor()
    {
        using var guard = Tree(Clock());

        var reservation = guard.Admit(Alice, 0.2m);

        Assert.That(reservation.Nodes, Is.EqualTo(new[] { "org", "org/alice" }));
        Assert.That(guard.Node("org").Usd.Reserved, Is.EqualTo(0.2m));
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.EqualTo(0.2m));
        Assert.That(guard.Node("org/alice").Usd.Remaining, Is.EqualTo(0.3m));
    }

    [Test]
    public void TryReserve_AncestorFull_RefusesAllOrNothing()
    {
        using var guard = Tree(Clock());
        guard.Charge(new BudgetScope(User: "bob"), 0.5m, 0);
        guard.Charge(new BudgetScope(User: "carol"), 0.4m, 0);

        var refusal = guard.Refuse(Alice, 0.2m);

        Assert.That(refusal.StopReason, Is.EqualTo("budget_exceeded"));
        Assert.That(refusal.Node, Is.EqualTo("org"));
        Assert.That(refusal.Spent, Is.EqualTo(0.9m));
        Assert.That(refusal.Cap, Is.EqualTo(1m));
        Assert.That(refusal.ResetsAt, Is.EqualTo(new DateTimeOffset(2026, 6, 21, 0, 0, 0, TimeSpan.Zero)));
        Assert.That(refusal.Message, Does.Contain("'org'").And.Contain("$0.900000").And.Contain("$1.000000"));
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero, "the child's hold was rolled back");
        Assert.That(guard.Node("org").Usd.Reserved, Is.Zero);
    }

    [Test]
    public void TryReserve_ZeroEstimate_AdmittedUntilTheCapIsReachedThenRefused()
    {
        using var guard = Tree(Clock());
        guard.Admit(Alice).Settle(0.3m);
        guard.Admit(Alice).Settle(0.3m); // crosses the 0.5 cap: it was admitted before the crossing

        var refusal = guard.Refuse(Alice);

        Assert.That(refusal.Node, Is.EqualTo("org/alice"));
        Assert.That(refusal.Spent, Is.EqualTo(0.6m));
        Assert.That(guard.GetStatus(Alice).Proceed, Is.False);
    }

    [Test]
    public void Settle_ReplacesTheEstimateWithTheActualCost()
    {
        using var guard = Tree(Clock());
        var reservation = guard.Admit(Alice, 0.2m, 1_000);

        Assert.That(reservation.Settle(0.05m, 800), Is.True);
        Assert.That(reservation.Settle(0.05m, 800), Is.False, "settles once");

        var node = guard.Node("org/alice");
        Assert.That(node.Usd.Spent, Is.EqualTo(0.05m));
        Assert.That(node.Usd.Reserved, Is.Zero);
        Assert.That(node.Tokens.Spent, Is.EqualTo(800m));
        Assert.That(reservation.State, Is.EqualTo(BudgetReservationState.Settled));
        Assert.That(guard.OpenReservations, Is.Zero);
    }

    [Test]
    public void Settle_UnpricedCost_KeepsTheEstimate()
    {
        using var guard = Tree(Clock());

        guard.Admit(Alice, 0.2m).Settle(null, 100);

        Assert.That(guard.Node("org/alice").Usd.Spent, Is.EqualTo(0.2m));
    }

    [Test]
    public void Release_KeepsWhatACutStreamBilled()
    {
        using var guard = Tree(Clock());
        var reservation = guard.Admit(Alice, 0.2m, 1_000);

        reservation.Release(billedUsd: 0.03m, billedTokens: 300);
        reservation.Dispose();

        var node = guard.Node("org/alice");
        Assert.That(node.Usd.Spent, Is.EqualTo(0.03m));
        Assert.That(node.Usd.Reserved, Is.Zero);
        Assert.That(node.Tokens.Spent, Is.EqualTo(300m));
        Assert.That(reservation.State, Is.EqualTo(BudgetReservationState.Released));
    }

    [Test]
    public void Dispose_OpenReservation_ReleasesWithNothingBilled()
    {
        using var guard = Tree(Clock());

        using (guard.Admit(Alice, 0.4m))
        {
            Assert.That(guard.Node("org/alice").Usd.Reserved, Is.EqualTo(0.4m));
        }

        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.Zero);
    }

    [Test]
    public void Lease_Expired_IsReclaimedByTheTimerAndALateSettleStillCharges()
    {
        var time = Clock();
        using var guard = Tree(time);
        var crashed = guard.Admit(Alice, 0.5m);
        guard.Refuse(Alice, 0.1m);

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.That(crashed.State, Is.EqualTo(BudgetReservationState.Open));
        time.Advance(TimeSpan.FromSeconds(16)); // past the 1-minute lease and a sweep

        Assert.That(crashed.State, Is.EqualTo(BudgetReservationState.Expired));
        Assert.That(guard.OpenReservations, Is.Zero);
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
        guard.Admit(Alice, 0.1m).Settle(0.1m);

        Assert.That(crashed.Settle(0.2m), Is.True, "a slow caller is still billed");
        Assert.That(guard.Node("org/alice").Usd.Spent, Is.EqualTo(0.3m));
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
    }

    [Test]
    public void Rollover_InFlightReservation_SettlesIntoThePeriodItStartedIn()
    {
        var time = Clock(new DateTimeOffset(2026, 6, 20, 23, 59, 0, TimeSpan.Zero));
        using var guard = Tree(time);
        var lateNight = guard.Admit(Alice, 0.3m);

        time.Advance(TimeSpan.FromMinutes(2)); // next day
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero, "the new day starts with nothing held");
        lateNight.Settle(0.45m);

        var node = guard.Node("org/alice");
        Assert.That(node.Usd.Spent, Is.Zero, "yesterday's call is not charged to today");
        Assert.That(node.PeriodStart, Is.EqualTo(new DateTimeOffset(2026, 6, 21, 0, 0, 0, TimeSpan.Zero)));
        guard.Admit(Alice, 0.5m);
    }

    [Test]
    public void Reserve_Refused_ThrowsCarryingTheRefusal()
    {
        using var guard = Tree(Clock());
        guard.Charge(Alice, 0.5m, 0);

        var ex = Assert.Throws<BudgetExceededException>(() => guard.Reserve(Alice));

        Assert.That(ex!.StopReason, Is.EqualTo("budget_exceeded"));
        Assert.That(ex.Refusal.Node, Is.EqualTo("org/alice"));
    }

    [Test]
    public void Check_DoesNotHoldAnything()
    {
        using var guard = Tree(Clock());

        Assert.That(guard.Check(Alice, 0.5m), Is.Null);
        Assert.That(guard.Check(Alice, 0.6m)!.Node, Is.EqualTo("org/alice"));
        Assert.That(guard.Node("org/alice").Usd.Reserved, Is.Zero);
    }

    [Test]
    public void WarnNode_PastItsCap_AdmitsCalls()
    {
        using var guard = Guard(Clock(), o => o.Node("soft").CapUsd(1m).WarnOnly());
        guard.Charge(default, 3m, 0);

        guard.Admit(default, 1m);

        var status = guard.GetStatus(new BudgetScope());
        Assert.That(status.Over, Is.True);
        Assert.That(status.Proceed, Is.True);
    }

    [Test]
    public void TokenCap_BlocksOnTokensIndependentlyOfDollars()
    {
        using var guard = Guard(Clock(), o => o.Node("n").CapUsd(100m).CapTokens(1_000).Block());
        guard.Admit(default, 0.01m, 900).Settle(0.01m, 900);

        var refusal = guard.Refuse(default, 0.01m, 200);

        Assert.That(refusal.Metric, Is.EqualTo("tokens"));
        Assert.That(refusal.Spent, Is.EqualTo(900m));
        Assert.That(refusal.Cap, Is.EqualTo(1_000m));
        Assert.That(guard.Node("n").Usd.Reserved, Is.Zero, "the dollar hold was rolled back with the token refusal");
    }
}

public sealed class BudgetFailureModeTests
{
    private sealed class BrokenStore : IBudgetStore
    {
        public ValueTask<IReadOnlyList<BudgetNodeState>> LoadAsync(CancellationToken cancellationToken = default) => throw new IOException("disk gone");

        public ValueTask SaveAsync(BudgetNodeState state, CancellationToken cancellationToken = default) => throw new IOException("disk gone");

        public ValueTask AddChargesAsync(IReadOnlyList<BudgetCharge> charges, CancellationToken cancellationToken = default) => throw new IOException("disk gone");

        public ValueTask<IReadOnlyList<BudgetCharge>> LoadChargesAsync(DateTimeOffset? since, CancellationToken cancellationToken = default) => throw new IOException("disk gone");
    }

    [TestCase(false, true)]
    [TestCase(true, false)]
    public async Task InitializeAsync_StoreFails_FailOpenAdmitsFailClosedRefuses(bool failClosed, bool admitted)
    {
        using var guard = BudgetTestKit.Guard(BudgetTestKit.Clock(), o =>
        {
            o.FailClosed = failClosed;
            o.Node("n").CapUsd(1m).Block().WarnAt(usd: 0.5m);
        }, new BrokenStore());

        await guard.InitializeAsync(null);

        Assert.That(guard.TryReserve(new BudgetScope(), 0.1m, 0, out var reservation, out var refusal), Is.EqualTo(admitted));
        if (admitted)
        {
            Assert.DoesNotThrow(() => reservation!.Settle(0.9m), "a store that cannot save a warning does not break the call");
        }
        else
        {
            Assert.That(refusal!.StopReason, Is.EqualTo("budget_exceeded"));
            Assert.That(refusal.Message, Does.Contain("fail closed"));
        }
    }

    [Test]
    public void GetStatus_ReservationsFillTheCap_OverAndNotProceedLikeAdmission()
    {
        using var guard = Guard(Clock(), o => o.Node("team").CapUsd(1m).Block());
        var held = guard.Admit(default, 0.6m);
        guard.Admit(default, 0.4m);

        var status = guard.GetStatus(default(BudgetScope));

        Assert.That(status.Nodes[0].Usd.Spent, Is.Zero);
        Assert.That(status.Nodes[0].Usd.Reserved, Is.EqualTo(1m));
        Assert.That((status.Over, status.Proceed), Is.EqualTo((true, false)), "spent 0 + reserved $1 is at the $1 cap");
        Assert.That(guard.Check(default), Is.Not.Null, "admission agrees: a zero estimate is refused");
        held.Release();
        Assert.That(guard.GetStatus(default(BudgetScope)).Proceed, Is.True);
    }

    [Test]
    public void TryReserve_HugeEstimate_IsRefusedWithAMessageNotAnOverflow()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("team").CapUsd(10m).Block();
            o.Node("team/tokens").CapTokens(1_000).Block();
        });

        var refusal = guard.Refuse(default, decimal.MaxValue, long.MaxValue);
        Assert.That(refusal.Message, Does.StartWith("budget 'team' is exhausted: spent $0.000000 of $10.000000, this call needs $100000000.000000"));
        Assert.That(guard.Check(default, 1e20m), Is.Not.Null);
        var tokens = guard.Refuse(default, 0m, long.MaxValue);
        Assert.That(tokens.Node, Is.EqualTo("team/tokens"));
    }

    [Test]
    public void Settle_HugeActualCost_ChargesTheClampedAmountWithoutThrowing()
    {
        using var guard = Guard(Clock(), o => o.Node("team").CapUsd(10m));

        guard.Admit(default).Settle(decimal.MaxValue, long.MaxValue);
        guard.Charge(default, 1e25m, long.MaxValue);

        Assert.That(guard.Node("team").Usd.Spent, Is.EqualTo(200_000_000m), "each clamped to $100,000,000");
        Assert.That(guard.Node("team").Tokens.Spent, Is.EqualTo(2_000_000_000_000_000m), "each clamped to 10^15 tokens");
    }
}
