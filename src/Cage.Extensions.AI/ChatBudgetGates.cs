namespace CageNet.Extensions.AI;

/// <summary>Finds the budget guard in the service provider and adapts it to the chat client.</summary>
internal static class ChatBudgetGates
{
    public static IChatBudgetGate? Resolve(IServiceProvider services) => services.GetService(typeof(IChatBudgetGate)) as IChatBudgetGate;
}
