namespace CageNet;

/// <summary>Counters of a meter's pipeline since it started.</summary>
/// <param name="Enqueued">Records accepted into the queue.</param>
/// <param name="Written">Records committed to the ledger.</param>
/// <param name="Dropped">Records dropped (queue full, or the ledger kept failing).</param>
/// <param name="Faults">Failed attempts to write a batch.</param>
public readonly record struct MeteringStatistics(long Enqueued, long Written, long Dropped, long Faults);
