using Microsoft.Extensions.Logging;

namespace CageNet.Extensions.AI;

internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Cage could not meter a chat round-trip; the call is unaffected")]
    public static partial void MeteringFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Cage budget check failed before a chat round-trip; the call proceeds (fail-open)")]
    public static partial void BudgetCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Cage refused a chat round-trip: budget {Node} spent {Spent} of cap {Cap}")]
    public static partial void BudgetRefused(ILogger logger, string node, string spent, string cap);
}
