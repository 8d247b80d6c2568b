using CageNet.Attribution;
using CageNet.Ledger;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary>
/// <c>cage regression</c>: now is 2026-06-20T12:00Z; the recent window is the 7 days from 06-13T12:00, the baseline the
/// 28 days before that.
/// </summary>
public sealed class RegressionTests : LedgerTestBase
{
    private static CallRecord Small(string id, string ts, string task, long input, decimal cost, long cacheRead = 0, string route = "code-edit") =>
        Call(id, ts, task, "small", new TokenUsage(input, CacheRead: cacheRead), cost, route: route);

    [Test]
    public async Task Regression_MoreTokensPerCall_RegressedWithThatCause()
    {
        await Db.AddAsync(
        [
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 10_000, 0.01m),
            Small("b2", "2026-06-01T11:00:00Z", "b-1", 10_000, 0.01m),
            Small("b3", "2026-06-02T10:00:00Z", "b-2", 10_000, 0.01m),
            Small("b4", "2026-06-02T11:00:00Z", "b-2", 10_000, 0.01m),
            Small("n1", "2026-06-19T10:00:00Z", "r-1", 20_000, 0.02m),
            Small("n2", "2026-06-19T11:00:00Z", "r-1", 20_000, 0.02m),
        ]);

        var report = await Service().RegressionAsync();

        var all = report.Groups.Single();
        Assert.That(all.Key, Is.EqualTo("all"));
        Assert.That((all.BaselineCalls, all.RecentCalls), Is.EqualTo((4L, 2L)));
        Assert.That(all.BaselinePerCallUsd, Is.EqualTo(0.01m));
        Assert.That(all.RecentPerCallUsd, Is.EqualTo(0.02m));
        Assert.That(all.PerCallDrift, Is.EqualTo(1m));
        Assert.That(all.BaselinePerTaskUsd, Is.EqualTo(0.02m));
        Assert.That(all.RecentPerTaskUsd, Is.EqualTo(0.04m));
        Assert.That(all.PerTaskDrift, Is.EqualTo(1m));
        Assert.That(all.Comparable, Is.True);
        Assert.That(all.Regressed, Is.True);
        Assert.That(all.Causes, Has.Some.Contains("more tokens per call"));
        Assert.That(all.Causes, Has.None.Contains("dearer tokens"), "the price per token did not change");
        Assert.That(report.RecentSince, Is.EqualTo(At("2026-06-13T12:00:00Z")));
        Assert.That(report.BaselineSince, Is.EqualTo(At("2026-05-16T12:00:00Z")));
    }

    [Test]
    public async Task Regression_ModelChange_DearerTokensNamingTheModels()
    {
        await Db.AddAsync(
        [
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 10_000, 0.01m),
            Call("n1", "2026-06-19T10:00:00Z", "r-1", "big", new TokenUsage(10_000), 0.04m),
        ]);

        var all = (await Service().RegressionAsync()).Groups.Single();

        Assert.That(all.PerCallDrift, Is.EqualTo(3m), "0.04 / 0.01 − 1");
        Assert.That(all.Regressed, Is.True);
        Assert.That(all.Causes, Has.Some.Contains("dearer tokens").And.Some.Contains("model change").And.Some.Contains("small → big"));
        Assert.That(all.Causes, Has.None.Contains("more tokens per call"));
    }

    [Test]
    public async Task Regression_CacheHitRateDown_IsNamed()
    {
        await Db.AddAsync(
        [
            // 2,000 in + 8,000 cache read: 0.002 + 0.0008 = $0.0028, hit rate 80%.
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 2_000, 0.0028m, cacheRead: 8_000),
            Small("n1", "2026-06-19T10:00:00Z", "r-1", 10_000, 0.01m),
        ]);

        var all = (await Service().RegressionAsync()).Groups.Single();

        Assert.That(all.Regressed, Is.True);
        Assert.That(all.Causes, Has.Some.Contains("cache hit rate down").And.Some.Contains("80%"));
        Assert.That(all.Causes, Has.None.Contains("more tokens per call"), "10,000 prompt-side tokens per call on both sides");
    }

    [Test]
    public async Task Regression_WithinTolerance_NotRegressed()
    {
        await Db.AddAsync(
        [
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 10_000, 0.01m),
            Small("n1", "2026-06-19T10:00:00Z", "r-1", 11_000, 0.011m),
        ]);

        var all = (await Service().RegressionAsync()).Groups.Single();

        Assert.That(all.PerCallDrift, Is.EqualTo(0.1m));
        Assert.That(all.Regressed, Is.False);
        Assert.That(all.Causes, Is.Empty);
        var strict = (await Service().RegressionAsync(new RegressionQuery { Tolerance = 0.05m })).Groups.Single();
        Assert.That(strict.Regressed, Is.True, "10% is over a 5% tolerance");
    }

    [Test]
    public async Task Regression_OnlyRecentCalls_NothingIsComparable()
    {
        await Db.AddAsync([Small("n1", "2026-06-19T10:00:00Z", "r-1", 10_000, 0.01m)]);

        var report = await Service().RegressionAsync();

        Assert.That(report.Groups.All(g => !g.Comparable), Is.True);
        Assert.That(report.Groups.Any(g => g.Regressed), Is.False);
    }

    [Test]
    public async Task Regression_ByRoute_OneGroupPerRoute()
    {
        await Db.AddAsync(
        [
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 10_000, 0.01m, route: "code-edit"),
            Small("b2", "2026-06-01T10:00:01Z", "b-1", 10_000, 0.01m, route: "review"),
            Small("n1", "2026-06-19T10:00:00Z", "r-1", 30_000, 0.03m, route: "code-edit"),
            Small("n2", "2026-06-19T10:00:01Z", "r-1", 10_000, 0.01m, route: "review"),
            Small("n3", "2026-06-19T10:00:02Z", "r-1", 10_000, 0.01m, route: "chat"),
        ]);

        var report = await Service().RegressionAsync(new RegressionQuery { By = ReportDimension.Route });

        var byKey = report.Groups.ToDictionary(g => g.Key);
        Assert.That(byKey.Keys, Is.EquivalentTo(new[] { "code-edit", "review", "chat" }));
        Assert.That(report.Groups[0].Key, Is.EqualTo("code-edit"), "regressed first");
        Assert.That(byKey["code-edit"].PerCallDrift, Is.EqualTo(2m));
        Assert.That(byKey["code-edit"].Regressed, Is.True);
        Assert.That(byKey["review"].PerCallDrift, Is.EqualTo(0m));
        Assert.That(byKey["review"].Regressed, Is.False);
        Assert.That(byKey["chat"].Comparable, Is.False, "no baseline");
    }

    [Test]
    public async Task Regression_ByModel_OneGroupPerModel()
    {
        await Db.AddAsync(
        [
            Small("b1", "2026-06-01T10:00:00Z", "b-1", 10_000, 0.01m),
            Small("n1", "2026-06-19T10:00:00Z", "r-1", 10_000, 0.01m),
            Call("n2", "2026-06-19T10:00:00Z", "r-1", "big", new TokenUsage(10_000), 0.04m),
        ]);

        var report = await Service().RegressionAsync(new RegressionQuery { By = ReportDimension.Model });

        var byKey = report.Groups.ToDictionary(g => g.Key);
        Assert.That(byKey["small"].PerCallDrift, Is.EqualTo(0m));
        Assert.That(byKey["big"].Comparable, Is.False);
    }

    [Test]
    public void Regression_BadQuery_IsAnAttributionException()
    {
        Assert.ThrowsAsync<AttributionException>(async () => await Service().RegressionAsync(new RegressionQuery { Recent = TimeSpan.Zero }));
        Assert.ThrowsAsync<AttributionException>(async () => await Service().RegressionAsync(new RegressionQuery { By = ReportDimension.Task }));
    }
}
