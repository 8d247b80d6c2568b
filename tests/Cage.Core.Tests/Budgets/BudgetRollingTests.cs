using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.Configuration;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>Issue 16 item 2: <c>5h</c> as a window opened by the first spend (the default) and as a rolling 5-hour sum.</summary>
public sealed class BudgetRollingTests
{
    [Test]
    public void Rolling_SpendLeavesTheSumFiveHoursAfterItWasCharged_WhileAWindowClosesAllAtOnce()
    {
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.Node("rolling").CapUsd(10m).Every(BudgetPeriod.FiveHoursRolling).Block();
            o.Node("window").CapUsd(10m).Every(BudgetPeriod.FiveHours).Block();
        });

        guard.Charge(default(BudgetScope), 6m, 600);
        time.Advance(TimeSpan.FromHours(2));
        guard.Charge(default(BudgetScope), 4m, 400);
        var refusal = guard.Refuse(default);
        time.Advance(TimeSpan.FromHours(3));                            // t0 + 5 h: the window closed, the first $6 is 5 h old
        var atFive = (guard.Node("rolling").Usd.Spent, guard.Node("window").Usd.Spent);
        time.Advance(TimeSpan.FromMinutes(1));                          // t0 + 5 h 1 min: the first $6 has left the rolling sum
        var afterFive = guard.Node("rolling");
        guard.Admit(default).Dispose();
        time.Advance(TimeSpan.FromHours(2));                            // t0 + 7 h 1 min: the $4 has left too

        Assert.That(refusal.Node, Is.EqualTo("rolling"), "rolling is checked first (ordinal path order)");
        Assert.That(refusal.ResetsAt, Is.EqualTo(Saturday.AddHours(5).AddMinutes(1)), "when its oldest spend leaves the sum");
        Assert.That(refusal.Message, Does.Contain("5h_rolling period, its oldest spend leaves the sum 2026-06-20T17:01:00Z"));
        Assert.That(atFive, Is.EqualTo((10m, 0m)));
        Assert.That(afterFive.Usd.Spent, Is.EqualTo(4m));
        Assert.That(afterFive.Tokens.Spent, Is.EqualTo(400m));
        Assert.That(afterFive.Period, Is.EqualTo(BudgetPeriod.FiveHoursRolling));
        Assert.That(afterFive.PeriodStart, Is.EqualTo(Saturday.AddHours(5).AddMinutes(1) - TimeSpan.FromHours(5)));
        Assert.That(guard.Node("rolling").Usd.Spent, Is.Zero);
        Assert.That(guard.Node("rolling").ResetsAt, Is.Null);
    }

    [Test]
    public void Rolling_AWarningFiresAgainOnceTheSumFellBackBelowIt()
    {
        var time = Clock();
        using var guard = Guard(time, o => o.Node("seat").CapUsd(10m).Every(BudgetPeriod.FiveHoursRolling).WarnAt(usd: 5m));
        var fired = new List<string>();
        guard.Warning += (_, w) => fired.Add(w.Threshold);

        guard.Charge(default(BudgetScope), 6m, 0);
        guard.Charge(default(BudgetScope), 1m, 0);
        time.Advance(TimeSpan.FromHours(6));
        guard.Charge(default(BudgetScope), 6m, 0);

        Assert.That(fired, Is.EqualTo(new[] { "usd:5", "usd:5" }));
    }

    [Test]
    public async Task Rolling_RebuildCountsTheLedgerCallsOfTheLastFiveHours()
    {
        var time = Clock();
        var ledger = new InMemoryLedger();
        CallRecord Call(string id, TimeSpan ago, decimal cost) => new() { Id = id, Timestamp = Saturday - ago, CostUsd = cost, CostSource = CostSource.Provider, Usage = new TokenUsage(Input: 10) };
        await ledger.AppendAsync(new LedgerBatch([Call("c_6h", TimeSpan.FromHours(6), 3m), Call("c_4h", TimeSpan.FromHours(4), 2m), Call("c_1h", TimeSpan.FromHours(1), 1m)], []));
        using var guard = Guard(time, o => o.Node("seat").CapUsd(10m).Every(BudgetPeriod.FiveHoursRolling));

        await guard.InitializeAsync(ledger);
        var rebuilt = guard.Node("seat").Usd.Spent;
        time.Advance(TimeSpan.FromHours(1).Add(TimeSpan.FromMinutes(1)));

        Assert.That(rebuilt, Is.EqualTo(3m), "the calls of 4 h and 1 h ago");
        Assert.That(guard.Node("seat").Usd.Spent, Is.EqualTo(1m), "an hour later the call of 4 h ago has left");
    }

    [TestCase("5h", BudgetPeriod.FiveHours)]
    [TestCase("5h-window", BudgetPeriod.FiveHours)]
    [TestCase("5h-rolling", BudgetPeriod.FiveHoursRolling)]
    [TestCase("rolling5h", BudgetPeriod.FiveHoursRolling)]
    public void Configuration_ReadsBothReadingsOf5h_WindowByDefault(string period, BudgetPeriod expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cage:Budgets:Nodes:seat:Usd"] = "10",
            ["Cage:Budgets:Nodes:seat:Period"] = period,
        }).Build();

        var options = BudgetConfiguration.Read(configuration.GetSection("Cage:Budgets"));

        Assert.That(options.Nodes["seat"].Period, Is.EqualTo(expected));
    }
}
