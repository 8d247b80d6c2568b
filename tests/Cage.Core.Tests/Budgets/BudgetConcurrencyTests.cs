using CageNet.Budgets;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>SPEC 7.4 / 10: 64 concurrent callers × 100 rounds never take a node past its cap by more than the calls admitted in flight.</summary>
public sealed class BudgetConcurrencyTests
{
    private const int Callers = 64;
    private const int Rounds = 100;

    private static (long Admitted, long Refused) Hammer(BudgetGuard guard, Func<int, BudgetScope> scope, decimal estimate, decimal actual)
    {
        long admitted = 0, refused = 0;
        using var start = new Barrier(Callers);
        var threads = Enumerable.Range(0, Callers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            for (var round = 0; round < Rounds; round++)
            {
                if (guard.TryReserve(scope(i), estimate, 0, out var reservation, out _))
                {
                    Interlocked.Increment(ref admitted);
                    Thread.Yield();
                    reservation.Settle(actual);
                }
                else
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return (admitted, refused);
    }

    [Test]
    [Repeat(5)]
    public void TryReserve_ExactEstimates_NeverExceedsTheCap()
    {
        using var guard = Guard(Clock(), o => o.Node("org").CapUsd(10m).Block());

        var (admitted, refused) = Hammer(guard, _ => default, 0.01m, 0.01m);

        var spent = guard.Node("org").Usd.Spent;
        Assert.That(spent, Is.EqualTo(10m), "the cap is reached exactly, never passed");
        Assert.That(admitted, Is.EqualTo(1_000));
        Assert.That(refused, Is.EqualTo((Callers * Rounds) - 1_000));
        Assert.That(guard.Node("org").Usd.Reserved, Is.Zero);
    }

    [Test]
    [Repeat(3)]
    public void TryReserve_64CallersOver1000Users_NeverExceedAnyCap()
    {
        // Issue 16: 64 callers spread over 1,000 users of a routed tree (two teams by a label, a user under each), exact
        // estimates, caps small enough that the root, every team and some users are refused.
        using var guard = Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(40m).Block();
            o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40)).Block();
            o.Node("org/team-b").CapUsd(BudgetLimit.PercentOfParent(60)).Block();
            o.Node("org/{team}/{user}").CapUsd(0.05m).Block();
        });
        static BudgetScope Scope(int caller, int round)
        {
            var user = ((caller * 7919) + (round * 104_729)) % 1_000;
            return new BudgetScope(User: "u" + user).WithLabel("team", user % 3 == 0 ? "team-a" : "team-b");
        }

        long admitted = 0;
        using var start = new Barrier(Callers);
        var threads = Enumerable.Range(0, Callers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            for (var round = 0; round < 200; round++)
            {
                if (guard.TryReserve(Scope(i, round), 0.01m, 0, out var reservation, out _))
                {
                    Interlocked.Increment(ref admitted);
                    Thread.Yield();
                    reservation.Settle(0.01m);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        var org = guard.Node("org").Usd.Spent;
        Assert.That(org, Is.EqualTo(admitted * 0.01m), "every admitted call is counted once");
        Assert.That(org, Is.LessThanOrEqualTo(40m));
        Assert.That(guard.Node("org/team-a").Usd.Spent, Is.LessThanOrEqualTo(16m));
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.LessThanOrEqualTo(24m));
        Assert.That(guard.Node("org/team-a").Usd.Spent + guard.Node("org/team-b").Usd.Spent, Is.EqualTo(org), "a call charges its own team only");
        var users = Enumerable.Range(0, 1_000).Select(u => guard.Node($"org/{(u % 3 == 0 ? "team-a" : "team-b")}/u{u}").Usd.Spent).ToList();
        Assert.That(users.Max(), Is.LessThanOrEqualTo(0.05m), "no user passed its cap");
        Assert.That(users.Sum(), Is.EqualTo(org));
        Assert.That(admitted, Is.LessThan(Callers * 200), "the caps refused calls");
        Assert.That(guard.Node("org").Usd.Reserved, Is.Zero);
    }

    [Test]
    [Repeat(5)]
    public void TryReserve_UnderestimatedCalls_OvershootAtMostWhatWasInFlight()
    {
        // Every call costs twice its estimate: each call in flight may overshoot by one estimate; at most 64 are in flight.
        using var guard = Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(5m).Block(); // the binding cap: 8 users × $1 would be $8
            o.Node("org/{user}").CapUsd(1m).Block();
        });

        Hammer(guard, i => new BudgetScope(User: "u" + (i % 8)), 0.01m, 0.02m);

        var org = guard.Node("org").Usd.Spent;
        Assert.That(org, Is.GreaterThanOrEqualTo(5m));
        Assert.That(org, Is.LessThanOrEqualTo(5m + (Callers * 0.01m)));
        for (var u = 0; u < 8; u++)
        {
            Assert.That(guard.Node("org/u" + u).Usd.Spent, Is.LessThanOrEqualTo(1m + (Callers * 0.01m)));
        }
    }

    [Test]
    [Repeat(5)]
    public void TryReserve_ZeroEstimates_OvershootAtMostOneCallPerCallerInFlight()
    {
        using var guard = Guard(Clock(), o => o.Node("org").CapUsd(1m).Block());

        var (admitted, _) = Hammer(guard, _ => default, 0m, 0.01m);

        var spent = guard.Node("org").Usd.Spent;
        Assert.That(spent, Is.GreaterThanOrEqualTo(1m));
        Assert.That(spent, Is.LessThanOrEqualTo(1m + (Callers * 0.01m)));
        Assert.That(admitted * 0.01m, Is.EqualTo(spent));
    }
}
