using CageNet.Attribution;
using static CageNet.Tests.Records;

namespace CageNet.Tests.Ledger;

/// <summary><c>cage recommend</c> over a real SQLite ledger.</summary>
public sealed class RecommendTests : LedgerTestBase
{
    [Test]
    public async Task Recommend_MultiModelScenario_PerRouteVerdictsAndCosts()
    {
        await MultiModelScenario.SeedAsync(Db);

        var report = await Service().RecommendAsync();

        // review: c2 $0.024 + fux's own $0.020 = $0.044; fux nets −0.008 → skip → 0.044 − 0.008 = $0.036.
        // code-edit: c1 $0.014 + graphify's own $0.004 = $0.018; nothing to skip.
        Assert.That(report.Routes.Select(r => r.Route), Is.EqualTo(new[] { "review", "code-edit" }));
        var review = report.Routes[0];
        Assert.That(review.CurrentCostUsd, Is.EqualTo(0.044m));
        Assert.That(review.RecommendedCostUsd, Is.EqualTo(0.036m));
        Assert.That(review.Tasks, Is.EqualTo(1));
        Assert.That(review.QualityAdjusted, Is.False);
        Assert.That(review.CurrentPerSuccessUsd, Is.EqualTo(0.044m), "per task: no outcomes recorded");
        Assert.That(review.RecommendedPerSuccessUsd, Is.EqualTo(0.036m));
        Assert.That(review.Tools.Select(t => (t.Tool, t.Verdict, t.SavedUsd, t.NetUsd)), Is.EqualTo(new (string, Verdict, decimal?, decimal?)[]
        {
            ("response-cache", Verdict.Enable, 0.028m, 0.028m), // call-less: the task's latest call (c2) is on review
            ("fux", Verdict.Skip, 0.012m, -0.008m),
        }));
        Assert.That(review.Enable, Is.EqualTo(new[] { "response-cache" }));
        Assert.That(review.Skip, Is.EqualTo(new[] { "fux" }));
        Assert.That(review.Tools[0].EliminatedCalls, Is.EqualTo(1));

        var codeEdit = report.Routes[1];
        Assert.That(codeEdit.CurrentCostUsd, Is.EqualTo(0.018m));
        Assert.That(codeEdit.RecommendedCostUsd, Is.EqualTo(0.018m));
        Assert.That(codeEdit.Tools.Select(t => (t.Tool, t.Verdict, t.NetUsd)), Is.EqualTo(new (string, Verdict, decimal?)[]
        {
            ("graphify", Verdict.Enable, 0.020m),
            ("compressor", Verdict.Enable, 0.006m),
        }));
        Assert.That(codeEdit.Skip, Is.Empty);
    }

    [Test]
    public async Task Recommend_OneRoute_OnlyThatRoute()
    {
        await MultiModelScenario.SeedAsync(Db);

        var report = await Service().RecommendAsync("code-edit");

        Assert.That(report.Routes.Select(r => r.Route), Is.EqualTo(new[] { "code-edit" }));
    }

    [Test]
    public async Task Recommend_ToolThatMadePromptsBigger_IsSkippedWithThatEvidence()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "small", new TokenUsage(10_000), 0.01m)],
            [Receipt("r_v", "verbose", 1_000, 3_000, "c", "t", method: SavingsMethod.Measured)]);

        var route = (await Service().RecommendAsync()).Routes.Single();

        var verdict = route.Tools.Single();
        Assert.That(verdict.Verdict, Is.EqualTo(Verdict.Skip));
        Assert.That(verdict.NetUsd, Is.EqualTo(-0.002m));
        Assert.That(verdict.Evidence, Does.Contain("made prompts bigger").And.Contain("measured"));
        Assert.That(route.RecommendedCostUsd, Is.EqualTo(0.008m), "0.01 − 0.002: switching it off spares 2,000 tokens");
    }

    [Test]
    public async Task Recommend_UnpricedSavings_NoEvidence()
    {
        await Db.AddAsync(
            [Call("c", "2026-06-20T10:00:00Z", "t", "mystery", new TokenUsage(10_000), null)],
            [
                Receipt("r_c", "compressor", 5_000, 1_000, "c", "t"),
                Receipt("r_m", "router", 900, 100, "c", "t", SavingsUnit.Ms),
            ]);

        var route = (await Service().RecommendAsync()).Routes.Single();

        Assert.That(route.Tools.Select(t => t.Verdict), Is.All.EqualTo(Verdict.NoEvidence));
        Assert.That(route.Tools.Select(t => t.NetUsd), Is.All.Null);
        Assert.That(route.Enable, Is.Empty);
        Assert.That(route.Skip, Is.Empty);
    }

    [Test]
    public async Task Recommend_WithOutcomes_CostIsPerSuccessfulTask()
    {
        await MultiModelScenario.SeedAsync(Db);
        await Db.AddAsync([Call("c3", "2026-06-20T09:00:00Z", "t-other", "small", new TokenUsage(6_000), 0.006m, route: "code-edit")]);
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord(MultiModelScenario.Task, TaskOutcome.Ok, Now));
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord("t-other", TaskOutcome.Redo, Now));

        var report = await Service().RecommendAsync("code-edit");

        // code-edit: 0.014 + 0.006 recorded + 0.004 graphify's own = 0.024, over 2 tasks of which 1 succeeded.
        var route = report.Routes.Single();
        Assert.That(route.Tasks, Is.EqualTo(2));
        Assert.That(route.SuccessfulTasks, Is.EqualTo(1));
        Assert.That(route.QualityAdjusted, Is.True);
        Assert.That(route.CurrentCostUsd, Is.EqualTo(0.024m));
        Assert.That(route.CurrentPerSuccessUsd, Is.EqualTo(0.024m));
    }

    [Test]
    public async Task Recommend_OutcomesButNoSuccess_PerSuccessIsUnknown()
    {
        await MultiModelScenario.SeedAsync(Db);
        await Ledger.RecordOutcomeAsync(new TaskOutcomeRecord(MultiModelScenario.Task, TaskOutcome.Failed, Now));

        var route = (await Service().RecommendAsync("review")).Routes.Single();

        Assert.That(route.QualityAdjusted, Is.True);
        Assert.That(route.CurrentPerSuccessUsd, Is.Null);
    }
}
