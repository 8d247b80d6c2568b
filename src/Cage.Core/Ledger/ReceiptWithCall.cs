namespace CageNet.Ledger;

/// <summary>
/// What attribution needs to know about the call a receipt points to: who served it, for which route, and how many
/// prompt-side tokens it had (which long-context tier its input was priced at).
/// </summary>
/// <param name="Provider">The provider that served the call.</param>
/// <param name="Model">The model that served the call.</param>
/// <param name="Route">The call's route, if any.</param>
/// <param name="Task">The call's task, if any.</param>
/// <param name="PromptTokens">The call's prompt-side tokens (input + cache reads + cache writes).</param>
/// <param name="Timestamp">When the call was made.</param>
public sealed record CallBasis(string Provider, string Model, string? Route, string? Task, long PromptTokens, DateTimeOffset Timestamp)
{
    /// <summary>The basis of a stored call.</summary>
    /// <param name="call">The call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="call"/> is <see langword="null"/>.</exception>
    public static CallBasis Of(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return new CallBasis(call.Provider, call.Model, call.Route, call.Task, call.Usage.PromptTokens, call.Timestamp);
    }
}

/// <summary>A receipt with the basis of the call it points to.</summary>
/// <param name="Receipt">The receipt.</param>
/// <param name="Call">
/// The call named by <see cref="SavingsReceipt.CallId"/>; <see langword="null"/> for a call-less receipt, or when the
/// ledger has no call with that id.
/// </param>
public sealed record ReceiptWithCall(SavingsReceipt Receipt, CallBasis? Call);
