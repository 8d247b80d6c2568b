using System.Text.Json;
using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Tests;

/// <summary>
/// SPEC 12: the worked example imported from the reference JSONL into a real SQLite file; the service's attribution and
/// matrix match the reference's <c>output/attrib.json</c> and <c>output/matrix.json</c> on every field they have.
/// </summary>
public sealed class WorkedExampleTests : LedgerTestBase
{
    private const string Task = "fix-handover-bug";

    [SetUp]
    public async Task ImportWorkedExample()
    {
        var result = await ReferenceJsonl.ImportAsync(Ledger, SharedFixtures.WorkedExampleInput, PriceCatalog.BuiltIn);
        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.Appended, Is.EqualTo(new AppendResult(1, 0, 3, 0)));
    }

    private CageNet.Attribution.AttributionService WorkedService() => Service(["graphify", "fux", "compressor"], PriceCatalog.BuiltIn);

    [Test]
    public async Task Attribute_WorkedExample_MatchesReferenceAttribJsonOnEveryField()
    {
        using var reference = JsonDocument.Parse(SharedFixtures.Output("attrib.json"));
        var expected = reference.RootElement;

        var result = await WorkedService().AttributeAsync();

        Assert.That(result, Is.Not.Null);
        Assert.That(result!.Task, Is.EqualTo(expected.GetProperty("task").GetString()));
        Assert.That(result.Provider, Is.EqualTo(expected.GetProperty("provider").GetString()));
        Assert.That(result.Model, Is.EqualTo(expected.GetProperty("model").GetString()));
        var steps = expected.GetProperty("steps");
        Assert.That(result.Tools, Has.Count.EqualTo(steps.GetArrayLength()));
        for (var i = 0; i < steps.GetArrayLength(); i++)
        {
            var step = steps[i];
            var row = result.Tools[i];
            Assert.That(row.Tool, Is.EqualTo(step.GetProperty("tool").GetString()), $"steps[{i}].tool");
            Assert.That(row.Unit.ToWire(), Is.EqualTo(step.GetProperty("unit").GetString()), $"steps[{i}].unit");
            Assert.That(row.SavedTokens, Is.EqualTo(step.GetProperty("saved_tokens").GetDecimal()), $"steps[{i}].saved_tokens");
            Assert.That(row.SavedUsd, Is.EqualTo(step.GetProperty("saved_usd").GetDecimal()), $"steps[{i}].saved_usd");
            Assert.That(row.Method.ToWire(), Is.EqualTo(step.GetProperty("method").GetString()), $"steps[{i}].method");
            Assert.That(row.Confidence, Is.EqualTo(step.GetProperty("confidence").GetDouble()), $"steps[{i}].confidence");
        }

        Assert.That(result.TotalSavedTokens, Is.EqualTo(expected.GetProperty("total_saved_tokens").GetDecimal()));
        Assert.That(result.TotalSavedUsd, Is.EqualTo(expected.GetProperty("total_saved_usd").GetDecimal()));
    }

    [Test]
    public async Task Attribute_WorkedExample_HandComputedDollarsAndResidual()
    {
        var result = (await WorkedService().AttributeAsync(Task))!;

        // $3/M input: 27,000 → $0.081, 6,400 → $0.0192, 8,000 → $0.024.
        Assert.That(result.Tools.Select(t => (t.Tool, t.RawAlternative, t.Actual, t.Saved, t.SavedUsd)), Is.EqualTo(new (string, decimal, decimal, decimal, decimal?)[]
        {
            ("graphify", 30_000m, 3_000m, 27_000m, 0.081m),
            ("fux", 8_000m, 1_600m, 6_400m, 0.0192m),
            ("compressor", 10_000m, 2_000m, 8_000m, 0.024m),
        }));
        Assert.That(result.TotalSavedUsd, Is.EqualTo(0.1242m));
        Assert.That(result.Residuals, Has.Count.EqualTo(1));
        Assert.That(result.Residuals[0].Tokens, Is.EqualTo(2_000m), "8,600 prompt-side − (3,000 + 1,600 + 2,000)");
        Assert.That(result.Residuals[0].OverClaim, Is.False);
    }

    [Test]
    public async Task Matrix_WorkedExample_MatchesReferenceMatrixJsonOnEveryField()
    {
        using var reference = JsonDocument.Parse(SharedFixtures.Output("matrix.json"));
        var expected = reference.RootElement;

        var matrix = await WorkedService().MatrixAsync();

        Assert.That(matrix, Is.Not.Null);
        Assert.That(matrix!.Task, Is.EqualTo(expected.GetProperty("task").GetString()));
        Assert.That(matrix.Provider, Is.EqualTo(expected.GetProperty("provider").GetString()));
        Assert.That(matrix.Model, Is.EqualTo(expected.GetProperty("model").GetString()));
        Assert.That(matrix.BaseTokens, Is.EqualTo(expected.GetProperty("base_tokens").GetDecimal()));
        Assert.That(matrix.OutputTokens, Is.EqualTo(expected.GetProperty("output_tokens").GetInt64()));
        Assert.That(matrix.Tools, Is.EqualTo(expected.GetProperty("tools").EnumerateArray().Select(t => t.GetString()).ToArray()));
        var rows = expected.GetProperty("rows");
        Assert.That(matrix.Rows, Has.Count.EqualTo(rows.GetArrayLength()));
        for (var i = 0; i < rows.GetArrayLength(); i++)
        {
            var row = rows[i];
            var ours = matrix.Rows[i];
            for (var t = 0; t < matrix.Tools.Count; t++)
            {
                Assert.That(ours.On[t], Is.EqualTo(row.GetProperty("on").GetProperty(matrix.Tools[t]).GetBoolean()), $"rows[{i}].on.{matrix.Tools[t]}");
            }

            Assert.That(ours.InputTokens, Is.EqualTo(row.GetProperty("input_tok").GetDecimal()), $"rows[{i}].input_tok");
            Assert.That(ours.CostUsd, Is.EqualTo(row.GetProperty("cost_usd").GetDecimal()), $"rows[{i}].cost_usd");
            Assert.That(ours.Source.ToWire(), Is.EqualTo(row.GetProperty("source").GetString()), $"rows[{i}].source");
        }
    }

    [Test]
    public async Task Matrix_WorkedExample_AllOnIsRecordedSpendAndFooterIs72PercentCheaper()
    {
        var matrix = (await WorkedService().MatrixAsync(Task))!;

        Assert.That(matrix.AllOn.CostUsd, Is.EqualTo(0.0483m), "8,600 × $3/M + 1,500 × $15/M");
        Assert.That(matrix.AllOn.Source, Is.EqualTo(SavingsMethod.Measured));
        Assert.That(matrix.AllOff.CostUsd, Is.EqualTo(0.1725m), "50,000 × $3/M + 1,500 × $15/M");
        Assert.That(matrix.Rows.Count(r => r.Source == SavingsMethod.Measured), Is.EqualTo(1));
        Assert.That(Math.Round(matrix.Cheaper!.Value * 100), Is.EqualTo(72m), "(0.1725 − 0.0483) / 0.1725 = 72.0%");
    }

    [Test]
    public async Task Shapley_WorkedExample_LinearCosts_EqualsFixedOrderAndAttribDollars()
    {
        var result = (await WorkedService().AttributeAsync(Task, shapley: true))!;

        Assert.That(result.Shapley, Is.Not.Null);
        Assert.That(result.Shapley!.Tools.Select(s => (s.Tool, s.FixedOrderUsd, s.ShapleyUsd)), Is.EqualTo(new (string, decimal, decimal)[]
        {
            ("graphify", 0.081m, 0.081m),
            ("fux", 0.0192m, 0.0192m),
            ("compressor", 0.024m, 0.024m),
        }));
        Assert.That(result.Shapley.TotalUsd, Is.EqualTo(0.1242m), "0.1725 − 0.0483");
    }
}
