using Microsoft.Extensions.DependencyInjection;

namespace CageNet;

/// <summary>
/// Returned by <c>services.AddCage(...)</c>; ledger back ends and integrations extend it with methods
/// such as <c>AddSqliteLedger()</c> and <c>AddInMemoryLedger()</c>.
/// </summary>
public interface ICageBuilder
{
    /// <summary>The service collection Cage is registered in.</summary>
    IServiceCollection Services { get; }
}
