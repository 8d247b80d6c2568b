using System.Globalization;
using BenchmarkDotNet.Attributes;
using CageNet.Attribution;
using CageNet.Pricing;

namespace CageNet.Benchmarks;

/// <summary>
/// The per-task attribution views in memory (SPEC 9 / issue 4: Shapley over 12 tools ≤ 1 s): one task of 50 calls on a
/// model with a long-context tier, each call with a receipt from each of 12 tools, so every one of the 4,096 matrix
/// rows re-prices 50 calls.
/// </summary>
[MemoryDiagnoser]
public class AttributionBenchmarks
{
    private TaskRecords _task = null!;
    private SavingsPricer _pricer = null!;
    private ToolOrder _order = null!;

    /// <summary>How many tools have token receipts.</summary>
    [Params(8, 12)]
    public int Tools { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
        var catalog = PriceCatalog.BuiltIn;
        var tools = Enumerable.Range(0, Tools).Select(t => "tool-" + t.ToString("D2", CultureInfo.InvariantCulture)).ToArray();
        var calls = new List<CallRecord>();
        var receipts = new List<SavingsReceipt>();
        for (var i = 0; i < 50; i++)
        {
            // 150k-token prompts: switching tools off pushes some calls over the 200k tier, so the tools interact.
            var usage = new TokenUsage(150_000 + (i * 100), Output: 2_000);
            var quote = catalog.Price("google", "gemini-2.5-pro", usage);
            var id = "c" + i.ToString(CultureInfo.InvariantCulture);
            calls.Add(new CallRecord
            {
                Id = id, Timestamp = start.AddMinutes(i), Task = "t", Provider = "google", Model = "gemini-2.5-pro",
                Usage = usage, CostUsd = quote.CostUsd, CostSource = quote.Source,
            });
            foreach (var tool in tools)
            {
                receipts.Add(SavingsReceipt.Create($"r{i}-{tool}", start.AddMinutes(i), tool, 9_000m, 3_000m, id, "t"));
            }
        }

        _task = new TaskRecords("t", calls, receipts, calls.ToDictionary(c => c.Id, StringComparer.Ordinal));
        _pricer = new SavingsPricer(catalog);
        _order = new ToolOrder(tools);
    }

    /// <summary>The exact Shapley audit: 2ⁿ cost-function evaluations plus n·2ⁿ⁻¹ weighted differences.</summary>
    [Benchmark]
    public ShapleyAudit? Shapley() => TaskViews.Shapley(_task, _order, _pricer, null);

    /// <summary>The counterfactual matrix: 2ⁿ rows.</summary>
    [Benchmark]
    public CounterfactualMatrix Matrix() => TaskViews.Matrix(_task, _order, _pricer, null);

    /// <summary>Per-tool attribution with residuals.</summary>
    [Benchmark]
    public TaskAttribution Attribute() => TaskViews.Attribute(_task, _order, _pricer, shapley: false);
}
