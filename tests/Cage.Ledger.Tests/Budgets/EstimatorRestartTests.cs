using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 16 item 3: the subscription estimator's state (per-class EMA, snapshot counts, mismatches, the reference
/// reading) is saved in the ledger file (schema step 8) and reads the same after a restart; a utilization reading
/// reconciles by itself, with no host code.
/// </summary>
public sealed class EstimatorRestartTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    private sealed class Host : IAsyncDisposable
    {
        private readonly ServiceProvider _provider;

        public Host(string path, FakeTimeProvider time)
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(time);
            services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path).AddBudgets(o =>
            {
                o.Subscription.RecalibrateAfter = 2;
                o.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(50));
            });
            _provider = services.BuildServiceProvider();
            Meter = _provider.GetRequiredService<ICageMeter>();
            Guard = _provider.GetRequiredService<BudgetGuard>();
        }

        public ICageMeter Meter { get; }

        public BudgetGuard Guard { get; }

        public void Call(long tokens)
        {
            using var m = Meter.Meter("chat");
            m.Usage("anthropic", "claude-sonnet-4-5", input: tokens, output: 0, providerCost: 0.01m);
        }

        public async ValueTask DisposeAsync()
        {
            await Meter.FlushAsync();
            await _provider.DisposeAsync();
        }
    }

    private static (double PerPct, int Snapshots, int Mismatches, decimal? Cap, double? Reference) Read(BudgetGuard guard) =>
        (guard.Estimator.TokensPerPercent("sonnet"), guard.Estimator.SnapshotCount("sonnet"), guard.Estimator.ConsecutiveMismatches,
         guard.GetStatus("seat").Nodes[0].Tokens.Cap, null);

    [Test]
    public async Task EstimatorState_ReadsTheSameAfterARestart_AndEachRisingReadingReconciledByItself()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        var time = new FakeTimeProvider(Now);
        var resets = Now.AddHours(3);
        SubscriptionSample Reading(double utilization) => new("5h", utilization, time.GetUtcNow(), resets);
        (double, int, int, decimal?, double?) before;
        SubscriptionReconciliation? first, second;
        await using (var host = new Host(test.Path, time))
        {
            var estimator = host.Guard.Estimator;
            estimator.Observe(Reading(0.10));                    // the reference
            host.Call(16_000);
            time.Advance(TimeSpan.FromMinutes(5));
            estimator.Observe(Reading(0.14));                    // +4% for 16k sonnet tokens: the bootstrap said 2%
            first = estimator.LastReconciliation;
            host.Call(8_000);
            time.Advance(TimeSpan.FromMinutes(5));
            estimator.Observe(Reading(0.16));                    // +2% for 8k: a second mismatch recalibrates
            second = estimator.LastReconciliation;
            host.Call(4_000);                                    // pending tokens after the last reading
            before = Read(host.Guard);
        }

        await using var restarted = new Host(test.Path, time);
        var after = Read(restarted.Guard);
        restarted.Guard.Estimator.Observe(Reading(0.165));       // the saved reference and pending tokens carry on

        Assert.That(first, Is.Not.Null, "the reading reconciled without a Reconcile call");
        Assert.That(first!.MeasuredPct, Is.EqualTo(4.0).Within(1e-9));
        Assert.That(first.EstimatedPct, Is.EqualTo(2.0).Within(1e-9), "sonnet bootstraps at 40,000 / 5 = 8,000 tokens per 1%");
        Assert.That(first.Trusted, Is.False);
        Assert.That(second!.Recalibrated, Is.True, "RecalibrateAfter = 2 consecutive mismatches");
        Assert.That(before.Item2, Is.EqualTo(3), "the first snapshot, the recalibration raising the count to two, and the second reading's snapshot");
        Assert.That(after, Is.EqualTo(before), "EMA, snapshot count, mismatches and the cap it converts read the same");
        Assert.That(restarted.Guard.Estimator.SnapshotCount("sonnet"), Is.EqualTo(before.Item2 + 1), "the 4k tokens metered before the restart and the saved reference made a snapshot");
    }

    [Test]
    public async Task DamagedEstimatorState_IsIgnored_TheEstimatorStartsFromItsBootstrap()
    {
        using var test = TestLedger.Create();
        await new SqliteBudgetStore(test.Ledger).SaveEstimatorAsync("{ not json", Now);
        test.Ledger.Dispose();

        await using var host = new Host(test.Path, new FakeTimeProvider(Now));

        Assert.That(host.Guard.Estimator.TokensPerPercent("sonnet"), Is.EqualTo(8_000));
    }
}
