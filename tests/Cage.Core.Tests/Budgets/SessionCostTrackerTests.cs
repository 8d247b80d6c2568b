using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 14, item 4: every metered call feeds a per-session accumulator a host resolves through DI; the warning
/// thresholds fire once per session each; memory stays bounded.
/// </summary>
public sealed class SessionCostTrackerTests
{
    private static CallRecord Call(string? session, decimal? cost, long input = 1000, long output = 100, string model = "m") => new()
    {
        Id = CageIds.NewCallId(TimeProvider.System),
        Timestamp = DateTimeOffset.UnixEpoch.AddYears(56),
        Session = session,
        Provider = "p",
        Model = model,
        Usage = new TokenUsage(input, Output: output),
        CostUsd = cost,
        CostSource = cost is null ? CostSource.Unpriced : CostSource.Catalog,
    };

    [Test]
    public void Add_KeepsEachSessionApart_AndIgnoresCallsWithoutOne()
    {
        var tracker = new SessionCostTracker();

        tracker.Add(Call("a", 0.01m));
        tracker.Add(Call("a", 0.02m));
        tracker.Add(Call("b", 0.5m));
        tracker.Add(Call(null, 9m));

        Assert.That(tracker.Get("a")!.CloudCostUsd, Is.EqualTo(0.03m));
        Assert.That(tracker.Get("a")!.Summary(), Is.EqualTo("2 calls, prompt=2,000 / completion=200 tokens, cost=$0.030000 (cloud only; local: 0 calls)"));
        Assert.That(tracker.Get("b")!.Calls, Is.EqualTo(1));
        Assert.That(tracker.Get("none"), Is.Null);
        Assert.That(tracker.Sessions, Is.EqualTo(new[] { "b", "a" }), "most recently updated first");
    }

    [Test]
    public void Warnings_FireOncePerThresholdAndSession()
    {
        var tracker = new SessionCostTracker(warnAtUsd: 0.05m, warnAtTokens: 5_000);
        var fired = new List<SessionCostWarning>();
        tracker.Warned += (_, w) => fired.Add(w);

        for (var i = 0; i < 6; i++)
        {
            tracker.Add(Call("a", 0.02m));
        }

        tracker.Add(Call("b", 0.06m));

        Assert.That(fired.Select(w => w.Session), Is.EqualTo(new[] { "a", "a", "b" }), "a: dollars then tokens, once each; b: dollars");
        Assert.That(fired[0].Message, Does.Contain("0.06"));
    }

    [Test]
    public void MaxSessions_ForgetsTheLeastRecentlyUpdated()
    {
        var tracker = new SessionCostTracker(maxSessions: 2);

        tracker.Add(Call("a", 0.01m));
        tracker.Add(Call("b", 0.01m));
        tracker.Add(Call("a", 0.01m));
        tracker.Add(Call("c", 0.01m));

        Assert.That(tracker.Sessions, Is.EquivalentTo(new[] { "a", "c" }));
        Assert.That(tracker.Get("b"), Is.Null);
        Assert.That(tracker.Get("a")!.Calls, Is.EqualTo(2));
    }

    [Test]
    public async Task AddCage_ResolvesTheMetersTracker_FedByScopes_WithConfiguredThresholds()
    {
        var services = new ServiceCollection();
        services.AddCage(o =>
        {
            o.Metering.SetAsStaticDefault = false;
            o.Metering.SessionWarnAtUsd = 0.05m;
        }).AddInMemoryLedger();
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        var tracker = provider.GetRequiredService<SessionCostTracker>();
        var fired = new List<SessionCostWarning>();
        tracker.Warned += (_, w) => fired.Add(w);

        for (var i = 0; i < 3; i++)
        {
            using var m = meter.Meter("chat", session: "s-1");
            m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500); // $0.0483 each
        }

        await meter.FlushAsync();
        var costs = tracker.Get("s-1");
        Assert.That(costs!.Calls, Is.EqualTo(3));
        Assert.That(costs.CloudCostUsd, Is.EqualTo(3 * 0.0483m));
        Assert.That(tracker.WarnAtUsd, Is.EqualTo(0.05m));
        Assert.That(fired, Has.Count.EqualTo(1), "the dollar warning fires once, on the second call");
        Assert.That(costs.Detail().Single().ToString(), Is.EqualTo("claude-opus-4-8 main: 3 calls, 25,800/4,500 tokens, $0.144900"));
    }
}
