using CageNet.Budgets;

namespace CageNet.Tests.Budgets;

public sealed class SessionCostAccumulatorTests
{
    private static SessionCostAccumulator Session()
    {
        var session = new SessionCostAccumulator();
        for (var i = 0; i < 14; i++) session.Add("fast", "main", 586, 150, null); // local: no cost
        session.Add("fast", "main", 246, 0, null);
        for (var i = 0; i < 8; i++) session.Add("cloud", "main", 481, 122, 0.00225m);
        session.Add("cloud", "delegate", 250, 80, 0.0012m);
        session.Add("cloud", "probe", 150, 30, 0.0042m);
        return session;
    }

    [Test]
    public void Summary_MixedLocalAndCloud_ShowsCloudCostWithSixDecimals()
    {
        Assert.That(Session().Summary(), Is.EqualTo("25 calls, prompt=12,698 / completion=3,186 tokens, cost=$0.023400 (cloud only; local: 15 calls)"));
    }

    [Test]
    public void Summary_SubCentCost_StaysVisible()
    {
        var session = new SessionCostAccumulator();
        session.Add("cloud", null, 10, 2, 0.000028m);

        Assert.That(session.Summary(), Does.Contain("cost=$0.000028"));
    }

    [Test]
    public void Detail_SortsByCostDescThenModelThenCategory()
    {
        var session = Session();
        session.Add("alpha", "main", 1, 1, 0.0042m); // ties with cloud/probe on cost: model decides
        session.Add("cloud", "zeta", 1, 1, 0m);       // a cloud call that cost $0 is not local

        var detail = session.Detail();

        Assert.That(detail.Select(d => $"{d.Model}/{d.Category}"), Is.EqualTo(new[] { "cloud/main", "alpha/main", "cloud/probe", "cloud/delegate", "cloud/zeta", "fast/main" }));
        Assert.That(detail.Single(d => d.Category == "zeta").IsLocal, Is.False);
        Assert.That(detail.Single(d => d.Model == "fast").IsLocal, Is.True);
        Assert.That(detail[0].ToString(), Is.EqualTo("cloud main: 8 calls, 3,848/976 tokens, $0.018000"));
        Assert.That(detail[^1].ToString(), Is.EqualTo("fast main: 15 calls, 8,450/2,100 tokens, (local)"));
    }

    [Test]
    public void Warnings_EachFiresOnceOnTheCrossingCallAndResetRearmsBoth()
    {
        var session = new SessionCostAccumulator(warnAtUsd: 0.5m, warnAtTokens: 1_000);

        Assert.That(session.Add("m", null, 400, 100, 0.3m), Is.Empty);
        Assert.That(session.Add("m", null, 100, 0, 0.3m), Is.EqualTo(new[] { "session cost reached $0.500000: $0.600000 so far" }));
        Assert.That(session.Add("m", null, 400, 100, 0.3m), Is.EqualTo(new[] { "session tokens reached 1,000: 1,100 so far" }), "independent of the dollar warning");
        Assert.That(session.Add("m", null, 400, 100, 0.3m), Is.Empty);

        session.Reset();
        Assert.That(session.Calls, Is.Zero);
        Assert.That(session.Add("m", null, 1_000, 0, 1m), Has.Count.EqualTo(2));
    }

    [Test]
    public void Add_CallRecord_LocalAndUnpricedHaveNoCost()
    {
        var session = new SessionCostAccumulator();
        session.Add(new CallRecord { Id = "c1", Timestamp = DateTimeOffset.UnixEpoch, Model = "llama", CostUsd = 0m, CostSource = CostSource.Local, Usage = new TokenUsage(Input: 5, Output: 1) });
        session.Add(new CallRecord { Id = "c2", Timestamp = DateTimeOffset.UnixEpoch, Model = "gpt", Category = "probe", CostUsd = 0.01m, CostSource = CostSource.Catalog, Usage = new TokenUsage(Input: 7, CacheRead: 3, Output: 2) });

        Assert.That(session.Summary(), Is.EqualTo("2 calls, prompt=15 / completion=3 tokens, cost=$0.010000 (cloud only; local: 1 call)"));
    }

    [Test]
    public void Add_CallRecordsOfUnknownCost_CountedApartNeverAsLocal()
    {
        var session = new SessionCostAccumulator();
        session.Add(new CallRecord { Id = "c", Timestamp = BudgetTestKit.Saturday, Model = "cloud", CostUsd = 0.002m, CostSource = CostSource.Catalog, Usage = new TokenUsage(Input: 100, Output: 10) });
        session.Add(new CallRecord { Id = "c", Timestamp = BudgetTestKit.Saturday, Model = "llama", CostUsd = 0m, CostSource = CostSource.Local, Usage = new TokenUsage(Input: 50, Output: 5) });
        session.Add(new CallRecord { Id = "c", Timestamp = BudgetTestKit.Saturday, Model = "mystery-9", CostUsd = null, CostSource = CostSource.Unpriced, Usage = new TokenUsage(Input: 30, Output: 3) });
        session.Add(new CallRecord { Id = "c", Timestamp = BudgetTestKit.Saturday, Model = "cloud", CostUsd = null, CostSource = CostSource.Catalog, UsageStatus = UsageStatus.Missing });

        Assert.That(session.Summary(), Is.EqualTo("4 calls, prompt=180 / completion=18 tokens, cost=$0.002000 (cloud only; local: 1 call; unknown cost: 2 calls)"));
        Assert.That(session.UnknownCostCalls, Is.EqualTo(2));
        Assert.That((session.CloudCostUsd, session.IsLowerBound), Is.EqualTo((0.002m, true)), "the priced sum, a lower bound");
        Assert.That(session.Detail().Single(d => d.Model == "llama").IsLowerBound, Is.False);
        var mystery = session.Detail().Single(d => d.Model == "mystery-9");
        Assert.That((mystery.IsLocal, mystery.UnknownCostCalls), Is.EqualTo((false, 1L)));
        Assert.That(mystery.ToString(), Is.EqualTo("mystery-9 main: 1 call, 30/3 tokens, $0.000000 (unknown cost: 1 call)"));
        Assert.That(session.Detail().Single(d => d.Model == "llama").ToString(), Does.EndWith("(local)"));
    }
}
