using System.Text.Json.Serialization;
using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>
/// The cheapest-path recommendation (<c>cage recommend</c>, SPEC 6): per route, the tool combination that minimizes
/// quality-adjusted cost — recorded spend plus what the tools cost to run, per successful task — with each tool's
/// verdict and the evidence behind it.
/// </summary>
/// <param name="Window">The window, on the records' timestamps.</param>
/// <param name="Routes">One entry per route, highest spend first.</param>
public sealed record RecommendationReport(TimeWindow Window, IReadOnlyList<RouteRecommendation> Routes);

/// <summary>The recommendation for one route.</summary>
public sealed record RouteRecommendation
{
    /// <summary>The route (<c>(none)</c> for calls without one).</summary>
    public required string Route { get; init; }

    /// <summary>The distinct tasks with calls on the route.</summary>
    public int Tasks { get; init; }

    /// <summary>Of those, the tasks labelled <c>ok</c>.</summary>
    public int SuccessfulTasks { get; init; }

    /// <summary>The route's recorded spend plus the tools' own costs, as run.</summary>
    public decimal CurrentCostUsd { get; init; }

    /// <summary>The same with the recommended combination (tools whose net is negative switched off).</summary>
    public decimal RecommendedCostUsd { get; init; }

    /// <summary>Calls on the route whose model has no price (<c>cost_source=unpriced</c>): not in the costs, never $0.</summary>
    public long UnpricedCalls { get; init; }

    /// <summary>
    /// Whether <see cref="CurrentCostUsd"/> and <see cref="RecommendedCostUsd"/> are only lower bounds: some call on the route
    /// is unpriced or its usage never arrived.
    /// </summary>
    public bool IsLowerBound { get; init; }

    /// <summary>
    /// <see cref="CurrentCostUsd"/> per successful task (redone, failed and unlabelled tasks are charged to the successful
    /// ones); per task when no task is labelled; <see langword="null"/> when tasks are labelled but none succeeded.
    /// </summary>
    public decimal? CurrentPerSuccessUsd { get; init; }

    /// <summary><see cref="RecommendedCostUsd"/> on the same basis as <see cref="CurrentPerSuccessUsd"/>.</summary>
    public decimal? RecommendedPerSuccessUsd { get; init; }

    /// <summary><see langword="true"/> when outcomes are recorded for the route's tasks (cost per success), else cost per task.</summary>
    public bool QualityAdjusted { get; init; }

    /// <summary>Each tool seen on the route: best net first.</summary>
    public required IReadOnlyList<ToolVerdict> Tools { get; init; }

    /// <summary>The tools to keep on, in the canonical order.</summary>
    public IReadOnlyList<string> Enable => Tools.Where(t => t.Verdict == Verdict.Enable).Select(t => t.Tool).ToList();

    /// <summary>The tools to switch off.</summary>
    public IReadOnlyList<string> Skip => Tools.Where(t => t.Verdict == Verdict.Skip).Select(t => t.Tool).ToList();
}

/// <summary>What to do with one tool on one route, and why.</summary>
public sealed record ToolVerdict
{
    /// <summary>The tool.</summary>
    public required string Tool { get; init; }

    /// <summary>The verdict.</summary>
    public Verdict Verdict { get; init; }

    /// <summary>Σ saved dollars on the route (priced as <c>attrib</c>); <see langword="null"/> when unpriced.</summary>
    public decimal? SavedUsd { get; init; }

    /// <summary>Σ what the tool cost to run.</summary>
    public decimal OwnCostUsd { get; init; }

    /// <summary>Saved − own cost; <see langword="null"/> when the savings are unpriced and the tool cost nothing.</summary>
    public decimal? NetUsd { get; init; }

    /// <summary>How many receipts back the verdict.</summary>
    public int Receipts { get; init; }

    /// <summary>Calls the tool eliminated (call-less receipts with nothing sent).</summary>
    public int EliminatedCalls { get; init; }

    /// <summary>The weakest evidence among the receipts: how far the verdict can be trusted.</summary>
    public SavingsMethod Method { get; init; }

    /// <summary>One line of evidence in plain words.</summary>
    public required string Evidence { get; init; }
}

/// <summary>A tool's verdict.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<Verdict>))]
public enum Verdict
{
    /// <summary>It saves more than it costs: keep it on.</summary>
    Enable = 0,

    /// <summary>It costs more than it saves, or made things worse: switch it off.</summary>
    Skip = 1,

    /// <summary>Its savings cannot be priced (no model, or only <c>ms</c>/<c>gco2</c> savings): no money verdict.</summary>
    NoEvidence = 2,
}
