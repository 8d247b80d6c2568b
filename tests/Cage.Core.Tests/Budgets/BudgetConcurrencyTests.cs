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
