using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CageNet.Mcp.Tools;

/// <summary>
/// Where the <c>budget_status</c> and <c>forecast</c> tools find the budget tree. In a host it is the live
/// <see cref="BudgetGuard"/> and <see cref="BudgetOptions"/> of <c>AddBudgets()</c> (<see cref="HostBudgets"/>);
/// <c>cage mcp</c> rebuilds a read-only guard from the ledger on every call, as <c>cage budget</c> does, so a server
/// that runs for hours still sees the calls other processes record.
/// </summary>
internal interface ICageBudgets
{
    /// <summary>The tree, or <see langword="null"/> when the server has no budgets.</summary>
    BudgetOptions? Options { get; }

    /// <summary>Runs <paramref name="read"/> against a guard whose periods are current.</summary>
    /// <exception cref="ToolCallException">The server has no budgets.</exception>
    ValueTask<T> ReadAsync<T>(Func<BudgetGuard, T> read, CancellationToken cancellationToken);
}

/// <summary>The host's own guard (<c>AddBudgets()</c>), resolved when a tool needs it.</summary>
internal sealed class HostBudgets(IServiceProvider services) : ICageBudgets
{
    public const string NoBudgets = "this server has no budgets: the host registers none (services.AddCage().AddBudgets(...))";

    public BudgetOptions? Options => services.GetService<BudgetGuard>() is null ? null : services.GetService<IOptions<BudgetOptions>>()?.Value;

    public ValueTask<T> ReadAsync<T>(Func<BudgetGuard, T> read, CancellationToken cancellationToken)
    {
        var guard = services.GetService<BudgetGuard>()
            ?? throw new ToolCallException(NoBudgets);
        return ValueTask.FromResult(read(guard));
    }
}
