using System.Text.Json.Serialization;

namespace CageNet;

/// <summary>How a task ended, as labelled by a person or a harness (<c>cage outcome</c>); feeds cost per successful task.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<TaskOutcome>))]
public enum TaskOutcome
{
    /// <summary>The task succeeded: its cost, and the cost of redone and unlabelled work, is charged to it.</summary>
    Ok = 0,

    /// <summary>The task's result was thrown away and the work redone: its cost is charged to the successful tasks.</summary>
    Redo = 1,

    /// <summary>The task failed outright: its cost is charged to the successful tasks.</summary>
    Failed = 2,
}

/// <summary>The latest outcome label of one task.</summary>
/// <param name="Task">The task.</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Timestamp">When the label was recorded; a later label for the same task replaces an earlier one.</param>
public sealed record TaskOutcomeRecord(string Task, TaskOutcome Outcome, DateTimeOffset Timestamp);
