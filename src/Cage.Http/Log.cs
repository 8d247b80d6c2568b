using Microsoft.Extensions.Logging;

namespace CageNet.Http;

internal static partial class Log
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Cage could not meter an HTTP call to {Host}; the call is unaffected")]
    public static partial void MeteringFailed(ILogger logger, Exception exception, string host);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Cage could not inspect a request body to {Host}; it is sent unchanged")]
    public static partial void RequestInspectionFailed(ILogger logger, Exception exception, string host);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Cage budget check failed before an HTTP call to {Host}; the call proceeds (fail-open)")]
    public static partial void BudgetCheckFailed(ILogger logger, Exception exception, string host);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Debug, Message = "Cage metered {Provider}/{Model}: usage {Status}, {Problem}")]
    public static partial void Metered(ILogger logger, string provider, string model, UsageStatus status, string? problem);
}
