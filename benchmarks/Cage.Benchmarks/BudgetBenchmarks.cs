using BenchmarkDotNet.Attributes;
using CageNet.Budgets;

namespace CageNet.Benchmarks;

/// <summary>
/// The budget guard's hot path (SPEC 9: reserve + settle ≤ 1 µs uncontended; ≥ 1M reservations/s across 2 cores). The
/// tree is a daily root with a per-user child (two nodes charged per call) and warn thresholds; caps are high enough that
/// nothing is refused, so every operation is a full reserve-against-both-nodes then settle.
/// </summary>
[MemoryDiagnoser]
public class BudgetBenchmarks
{
    private const int PerThread = 200_000;
    private static readonly BudgetScope Alice = new(User: "alice");
    private static readonly BudgetScope Bob = new(User: "bob");
    private static readonly BudgetScope TeamAlice = new BudgetScope(User: "alice").WithLabel("team", "team-a");
    private BudgetGuard _guard = null!;
    private BudgetGuard _routed = null!;
    private BudgetGuard _wide = null!;
    private BudgetScope[] _wideScopes = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var options = new BudgetOptions();
        options.Node("org").CapUsd(100_000_000m).Every(BudgetPeriod.Day).Block().WarnAt(pct: [50, 80]);
        options.Node("org/{user}").CapUsd(50_000_000m).CapTokens(1_000_000_000_000_000).Every(BudgetPeriod.Day).Block();
        _guard = new BudgetGuard(options, TimeProvider.System);
        ReserveSettle();

        // Issue 16: routed literal siblings (org/team-a, org/team-b by the label team) and a per-user node under each team.
        var routed = new BudgetOptions();
        routed.Node("org").CapUsd(100_000_000m).Every(BudgetPeriod.Day).Block().WarnAt(pct: [50, 80]);
        routed.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40)).Every(BudgetPeriod.Day).Block();
        routed.Node("org/team-b").CapUsd(BudgetLimit.PercentOfParent(60)).Every(BudgetPeriod.Day).Block();
        routed.Node("org/{team}/{user}").CapUsd(10_000_000m).Every(BudgetPeriod.Day).Block();
        _routed = new BudgetGuard(routed, TimeProvider.System);
        ReserveSettleRouted();

        // Issue 16: 10,000 templated nodes (1,000 users × 10 agents, plus the 1,000 users), each call a different one.
        var wide = new BudgetOptions();
        wide.Node("org").CapUsd(100_000_000m).Every(BudgetPeriod.Day).Block().WarnAt(pct: [50, 80]);
        wide.Node("org/{user}").CapUsd(50_000m).Every(BudgetPeriod.Day).Block();
        wide.Node("org/{user}/{agent}").CapUsd(10_000m).Every(BudgetPeriod.Day).Block();
        _wide = new BudgetGuard(wide, TimeProvider.System);
        _wideScopes = [.. Enumerable.Range(0, 10_000).Select(i => new BudgetScope(User: "user-" + (i % 1_000), Agent: "agent-" + (i / 1_000)))];
        for (var i = 0; i < _wideScopes.Length; i++)
        {
            ReserveSettleTenThousandNodes(); // every instance exists before measuring
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _guard.Dispose();
        _routed.Dispose();
        _wide.Dispose();
    }

    /// <summary>One call routed by a label: reserve against org, org/team-a and org/team-a/alice, then settle.</summary>
    [Benchmark]
    public bool ReserveSettleRouted()
    {
        _routed.TryReserve(TeamAlice, 0.01m, 1_000, out var reservation, out _);
        return reservation!.Settle(0.008m, 900);
    }

    /// <summary>One call against org, org/{user} and org/{user}/{agent} of a tree with 11,001 nodes, a different user × agent each call.</summary>
    [Benchmark]
    public bool ReserveSettleTenThousandNodes()
    {
        var scope = _wideScopes[_next];
        _next = _next + 1 == _wideScopes.Length ? 0 : _next + 1;
        _wide.TryReserve(scope, 0.01m, 1_000, out var reservation, out _);
        return reservation!.Settle(0.008m, 900);
    }

    /// <summary>One call: reserve an estimate against org and org/alice, settle to the actual cost.</summary>
    [Benchmark]
    public bool ReserveSettle()
    {
        _guard.TryReserve(Alice, 0.01m, 1_000, out var reservation, out _);
        return reservation!.Settle(0.008m, 900);
    }

    /// <summary>Two threads, the same user: both contend on org and org/alice. Per operation = one reserve + settle.</summary>
    [Benchmark(OperationsPerInvoke = 2 * PerThread)]
    public void TwoThreadsSameUser() => RunTwo(Alice, Alice);

    /// <summary>Two threads, different users: they contend only on the shared root.</summary>
    [Benchmark(OperationsPerInvoke = 2 * PerThread)]
    public void TwoThreadsTwoUsers() => RunTwo(Alice, Bob);

    private void RunTwo(BudgetScope first, BudgetScope second)
    {
        var a = new Thread(() => Loop(first));
        var b = new Thread(() => Loop(second));
        a.Start();
        b.Start();
        a.Join();
        b.Join();
    }

    private void Loop(BudgetScope scope)
    {
        for (var i = 0; i < PerThread; i++)
        {
            _guard.TryReserve(scope, 0.01m, 1_000, out var reservation, out _);
            reservation!.Settle(0.008m, 900);
        }
    }
}
