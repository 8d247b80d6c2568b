using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>
/// Cost per successful task (<c>cage quality</c>, SPEC 6): the spend of every task, charged to the tasks labelled
/// <c>ok</c> — redone, failed and unlabelled tasks are paid for by the successful ones, so false economies show.
/// </summary>
public sealed record QualityReport
{
    /// <summary>The window, on the calls' timestamps.</summary>
    public required TimeWindow Window { get; init; }

    /// <summary>Σ recorded cost of the calls that belong to a task.</summary>
    public decimal TotalUsd { get; init; }

    /// <summary>Tasks with at least one call in the window.</summary>
    public int Tasks { get; init; }

    /// <summary>Tasks labelled <c>ok</c>.</summary>
    public int Ok { get; init; }

    /// <summary>Tasks labelled <c>redo</c>.</summary>
    public int Redo { get; init; }

    /// <summary>Tasks labelled <c>failed</c>.</summary>
    public int Failed { get; init; }

    /// <summary>Tasks with no label.</summary>
    public int Unlabeled => Tasks - Ok - Redo - Failed;

    /// <summary><see cref="TotalUsd"/> / <see cref="Tasks"/>; <see langword="null"/> with no task.</summary>
    public decimal? PerTaskUsd => Tasks == 0 ? null : TotalUsd / Tasks;

    /// <summary><see cref="TotalUsd"/> / <see cref="Ok"/>: the honest metric; <see langword="null"/> when no task succeeded.</summary>
    public decimal? PerSuccessUsd => Ok == 0 ? null : TotalUsd / Ok;

    /// <summary>Calls of those tasks without a recorded cost (not in <see cref="TotalUsd"/>, never counted as $0).</summary>
    public long UnpricedCalls { get; init; }

    /// <summary>
    /// Whether <see cref="TotalUsd"/> (and so the per-task figures) is only a lower bound: some call of those tasks is
    /// unpriced or its usage never arrived.
    /// </summary>
    public bool IsLowerBound { get; init; }

    /// <summary>Σ recorded cost of calls without a task (not charged to any task).</summary>
    public decimal UntaskedUsd { get; init; }
}
