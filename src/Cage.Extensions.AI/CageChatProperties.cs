namespace CageNet.Extensions.AI;

/// <summary>
/// Keys Cage reads from <c>ChatOptions.AdditionalProperties</c> to label a round-trip (they override the ambient
/// <see cref="MeterScope"/>), and the key it writes on <c>ChatResponse.AdditionalProperties</c>.
/// Values are strings; only labels, never bodies.
/// </summary>
public static class CageChatProperties
{
    /// <summary>The feature or intent: <c>cage.route</c>.</summary>
    public const string Route = "cage.route";

    /// <summary>The unit of work: <c>cage.task</c>.</summary>
    public const string Task = "cage.task";

    /// <summary>The call-site kind (main, delegate, summarize…): <c>cage.category</c>.</summary>
    public const string Category = "cage.category";

    /// <summary>The conversation or run: <c>cage.session</c>.</summary>
    public const string Session = "cage.session";

    /// <summary>The agent: <c>cage.agent</c>.</summary>
    public const string Agent = "cage.agent";

    /// <summary>The end user or tenant: <c>cage.user</c>.</summary>
    public const string User = "cage.user";

    /// <summary>
    /// The prefix of a free label: <c>cage.label.team</c> = <c>team-a</c> labels the round-trip <c>team = team-a</c> (added
    /// to the ambient scope's labels), which binds budget template segments <c>{team}</c> and routes <c>org/team-a</c>.
    /// </summary>
    public const string LabelPrefix = "cage.label.";

    /// <summary>Written on a non-streaming <c>ChatResponse</c>: the id the round-trip was recorded under (link receipts to it): <c>cage.call_id</c>.</summary>
    public const string CallId = "cage.call_id";
}
