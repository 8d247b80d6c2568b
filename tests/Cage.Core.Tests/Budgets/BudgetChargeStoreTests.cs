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

        Assert.That(store.Charges, Is.EqualTo(1), "the two priced charges of the node and day are kept as one row");
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
    public async Task InMemoryStore_KeepsOnlyTheLatestPeriodAndResetOfANode()
    {
        var store = new InMemoryBudgetStore();
        var day = new DateTimeOffset(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);
        BudgetCharge Row(string id, DateTimeOffset start, DateTimeOffset? reset, decimal usd, bool unpriced = false) =>
            new(id, "users/alice", start, reset, start, usd, 1, unpriced);

        await store.AddChargesAsync([Row("b_1", day, null, 1m)]);
        await store.AddChargesAsync([Row("b_2", day.AddDays(1), null, 2m), Row("b_2", day.AddDays(1), null, 0m, unpriced: true)]);
        await store.AddChargesAsync([Row("b_3", day, null, 4m)]);                                  // a late charge of the day before
        await store.AddChargesAsync([Row("b_4", day.AddDays(1), null, 8m)]);
        Assert.That((await store.LoadChargesAsync(null)).Select(c => (c.Usd, c.Unpriced)), Is.EqualTo(new[] { (10m, false), (0m, true) }));

        await store.AddChargesAsync([Row("b_5", day.AddDays(1), day.AddDays(1).AddHours(1), 16m)]); // after a reset
        Assert.That((await store.LoadChargesAsync(null)).Select(c => c.Usd), Is.EqualTo(new[] { 16m }));
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
