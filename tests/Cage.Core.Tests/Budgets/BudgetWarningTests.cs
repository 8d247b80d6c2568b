using CageNet.Budgets;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

public sealed class BudgetWarningTests
{
    private static (BudgetGuard Guard, List<BudgetWarningEventArgs> Fired) Watched(Microsoft.Extensions.Time.Testing.FakeTimeProvider time, Action<BudgetOptions> configure, IBudgetStore? store = null, ILogger? logger = null, System.Diagnostics.Metrics.IMeterFactory? meters = null)
    {
        var options = new BudgetOptions();
        configure(options);
        var guard = new BudgetGuard(options, time, store, logger: logger, meterFactory: meters);
        var fired = new List<BudgetWarningEventArgs>();
        guard.Warning += (_, e) => fired.Add(e);
        return (guard, fired);
    }

    [Test]
    public void Settle_CrossingCall_FiresEachThresholdOnceOnThatCall()
    {
        var (guard, fired) = Watched(Clock(), o => o.Node("team").CapUsd(1m).Every(BudgetPeriod.Day).WarnAt(pct: [50, 80]));
        using var _ = guard;

        guard.Admit(default).Settle(0.4m);
        Assert.That(fired, Is.Empty);
        guard.Admit(default).Settle(0.2m); // 0.6: crosses 50%
        Assert.That(fired.Select(f => f.Threshold), Is.EqualTo(new[] { "usd:50%" }));
        Assert.That(fired[0].Spent, Is.EqualTo(0.6m), "fired on the crossing call, with its spend");
        guard.Admit(default).Settle(0.1m); // 0.7: nothing new
        guard.Admit(default).Settle(0.5m); // 1.2: crosses 80% and the cap in one call
        guard.Charge(default, 1m, 0);

        Assert.That(fired.Select(f => f.Threshold), Is.EqualTo(new[] { "usd:50%", "usd:80%", "usd:100%" }));
        Assert.That(fired[1].Spent, Is.EqualTo(1.2m));
        Assert.That(fired[2].Message, Does.Contain("budget 'team' crossed 100% of its $1.000000 cap: spent $1.200000"));
        Assert.That(guard.Node("team").WarningsFired, Is.EqualTo(new[] { "usd:50%", "usd:80%", "usd:100%" }));
    }

    [Test]
    public void Settle_DollarAndTokenThresholds_FireIndependently()
    {
        var (guard, fired) = Watched(Clock(), o => o.Node("session").WarnAt(usd: 0.5m, tokens: 100_000));
        using var _ = guard;

        guard.Charge(default, 0.6m, 10);          // dollars cross, tokens do not
        guard.Charge(default, 0.01m, 200_000);    // tokens cross; dollars must not fire again

        Assert.That(fired.Select(f => (f.Threshold, f.Metric)), Is.EqualTo(new[] { ("usd:0.5", "usd"), ("tokens:100000", "tokens") }));
        Assert.That(fired[0].Message, Does.Contain("$0.500000").And.Contain("$0.600000"));
    }

    [Test]
    public void Warnings_RearmOnRolloverAndOnReset()
    {
        var time = Clock();
        var (guard, fired) = Watched(time, o => o.Node("team").Every(BudgetPeriod.Day).WarnAt(usd: 1m));
        using var _ = guard;
        guard.Charge(default, 1m, 0);
        guard.Charge(default, 1m, 0);
        Assert.That(fired, Has.Count.EqualTo(1));

        time.Advance(TimeSpan.FromDays(1));
        guard.Charge(default, 0.5m, 0);
        guard.Charge(default, 0.5m, 0);
        Assert.That(fired, Has.Count.EqualTo(2), "re-armed by the rollover");

        guard.Reset("team");
        Assert.That(guard.Node("team").Usd.Spent, Is.Zero);
        Assert.That(guard.Node("team").WarningsFired, Is.Empty);
        guard.Charge(default, 1.5m, 0);
        Assert.That(fired, Has.Count.EqualTo(3), "re-armed by the reset");
    }

    [Test]
    public void Warning_ConcurrentCrossings_FireExactlyOnce()
    {
        var (guard, fired) = Watched(Clock(), o => o.Node("team").WarnAt(usd: 5m));
        using var _ = guard;

        Parallel.For(0, 1_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ => guard.Charge(default, 0.01m, 0));

        Assert.That(fired, Has.Count.EqualTo(1));
    }

    [Test]
    public void Warning_GoesToTheLoggerTheMetricAndTheStore()
    {
        var logger = new FakeLogger();
        using var meters = new TestMeterFactory();
        using var collector = new MetricCollector<long>(meters, CageTelemetry.MeterName, CageTelemetry.BudgetWarnings);
        var store = new InMemoryBudgetStore();
        var (guard, _) = Watched(Clock(), o => o.Node("team").WarnAt(usd: 1m), store, logger, meters);
        using var __ = guard;

        guard.Charge(default, 2m, 0);

        var entry = logger.Collector.GetSnapshot().Single(r => r.Id.Id == 1101);
        Assert.That(entry.Level, Is.EqualTo(LogLevel.Warning));
        Assert.That(entry.Message, Does.Contain("budget 'team' crossed $1.000000"));
        Assert.That(collector.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
        var saved = store.LoadAsync().AsTask().Result.Single();
        Assert.That(saved.Node, Is.EqualTo("team"));
        Assert.That(saved.WarningsFired, Is.EqualTo(new[] { "usd:1" }));
    }

    [Test]
    public async Task Warning_SavedState_DoesNotFireAgainInANewGuard()
    {
        var time = Clock();
        var store = new InMemoryBudgetStore();
        var ledger = new CageNet.Ledger.InMemoryLedger();
        var (first, firstFired) = Watched(time, o => o.Node("team").Every(BudgetPeriod.Day).WarnAt(usd: 1m), store);
        first.Charge(default, 1.5m, 0);
        first.Dispose();
        Assert.That(firstFired, Has.Count.EqualTo(1));

        var (second, secondFired) = Watched(time, o => o.Node("team").Every(BudgetPeriod.Day).WarnAt(usd: 1m), store);
        using var _ = second;
        await second.InitializeAsync(ledger);
        second.Reset("team"); // an explicit reset re-arms...
        second.Charge(default, 1m, 0);
        Assert.That(secondFired, Has.Count.EqualTo(1), "...and the next crossing fires");
    }

    private sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly List<System.Diagnostics.Metrics.Meter> _meters = [];

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }

    [Test]
    public void Warning_CapMovesUnderTheSpend_FiresOnTheNextCharge()
    {
        var options = new BudgetOptions();
        options.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(10, "5h"));
        using var guard = new BudgetGuard(options, Clock());
        var fired = new List<string>();
        guard.Warning += (_, e) => fired.Add(e.Threshold);
        Assert.That(guard.Node("seat").Tokens.Cap, Is.EqualTo(80_000m), "10% × 8,000 sonnet tokens per 1% (bootstrap)");

        guard.Admit(default).Settle(0m, 72_000);                        // 90% of the cap
        guard.Estimator.AddSnapshot("sonnet", 1_000, 1);                 // recalibrated: 1,000 tokens per 1%
        guard.Estimator.AddSnapshot("sonnet", 1_000, 1);
        Assert.That(guard.Node("seat").Tokens.Cap, Is.EqualTo(10_000m), "the cap shrank below the 72,000 spent");
        Assert.That(fired, Is.Empty, "nothing crossed yet: no charge since");
        guard.Admit(default).Settle(0m, 10);
        guard.Admit(default).Settle(0m, 10);

        Assert.That(fired, Is.EqualTo(new[] { "tokens:100%" }), "once, on the first charge past the moved cap");
    }
}
