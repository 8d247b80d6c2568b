using Microsoft.Extensions.Logging;

namespace CageNet.Budgets;

internal static partial class BudgetLog
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Cage budget warning: {Message}")]
    public static partial void Warning(ILogger logger, string message);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Cage budget refused a call: {Message}")]
    public static partial void Refused(ILogger logger, string message);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Cage budget state could not be saved for {Node}; warnings may fire again after a restart")]
    public static partial void SaveFailed(ILogger logger, Exception exception, string node);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Error, Message = "Cage budget could not record spend without a ledger call for {Node}; it is counted in memory only and lost on a restart")]
    public static partial void ChargeSaveFailed(ILogger logger, Exception exception, string node);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "Cage budget state could not be loaded; the guard is {Mode}")]
    public static partial void LoadFailed(ILogger logger, Exception exception, string mode);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Cage budget guard rebuilt {Calls} calls of the current periods from the ledger")]
    public static partial void Replayed(ILogger logger, long calls);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Debug, Message = "Cage budget reclaimed {Count} expired reservations")]
    public static partial void Reclaimed(ILogger logger, int count);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Information, Message = "Cage subscription reconciliation: measured {Measured:0.####}%, estimated {Estimated:0.####}%, diff {Diff:0.####}% (trusted: {Trusted}, recalibrated: {Recalibrated})")]
    public static partial void Reconciled(ILogger logger, double measured, double estimated, double diff, bool trusted, bool recalibrated);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Cage budget failed to account a metered call; the caller is unaffected")]
    public static partial void MeteredChargeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "Cage budget '{Node}' was charged a call whose cost is unknown (an unpriced model or usage that never arrived): {How}. Further ones this period are counted in unpriced_calls without this warning")]
    public static partial void UnknownCost(ILogger logger, string node, string how);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Error, Message = "Cage subscription estimator state could not be saved ({Node}); after a restart it starts from the last saved state")]
    public static partial void EstimatorSaveFailed(ILogger logger, Exception exception, string node);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "Cage subscription estimator state in the store could not be read; the estimator starts from its bootstrap")]
    public static partial void EstimatorLoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Warning, Message = "Cage fleet budget reservations could not be reached ({Fault}); the call is {Outcome}")]
    public static partial void SharedUnreachable(ILogger logger, string fault, string outcome);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Warning, Message = "Cage fleet budget settle failed for a reservation on {Node}; its hold stays on the fleet's counters until its lease ends, and the call is counted in this process only")]
    public static partial void SharedSettleFailed(ILogger logger, Exception exception, string node);

    [LoggerMessage(EventId = 1116, Level = LogLevel.Warning, Message = "Cage budget guard has fleet reservations, but a synchronous TryReserve/Reserve holds on this process's counters only; use TryReserveAsync for fleet-wide caps (said once)")]
    public static partial void SyncReserveNotShared(ILogger logger);

    [LoggerMessage(EventId = 1117, Level = LogLevel.Warning, Message = "Cage budget guard stopped with {Count} fleet settles still on their way; their holds go when their leases end")]
    public static partial void SharedSettlesLeft(ILogger logger, int count);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Information, Message = "Cage subscription estimator counted {Calls} calls the ledger stored after its last save ({Through:o}), metered before the previous process stopped")]
    public static partial void EstimatorRecovered(ILogger logger, int calls, DateTimeOffset through);
}
