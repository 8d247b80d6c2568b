namespace CageNet.Extensions.AI;

/// <summary>Options of the chat client middleware added by <see cref="CageChatClientBuilderExtensions.UseCage"/>.</summary>
public sealed class CageChatClientOptions
{
    /// <summary>
    /// The route recorded when neither <c>ChatOptions.AdditionalProperties["cage.route"]</c> nor an ambient
    /// <see cref="MeterScope"/> names one. Default <c>chat</c>.
    /// </summary>
    public string DefaultRoute { get; set; } = "chat";

    /// <summary>
    /// The provider recorded for every round-trip. Default <see langword="null"/>: the inner client's
    /// <c>ChatClientMetadata.ProviderName</c>, else <c>unknown</c>.
    /// </summary>
    public string? Provider { get; set; }

    /// <summary>
    /// What a budget refusal does. <see langword="false"/> (the default): the round-trip is not sent and the client
    /// returns an assistant message with finish reason <c>budget_exceeded</c>, which ends a
    /// <c>FunctionInvokingChatClient</c> loop gracefully. <see langword="true"/>: it throws the refusal as an exception.
    /// </summary>
    public bool ThrowOnBudgetExceeded { get; set; }

    /// <summary>
    /// The output tokens a reservation assumes when the request sets no <c>ChatOptions.MaxOutputTokens</c>. Default 1024.
    /// </summary>
    public int EstimatedOutputTokens { get; set; } = 1024;
}
