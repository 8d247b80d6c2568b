using System.Text.Json.Serialization;

namespace CageNet.Protocols;

/// <summary>What a file to import is.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<AgentLogKind>))]
public enum AgentLogKind
{
    /// <summary>Not recognized.</summary>
    Unknown = 0,

    /// <summary>A Claude Code transcript (<c>~/.claude/projects/&lt;project&gt;/&lt;session&gt;.jsonl</c>, <c>subagents/*.jsonl</c>).</summary>
    ClaudeCode = 1,

    /// <summary>A Codex rollout (<c>~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl</c>).</summary>
    Codex = 2,

    /// <summary>The reference tool's <c>calls.jsonl</c> / <c>receipts.jsonl</c> ledger (imported by <c>Cage.Ledger</c>'s <c>ReferenceJsonl</c>).</summary>
    ReferenceJsonl = 3,

    /// <summary>A captured provider response: a JSON body or a whole SSE stream.</summary>
    CapturedResponse = 4,
}

/// <summary>
/// A line or file that could not be imported (a rejection), or one that was imported with a caveat (a warning):
/// where, which field, and why.
/// </summary>
/// <param name="File">The file.</param>
/// <param name="Line">The 1-based line, or 0 for the whole file.</param>
/// <param name="Field">The field at fault, when one is.</param>
/// <param name="Message">What was wrong.</param>
public sealed record ImportProblem(string File, int Line, string? Field, string Message)
{
    /// <summary>
    /// Whether the record was still imported, or the thing skipped is not a loss: an interrupted stream stored as
    /// flagged, a line without a timestamp stored at the file's time, a FIFO or an empty file skipped by a folder walk.
    /// A warning does not make <c>cage import</c> exit 2; a rejection does.
    /// </summary>
    public bool IsWarning { get; init; }

    /// <summary><c>file:line: field: message</c>, with <c>warning: </c> before the field for a warning.</summary>
    /// <returns>The problem as one line.</returns>
    public override string ToString()
    {
        var where = Line > 0 ? $"{File}:{Line}" : File;
        var what = Field is null ? Message : $"{Field}: {Message}";
        return IsWarning ? $"{where}: warning: {what}" : $"{where}: {what}";
    }
}

/// <summary>
/// One Codex <c>rate_limits</c> utilization sample (SPEC 7.6): how much of a subscription window was used when the
/// event was written. <c>primary</c> is the 300-minute window, <c>secondary</c> the 10080-minute (weekly) one.
/// </summary>
/// <param name="ObservedAt">The event's timestamp.</param>
/// <param name="Window"><c>primary</c> or <c>secondary</c> (as Codex names them).</param>
/// <param name="UsedPercent">Percent of the window used, 0..100 (may exceed 100 when over quota).</param>
/// <param name="WindowMinutes">The window length in minutes (300, 10080…), or 0 when not given.</param>
/// <param name="ResetsAt">When the window resets, when given.</param>
/// <param name="Session">The Codex session id.</param>
/// <param name="PlanType">The plan (<c>plus</c>, <c>pro</c>…), when given.</param>
public sealed record RateLimitSample(DateTimeOffset ObservedAt, string Window, double UsedPercent, int WindowMinutes, DateTimeOffset? ResetsAt, string? Session, string? PlanType)
{
    /// <summary>
    /// The sample as a budget-estimator reading: the window named by its length (300 minutes → <c>5h</c>, 10080 →
    /// <c>7d</c>); when Codex gave no length, <c>primary</c> is the 5-hour window and <c>secondary</c> the weekly one.
    /// </summary>
    /// <returns>The reading, for <see cref="CageNet.Budgets.Subscription.SubscriptionEstimator.Observe"/>.</returns>
    public CageNet.Budgets.Subscription.SubscriptionSample ToSubscriptionSample() =>
        CageNet.Budgets.Subscription.SubscriptionSample.FromPercent(
            WindowMinutes > 0
                ? CageNet.Budgets.Subscription.SubscriptionSample.WindowFromMinutes(WindowMinutes)
                : string.Equals(Window, "secondary", StringComparison.OrdinalIgnoreCase) ? CageNet.Budgets.Subscription.SubscriptionEstimator.WeeklyWindow : CageNet.Budgets.Subscription.SubscriptionEstimator.FiveHourWindow,
            UsedPercent,
            ObservedAt,
            ResetsAt);
}

/// <summary>Progress of an agent-log import.</summary>
/// <param name="FilesDone">Files read so far.</param>
/// <param name="FilesTotal">Files to read.</param>
/// <param name="LinesRead">Lines read so far.</param>
public readonly record struct ImportProgress(int FilesDone, int FilesTotal, long LinesRead);
