using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using Microsoft.Extensions.Logging.Testing;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

public sealed class SubscriptionTests
{
    private static readonly string Fixtures = CageNet.TestFixtures.RepositoryFixtures.Wire;

    [Test]
    public void AnthropicUnifiedHeaders_FixtureFile_YieldsTheUtilizationWindows()
    {
        var headers = File.ReadAllLines(Path.Combine(Fixtures, "anthropic_ratelimit_headers.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(':', 2))
            .Select(p => new KeyValuePair<string, string>(p[0].Trim(), p[1].Trim()));

        var samples = AnthropicUnifiedHeaders.Parse(headers, Saturday);

        Assert.That(samples.Select(s => (s.Window, s.Utilization)), Is.EqualTo(new[] { ("5h", 0.21), ("7d", 0.68), ("7d_sonnet", 0.02) }));
        Assert.That(samples[0].ResetsAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1790814600)));
        Assert.That(samples[0].Status, Is.EqualTo("allowed"));
        Assert.That(samples[0].Percent, Is.EqualTo(21).Within(1e-9));
    }

    [Test]
    public void AnthropicUnifiedHeaders_GarbageValues_AreSkipped()
    {
        var samples = AnthropicUnifiedHeaders.Parse(
        [
            new("Anthropic-RateLimit-Unified-5h-Utilization", "NaN"),
            new("anthropic-ratelimit-unified-7d-utilization", "-0.5"),
            new("anthropic-ratelimit-unified-7d_oi-utilization", "0.4"),
            new("anthropic-ratelimit-unified-7d_oi-reset", "not-a-number"),
        ], Saturday);

        Assert.That(samples.Select(s => s.Window), Is.EqualTo(new[] { "7d_oi" }));
        Assert.That(samples[0].ResetsAt, Is.Null);
    }

    [Test]
    public void SubscriptionSample_CodexPercent_IsAFraction()
    {
        var sample = SubscriptionSample.FromPercent(SubscriptionSample.WindowFromMinutes(300), 7.0, Saturday, DateTimeOffset.FromUnixTimeSeconds(1763483205));

        Assert.That(sample.Window, Is.EqualTo("5h"));
        Assert.That(sample.Utilization, Is.EqualTo(0.07).Within(1e-12));
        Assert.That(SubscriptionSample.WindowFromMinutes(10080), Is.EqualTo("7d"));
    }

    [Test]
    public void Estimator_Bootstrap_UsesRelativeCosts1_5_25()
    {
        var estimator = new SubscriptionEstimator(new SubscriptionOptions { BootstrapTokensPerPct = 50_000 });

        Assert.That(estimator.TokensPerPercent("haiku"), Is.EqualTo(50_000));
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(10_000));
        Assert.That(estimator.TokensPerPercent("opus"), Is.EqualTo(2_000));
        Assert.That(estimator.ClassOf("claude-opus-4-1-20250805"), Is.EqualTo("opus"));
        Assert.That(estimator.ClassOf("gpt-5-codex"), Is.EqualTo("sonnet"), "the default class");
    }

    [Test]
    public void Estimator_TwoSnapshots_SwitchesAClassToItsEmaAndAnchorsTheOthers()
    {
        var estimator = new SubscriptionEstimator(new SubscriptionOptions { BootstrapTokensPerPct = 50_000, Alpha = 0.5 });

        estimator.AddSnapshot("sonnet", 30_000, 1.0); // 30,000 tokens/pct
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(10_000), "one snapshot: still the bootstrap");
        estimator.AddSnapshot("sonnet", 20_000, 1.0); // EMA: 0.5 × 20,000 + 0.5 × 30,000

        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(25_000));
        Assert.That(estimator.TokensPerPercent("opus"), Is.EqualTo(5_000), "bootstrap anchored on sonnet: 25,000 × 5 / 25");
        estimator.AddSnapshot("sonnet", 10_000, 1.0);
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(17_500));
    }

    [Test]
    public void Estimator_Observe_TurnsUtilizationDeltasAndTokensIntoSnapshots()
    {
        var estimator = new SubscriptionEstimator();
        var reset = Saturday.AddHours(3);
        estimator.Observe(SubscriptionSample.FromFraction("5h", 0.20, Saturday, reset));
        estimator.RecordTokens("claude-haiku-4-5", 80_000);
        estimator.Observe(SubscriptionSample.FromFraction("5h", 0.22, Saturday.AddMinutes(1), reset));
        estimator.RecordTokens("claude-haiku-4-5", 120_000);
        estimator.Observe(SubscriptionSample.FromFraction("5h", 0.25, Saturday.AddMinutes(2), reset));

        Assert.That(estimator.SnapshotCount("haiku"), Is.EqualTo(2));
        Assert.That(estimator.TokensPerPercent("haiku"), Is.EqualTo(40_000).Within(1e-6), "80,000/2% then 120,000/3%");
    }

    [Test]
    public void Estimator_Reconcile_SmallDiffTrustedBigOnesRecalibrateAfterN()
    {
        var logger = new FakeLogger();
        var estimator = new SubscriptionEstimator(new SubscriptionOptions { BootstrapTokensPerPct = 50_000, RecalibrateAfter = 2, MismatchTolerance = 0.2 }, logger);
        SubscriptionTurn[] turns = [new("claude-sonnet-4-5", 10_000), new("claude-sonnet-4-5", 10_000)]; // 2% estimated

        var small = estimator.Reconcile(2.2, turns);
        Assert.That(small.Trusted, Is.True);
        Assert.That(small.EstimatedPct, Is.EqualTo(2.0).Within(1e-9));
        Assert.That(small.DiffPct, Is.EqualTo(0.2).Within(1e-9));

        var first = estimator.Reconcile(4.0, turns);
        Assert.That((first.Trusted, first.Recalibrated, first.ConsecutiveMismatches), Is.EqualTo((false, false, 1)));
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(10_000));

        var second = estimator.Reconcile(4.0, turns);
        Assert.That(second.Recalibrated, Is.True);
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(5_000), "20,000 tokens measured at 4%");
        Assert.That(estimator.Reconcile(4.0, turns).Trusted, Is.True);
        Assert.That(logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1107), Is.EqualTo(4), "every reconciliation logs its diff");
    }

    [Test]
    public void BudgetCap_PercentOfSubscription_IsRecomputedFromTheEstimator()
    {
        var time = Clock();
        var options = new BudgetOptions { Subscription = new SubscriptionOptions { BootstrapTokensPerPct = 50_000 } };
        options.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(80, "5h", BudgetPeriod.Week)).Block();
        options.Node("seat/{agent}").CapTokens(BudgetLimit.PercentOfParent(50));
        using var guard = new BudgetGuard(options, time);

        Assert.That(guard.Node("seat").Tokens.Cap, Is.EqualTo(800_000m), "80% × 10,000 sonnet tokens/pct (bootstrap)");
        guard.Estimator.AddSnapshot("sonnet", 20_000, 1);
        guard.Estimator.AddSnapshot("sonnet", 20_000, 1);

        Assert.That(guard.Node("seat").Tokens.Cap, Is.EqualTo(1_600_000m));
        Assert.That(guard.GetStatus("seat/coder").Nodes[1].Tokens.Cap, Is.EqualTo(800_000m));
        Assert.That(guard.Node("seat").Period, Is.EqualTo(BudgetPeriod.Week));
    }

    [Test]
    public void Estimator_Observe_UtilizationNotMoved_KeepsTokensUntilItRises()
    {
        var estimator = new SubscriptionEstimator();
        var at = Saturday;
        var resets = at.AddHours(5);
        estimator.Observe(SubscriptionSample.FromPercent("5h", 10, at, resets));
        var pct = 10.0;
        for (var cycle = 0; cycle < 2; cycle++)
        {
            // 10 calls of 1,000 sonnet tokens move utilization by 1% in total; the header only ticks on the last one.
            for (var call = 1; call <= 10; call++)
            {
                estimator.RecordTokens("claude-sonnet-4-6", 1_000);
                if (call == 10) pct += 1;
                at = at.AddMinutes(1);
                estimator.Observe(SubscriptionSample.FromPercent("5h", pct, at, resets));
            }
        }

        Assert.That(estimator.SnapshotCount("sonnet"), Is.EqualTo(2));
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(10_000).Within(1e-6), "10,000 tokens moved the window by 1%, twice");
    }

    [Test]
    public void Estimator_Observe_WindowReset_DiscardsTheTokensBeforeIt()
    {
        var estimator = new SubscriptionEstimator();
        var first = Saturday.AddHours(1);
        var second = Saturday.AddHours(6);
        estimator.Observe(SubscriptionSample.FromPercent("5h", 10, Saturday, first));
        estimator.RecordTokens("claude-sonnet-4-6", 5_000);                 // never moved the old window
        estimator.Observe(SubscriptionSample.FromPercent("5h", 0, Saturday.AddHours(1.5), second));
        estimator.RecordTokens("claude-sonnet-4-6", 2_000);
        estimator.Observe(SubscriptionSample.FromPercent("5h", 1, Saturday.AddHours(2), second));
        estimator.RecordTokens("claude-sonnet-4-6", 2_000);
        estimator.Observe(SubscriptionSample.FromPercent("5h", 2, Saturday.AddHours(2.5), second));

        // Kept, the 5,000 would have made the first snapshot 7,000/1% and the EMA 0.3 × 2,000 + 0.7 × 7,000 = 5,500.
        Assert.That(estimator.TokensPerPercent("sonnet"), Is.EqualTo(2_000).Within(1e-6));
    }

    [Test]
    public void Estimator_Observe_EachWindowCalibratesFromItsOwnReadings()
    {
        var estimator = new SubscriptionEstimator();
        estimator.Observe(SubscriptionSample.FromPercent("5h", 10, Saturday, Saturday.AddHours(5)));
        estimator.Observe(SubscriptionSample.FromPercent("7d", 40, Saturday, Saturday.AddDays(3)));
        for (var i = 1; i <= 2; i++)
        {
            estimator.RecordTokens("claude-sonnet-4-6", 20_000);
            estimator.Observe(SubscriptionSample.FromPercent("5h", 10 + (2 * i), Saturday.AddMinutes(i), Saturday.AddHours(5)));
            estimator.Observe(SubscriptionSample.FromPercent("7d", 40 + (0.1 * i), Saturday.AddMinutes(i), Saturday.AddDays(3)));
        }

        Assert.That(estimator.TokensPerPercent("sonnet", "5h"), Is.EqualTo(10_000).Within(1e-6), "20,000 tokens per 2%");
        Assert.That(estimator.TokensPerPercent("sonnet", "7d"), Is.EqualTo(200_000).Within(1e-3), "20,000 tokens per 0.1%");
    }

    [Test]
    public void BudgetCap_PercentOfTheWeeklyWindow_ConvertsWithTheWeeklyRate()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("five").CapTokens(BudgetLimit.PercentOfSubscription(10, "5h"));
            o.Node("week").CapTokens(BudgetLimit.PercentOfSubscription(10, "7d"));
        });

        Assert.That(guard.Node("five").Tokens.Cap, Is.EqualTo(80_000m), "10% × 40,000 / 5 (sonnet) per 1% of 5h");
        Assert.That(guard.Node("week").Tokens.Cap, Is.EqualTo(800_000m), "10% × 400,000 / 5 (sonnet) per 1% of 7d");
        guard.Estimator.AddSnapshot("7d", "sonnet", 50_000, 1);
        guard.Estimator.AddSnapshot("7d", "sonnet", 50_000, 1);

        Assert.That(guard.Node("week").Tokens.Cap, Is.EqualTo(500_000m), "10% × 50,000 per 1% of 7d");
        Assert.That(guard.Node("five").Tokens.Cap, Is.EqualTo(80_000m), "the 5h window is not recalibrated by 7d readings");
    }

    [TestCase("9d")]
    [TestCase("7d_sonnet")]
    public void BudgetCap_PercentOfAnUnknownWindow_IsAConfigurationErrorNamingTheSetting(string window)
    {
        var options = new BudgetOptions();
        options.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(10, window));

        var error = Assert.Throws<BudgetConfigurationException>(() => new BudgetGuard(options, Clock()).Dispose());

        Assert.That(error!.Message, Does.StartWith($"Cage:Budgets:Nodes:seat:Tokens:Of 'subscription_{window}' is not a subscription window"));
    }

    [Test]
    public void Estimator_UnknownDefaultWindow_FailsNamingTheSetting()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SubscriptionEstimator(new SubscriptionOptions { Window = "1d" }));

        Assert.That(error!.Message, Does.StartWith("Cage:Budgets:Subscription:Window '1d' is not a subscription window (5h or 7d)"));
    }

    [Test]
    public void BudgetCap_SubscriptionPercentWithoutPeriod_ResetsWithItsWindow()
    {
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.Node("five").CapTokens(BudgetLimit.PercentOfSubscription(10, "5h"));
            o.Node("week").CapTokens(BudgetLimit.PercentOfSubscription(10, "7d"));
            o.Node("weekly-5h").CapTokens(BudgetLimit.PercentOfSubscription(80, "5h", BudgetPeriod.Week));
        });

        Assert.That(guard.Node("five").Period, Is.EqualTo(BudgetPeriod.FiveHours));
        Assert.That(guard.Node("week").Period, Is.EqualTo(BudgetPeriod.Week));
        Assert.That(guard.Node("weekly-5h").Period, Is.EqualTo(BudgetPeriod.Week), "an explicit period wins");
        guard.Charge(default, 0m, 1_000);
        time.Advance(TimeSpan.FromHours(5));

        Assert.That(guard.Node("five").Tokens.Spent, Is.Zero, "the 5-hour window closed");
        Assert.That(guard.Node("week").Tokens.Spent, Is.EqualTo(1_000m), "Saturday 17:00 is still the week of Monday 15 June");
    }
}
