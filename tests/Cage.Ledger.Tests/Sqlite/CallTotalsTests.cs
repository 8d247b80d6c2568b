using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// The writer's per-batch totals (<see cref="CallTotals"/>): its recent-group cache must never split one group or merge
/// two, whatever the order of keys, their string instances and their days. Expected sums are worked out by hand.
/// </summary>
public sealed class CallTotalsTests
{
    // 2026-03-01 is day 20513 since 1970-01-01.
    private const long March1 = 20_513;

    [Test]
    public void Add_TenRoutesCyclingPastTheCache_SumsEachRouteOnce()
    {
        var totals = new CallTotals();
        // 30 calls, routes r0..r9 in turn (more than the 8 groups a dimension caches), input 1..30.
        for (var k = 0; k < 30; k++)
        {
            totals.Add(Call($"c{k}", route: "r" + (k % 10), usage: new TokenUsage(k + 1)), costE10: 10);
        }

        var routes = Groups(totals, ReportDimension.Route);
        Assert.That(routes.Keys, Is.EquivalentTo(Enumerable.Range(0, 10).Select(i => ("r" + i, March1))));
        // Route r3 got the calls k = 3, 13, 23: inputs 4 + 14 + 24.
        Assert.That(routes[("r3", March1)].Calls, Is.EqualTo(3));
        Assert.That(routes[("r3", March1)].Input, Is.EqualTo(42));
        Assert.That(routes[("r3", March1)].CostE10, Is.EqualTo(30));
        Assert.That(routes[("r0", March1)].Input, Is.EqualTo(1 + 11 + 21));
        Assert.That(routes[("r9", March1)].Input, Is.EqualTo(10 + 20 + 30));
    }

    [Test]
    public void Add_EqualKeysInDistinctStringInstances_ShareOneGroup()
    {
        var totals = new CallTotals();
        // Each key is a fresh string (as ids built per call are); "alpha" comes back after "beta" in new instances.
        string Fresh(string s) => new(s.AsSpan());
        totals.Add(Call("c1", task: Fresh("alpha"), usage: new TokenUsage(1)), 0);
        totals.Add(Call("c2", task: Fresh("alpha"), usage: new TokenUsage(2)), 0);
        totals.Add(Call("c3", task: Fresh("beta"), usage: new TokenUsage(4)), 0);
        totals.Add(Call("c4", task: Fresh("alpha"), usage: new TokenUsage(8)), 0);

        var tasks = Groups(totals, ReportDimension.Task);
        Assert.That(tasks.Keys, Is.EquivalentTo(new[] { ("alpha", March1), ("beta", March1) }));
        Assert.That(tasks[("alpha", March1)].Calls, Is.EqualTo(3));
        Assert.That(tasks[("alpha", March1)].Input, Is.EqualTo(11));
        Assert.That(tasks[("beta", March1)].Input, Is.EqualTo(4));
    }

    [Test]
    public void Add_SameKeyAlternatingAcrossMidnight_KeepsTheDaysApart()
    {
        var totals = new CallTotals();
        const string route = "chat"; // one instance throughout: only the day tells the groups apart
        totals.Add(Call("c1", "2026-03-01T23:59:59.999Z", route, usage: new TokenUsage(1)), 5);
        totals.Add(Call("c2", "2026-03-02T00:00:00Z", route, usage: new TokenUsage(2)), 7);
        totals.Add(Call("c3", "2026-03-01T23:00:00Z", route, usage: new TokenUsage(4)), 11);
        totals.Add(Call("c4", "2026-03-02T01:00:00Z", route, usage: new TokenUsage(8)), 13);

        var routes = Groups(totals, ReportDimension.Route);
        Assert.That(routes.Keys, Is.EquivalentTo(new[] { ("chat", March1), ("chat", March1 + 1) }));
        Assert.That((routes[("chat", March1)].Calls, routes[("chat", March1)].Input, routes[("chat", March1)].CostE10), Is.EqualTo((2L, 5L, 16L)));
        Assert.That((routes[("chat", March1 + 1)].Calls, routes[("chat", March1 + 1)].Input, routes[("chat", March1 + 1)].CostE10), Is.EqualTo((2L, 10L, 20L)));
        var days = Groups(totals, ReportDimension.Day);
        Assert.That(days.Keys, Is.EquivalentTo(new[] { ("", March1), ("", March1 + 1) }));
    }

    [Test]
    public void Add_NullAndEmptyDimensions_GroupTogetherUnderTheEmptyKey()
    {
        var totals = new CallTotals();
        totals.Add(Call("c1", category: null, user: "u1", usage: new TokenUsage(1)), 0);
        totals.Add(Call("c2", category: "", user: null, usage: new TokenUsage(2)), 0);
        totals.Add(Call("c3", category: "main", user: null, usage: new TokenUsage(4)), 0);

        var categories = Groups(totals, ReportDimension.Category);
        Assert.That(categories.Keys, Is.EquivalentTo(new[] { ("", March1), ("main", March1) }));
        Assert.That(categories[("", March1)].Input, Is.EqualTo(3));
        var users = Groups(totals, ReportDimension.User);
        Assert.That(users[("", March1)].Input, Is.EqualTo(6));
        Assert.That(users[("u1", March1)].Input, Is.EqualTo(1));
    }

    [Test]
    public void Clear_ThenAddTheSameKeys_StartsFromZero()
    {
        var totals = new CallTotals();
        totals.Add(Call("c1", route: "chat", usage: new TokenUsage(100)), 1);
        totals.Clear();
        Assert.That(totals.IsEmpty, Is.True);

        totals.Add(Call("c2", route: "chat", usage: new TokenUsage(3)), 2);

        var chat = Groups(totals, ReportDimension.Route)[("chat", March1)];
        Assert.That((chat.Calls, chat.Input, chat.CostE10), Is.EqualTo((1L, 3L, 2L)));
    }

    [Test]
    public void Add_RouteTaskPairs_SumPerPairWithNoneAsEmptyAndRemoveTakesBack()
    {
        var totals = new CallTotals();
        // Two routes alternating over two tasks, fresh strings each call, plus a call with neither: five pairs' worth.
        string Fresh(string s) => new(s.AsSpan());
        for (var k = 0; k < 12; k++)
        {
            totals.Add(Call($"c{k}", route: Fresh("r" + (k % 2)), task: Fresh("t" + (k / 6)), usage: new TokenUsage(k + 1)), costE10: 5);
        }

        totals.Add(Call("none", route: null, task: null, usage: new TokenUsage(100)), costE10: 0);
        var pairs = Groups(totals, CallTotals.RouteTask);
        var sep = SpendReport.PairSeparator;
        Assert.That(pairs.Keys.Select(k => k.Key), Is.EquivalentTo(new[] { $"r0{sep}t0", $"r1{sep}t0", $"r0{sep}t1", $"r1{sep}t1", $"{sep}" }));
        // r1 × t1 got k = 7, 9, 11: inputs 8 + 10 + 12.
        Assert.That(pairs[($"r1{sep}t1", March1)].Input, Is.EqualTo(30));
        Assert.That(pairs[($"r1{sep}t1", March1)].CostE10, Is.EqualTo(15));
        Assert.That(pairs[($"{sep}", March1)].Input, Is.EqualTo(100));

        totals.Remove(Call("c7", route: "r1", task: "t1", usage: new TokenUsage(8)), costE10: 5);
        Assert.That(pairs[($"r1{sep}t1", March1)].Calls, Is.EqualTo(2));
        Assert.That(pairs[($"r1{sep}t1", March1)].Input, Is.EqualTo(22));
    }

    private static Dictionary<(string Key, long Day), CallTotals.Sums> Groups(CallTotals totals, ReportDimension dimension) =>
        totals.Groups.Where(g => g.Key.Dimension == dimension).ToDictionary(g => (g.Key.Key, g.Key.Day), g => g.Value);
}
