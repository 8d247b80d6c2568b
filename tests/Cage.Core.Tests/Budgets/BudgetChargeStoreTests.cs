using CageNet.Budgets;
using CageNet.Ledger;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>Spend without a ledger call goes to the <see cref="IBudgetStore"/>; metered calls do not (issue 13 item 7).</summary>
public sealed class BudgetChargeStoreTests
{
    private static void Tree(BudgetOptions o) => o.Node("users/{user}").CapUsd(10m).Every(BudgetPeriod.Day);

    [Test]
    public async Task ChargeAndSettle_AreRecorded_AndANewGuardOverTheSameStoreRebuildsThem()
    {
        var time = Clock();
        var store = new InMemoryBudgetStore();
        var alice = new BudgetScope(User: "alice");
        using (var first = Guard(time, Tree, store))
        {
            first.Charge(alice, 0.5m, 50);
            first.Admit(alice, 1m).Settle(0.25m, 5);
            first.Admit(alice, 1m).Dispose(); // nothing billed: nothing recorded
            first.Charge(new CallRecord { Id = "c_1", Timestamp = time.GetUtcNow(), User = "alice", CostUsd = 4m }); // a ledger call: not recorded
        }

        Assert.That(store.Charges, Is.EqualTo(2));
        using var second = Guard(time, Tree, store);
        await second.InitializeAsync(new InMemoryLedger());
        Assert.That(second.Node("users/alice").Usd.Spent, Is.EqualTo(0.75m));
        Assert.That(second.Node("users/alice").Tokens.Spent, Is.EqualTo(55m));

        time.Advance(TimeSpan.FromDays(1));
        using var nextDay = Guard(time, Tree, store);
        await nextDay.InitializeAsync(null);
        Assert.That(nextDay.Node("users/alice").Usd.Spent, Is.Zero, "yesterday's charges count toward yesterday");
    }

    [Test]
    public void ChargeOfACallRecord_CountsInThePeriodTheCallStarted()
    {
        var time = Clock(new DateTimeOffset(2026, 6, 21, 0, 0, 10, TimeSpan.Zero));
        using var guard = Guard(time, Tree, new InMemoryBudgetStore());

        guard.Charge(new CallRecord { Id = "c_1", Timestamp = time.GetUtcNow().AddSeconds(-20), User = "alice", CostUsd = 1m });
        guard.Charge(new CallRecord { Id = "c_2", Timestamp = time.GetUtcNow(), User = "alice", CostUsd = 0.5m });

        Assert.That(guard.Node("users/alice").Usd.Spent, Is.EqualTo(0.5m), "c_1 started the day before");
    }
}
