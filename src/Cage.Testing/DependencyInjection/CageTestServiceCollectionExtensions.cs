using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing;

/// <summary>Registers a <see cref="CageTestContext"/> in a test's service collection.</summary>
public static class CageTestServiceCollectionExtensions
{
    /// <summary>
    /// Makes the services use the test's meter: <see cref="ICageMeter"/>, its ledger (<see cref="InMemoryLedger"/>,
    /// <see cref="ILedgerReader"/>, <see cref="ILedgerSink"/>, <see cref="ILedgerStore"/>), its clock
    /// (<see cref="TimeProvider"/>, <see cref="FakeTimeProvider"/>), its <see cref="PriceCatalog"/> and, when it has one,
    /// its <see cref="BudgetGuard"/>, replacing any earlier registration of them (an earlier <c>AddCage()</c> included).
    /// So <c>UseCage()</c> and <c>AddCageMetering()</c> built from these services meter into the test. Register budgets
    /// on the context (<see cref="CageTestOptions.Budgets"/>), not with <c>AddBudgets()</c>. The container does not own
    /// the instances: dispose the context.
    /// </summary>
    /// <param name="services">The test's services.</param>
    /// <param name="cage">The test's context.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddCageTestContext(this IServiceCollection services, CageTestContext cage)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(cage);
        Replace(services, cage);
        Replace(services, cage.Meter);
        Replace(services, (CageMeter)cage.Meter);
        Replace(services, cage.Ledger);
        Replace<ILedgerStore>(services, cage.Ledger);
        Replace<ILedgerSink>(services, cage.Ledger);
        Replace<ILedgerReader>(services, cage.Ledger);
        Replace<TimeProvider>(services, cage.Clock);
        Replace(services, cage.Clock);
        Replace(services, cage.Prices);
        if (cage.Budget is { } guard)
        {
            Replace(services, guard);
        }

        return services;
    }

    private static void Replace<T>(IServiceCollection services, T instance)
        where T : class
    {
        services.RemoveAll<T>();
        services.AddSingleton(instance);
    }
}
