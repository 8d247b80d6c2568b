using Microsoft.Extensions.Logging;

namespace CageNet;

internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Cage ledger write of {Count} records failed (attempt {Attempt}); retrying")]
    public static partial void LedgerWriteRetry(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Cage dropped {Count} records after {Attempts} failed ledger writes; metering continues")]
    public static partial void LedgerBatchDropped(ILogger logger, Exception exception, int count, int attempts);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Cage metering queue is full (capacity {Capacity}); records are being dropped ({Dropped} so far)")]
    public static partial void QueueFull(ILogger logger, int capacity, long dropped);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Cage metering queue stayed full (capacity {Capacity}) for {Wait} while the ledger writer made no progress; records are dropped until it writes again ({Dropped} so far)")]
    public static partial void QueueStalled(ILogger logger, int capacity, TimeSpan wait, long dropped);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Cage ledger writes recovered after {Faults} faults")]
    public static partial void LedgerRecovered(ILogger logger, long faults);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Cage failed to hand a record to the ledger pipeline; the caller is unaffected")]
    public static partial void EnqueueFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Cage is using an in-memory ledger: metered records are lost when the process exits. Call AddSqliteLedger() for a durable ledger, or AddInMemoryLedger() to silence this")]
    public static partial void ImplicitInMemoryLedger(ILogger logger);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Cage could not drain its metering queue within {Timeout}; {Pending} records were not written")]
    public static partial void DrainTimedOut(ILogger logger, TimeSpan timeout, long pending);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Error, Message = "Cage cannot open its ledger; calls are still metered and writes are retried until it can be opened")]
    public static partial void LedgerUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Critical, Message = "Cage's ledger pump stopped on an unexpected error; metered records are no longer written")]
    public static partial void PumpFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Error, Message = "Cage dropped a record the ledger refused ({Field}): {Reason}")]
    public static partial void RecordRefused(ILogger logger, string field, string reason);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Cage call to {Provider}/{Model} has no price; its cost is recorded as unknown (not $0)")]
    public static partial void UnpricedModel(ILogger logger, string provider, string model);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Cage session {Session}: {Warning}")]
    public static partial void SessionCostWarning(ILogger logger, string session, string warning);
}
