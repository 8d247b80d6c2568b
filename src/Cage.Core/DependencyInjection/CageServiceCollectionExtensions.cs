using System.Diagnostics.Metrics;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CageNet;

/// <summary>Registers Cage in a service collection.</summary>
public static class CageServiceCollectionExtensions
{
    /// <summary>
    /// Registers Cage: <see cref="ICageMeter"/>, the <see cref="PriceCatalog"/>, <see cref="CageOptions"/> (validated at
    /// start-up), <see cref="TimeProvider.System"/> unless one is registered, and an in-memory ledger unless a ledger
    /// back end is added (<c>.AddSqliteLedger()</c>). Safe to call more than once.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Configures the options, after configuration binding.</param>
    /// <returns>A builder that ledger back ends and integrations extend.</returns>
    public static ICageBuilder AddCage(this IServiceCollection services, Action<CageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<CageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CageOptions>, CageOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => PriceCatalog.FromOptions(sp.GetRequiredService<IOptions<CageOptions>>().Value.Pricing));
        services.TryAddSingleton<ImplicitInMemoryLedger>();
        services.TryAddSingleton<ILedgerStore>(sp => sp.GetRequiredService<ImplicitInMemoryLedger>().Ledger);
        services.TryAddSingleton<ILedgerSink>(sp => sp.GetRequiredService<ILedgerStore>());
        services.TryAddSingleton<ILedgerReader>(sp => sp.GetRequiredService<ILedgerStore>());
        services.TryAddSingleton<CageMeter>(CreateMeter);
        services.TryAddSingleton<ICageMeter>(sp => sp.GetRequiredService<CageMeter>());
        services.TryAddSingleton(sp => sp.GetRequiredService<CageMeter>().Sessions);
        return new CageBuilder(services);
    }

    /// <summary>Registers Cage with options bound from a configuration section (normally <c>configuration.GetSection("Cage")</c>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The <c>Cage</c> section.</param>
    /// <param name="configure">Further configuration, applied after binding.</param>
    /// <returns>The builder.</returns>
    public static ICageBuilder AddCage(this IServiceCollection services, IConfiguration section, Action<CageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddOptions<CageOptions>().Bind(section);
        services.TryAddSingleton(new CageConfigurationSection(section));
        return services.AddCage(configure);
    }

    /// <summary>Uses an explicit in-memory ledger (for tests and short-lived tools), replacing any other ledger registration.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="ledger">The ledger to use; a new one when <see langword="null"/>. Keep a reference to assert on it in tests.</param>
    /// <returns>The builder.</returns>
    public static ICageBuilder AddInMemoryLedger(this ICageBuilder builder, InMemoryLedger? ledger = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var instance = ledger ?? new InMemoryLedger();
        builder.Services.RemoveAll<ILedgerStore>();
        builder.Services.RemoveAll<ILedgerSink>();
        builder.Services.RemoveAll<ILedgerReader>();
        builder.Services.RemoveAll<InMemoryLedger>();
        builder.Services.AddSingleton<ILedgerStore>(instance);
        builder.Services.AddSingleton<ILedgerSink>(instance);
        builder.Services.AddSingleton<ILedgerReader>(instance);
        builder.Services.AddSingleton(instance);
        return builder;
    }

    private static CageMeter CreateMeter(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<CageOptions>>().Value;
        var loggerFactory = sp.GetService<ILoggerFactory>();
        var logger = loggerFactory?.CreateLogger("Cage") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        // Open the store before the meter exists, so the container disposes the meter (which drains into the store)
        // first. A store that cannot be opened must not break the app: the sink reports it as a write fault.
        try
        {
            var store = sp.GetRequiredService<ILedgerStore>();
            if (sp.GetService<ImplicitInMemoryLedger>() is { } implicitLedger && ReferenceEquals(implicitLedger.Ledger, store))
            {
                Log.ImplicitInMemoryLedger(logger);
            }
        }
#pragma warning disable CA1031 // Fail-open: see above.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.LedgerUnavailable(logger, ex);
        }

        var meter = new CageMeter(
            sp.GetRequiredService<ILedgerSink>(),
            sp.GetRequiredService<PriceCatalog>(),
            sp.GetRequiredService<TimeProvider>(),
            options.Metering,
            logger,
            new CageInstruments(sp.GetService<IMeterFactory>()));
        // Metered calls count toward budgets when the guard is registered (AddBudgets).
        meter.Budget = sp.GetService<Budgets.BudgetGuard>();
        if (options.Metering.SetAsStaticDefault)
        {
            Cage.TrySetDefault(meter);
        }

        return meter;
    }

    private sealed class CageBuilder(IServiceCollection services) : ICageBuilder
    {
        public IServiceCollection Services { get; } = services;
    }

    /// <summary>The in-memory ledger used when no ledger back end was added (a warning is logged).</summary>
    private sealed class ImplicitInMemoryLedger
    {
        public InMemoryLedger Ledger { get; } = new();
    }
}
