using System.Diagnostics.Metrics;
using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using CageNet.Ledger;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CageNet;

/// <summary>Registers the budget guard on a Cage builder.</summary>
public static class BudgetServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="BudgetGuard"/> (a singleton) and its <see cref="SubscriptionEstimator"/>. Options come from
    /// the <c>Budgets</c> child of the section given to <c>AddCage(section)</c> (that is <c>Cage:Budgets</c>), then
    /// <paramref name="configure"/>. The tree is validated at start-up (clamp errors name the siblings and the headroom).
    /// Metered calls are charged to the guard. The guard rebuilds the current periods from the ledger when first
    /// resolved. Without a durable store (<c>AddSqliteLedger()</c> registers one in the ledger file) warning state is
    /// kept in memory. With a ledger shared by a fleet (<c>AddPostgresLedger()</c>) the guard's asynchronous reservations
    /// are held across the fleet too (<see cref="BudgetGuard.Shared"/>).
    /// </summary>
    /// <param name="builder">The Cage builder.</param>
    /// <param name="configure">Configures the tree after configuration binding (the fluent API: <c>o.Node("org").CapUsd(100)</c>).</param>
    /// <returns>The builder.</returns>
    public static ICageBuilder AddBudgets(this ICageBuilder builder, Action<BudgetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<BudgetOptions>();
        options.Configure<IServiceProvider>(static (o, sp) =>
        {
            if (sp.GetService<CageConfigurationSection>() is { } cage && !sp.GetServices<ExplicitBudgetSection>().Any())
            {
                BudgetConfiguration.Bind(cage.Section.GetSection("Budgets"), o);
            }
        });
        return Register(builder, configure);
    }

    /// <summary>Registers the budget guard with options read from a <c>Budgets</c> section (normally <c>configuration.GetSection("Cage:Budgets")</c>).</summary>
    /// <param name="builder">The Cage builder.</param>
    /// <param name="section">The <c>Budgets</c> section.</param>
    /// <param name="configure">Further configuration, applied after reading the section.</param>
    /// <returns>The builder.</returns>
    public static ICageBuilder AddBudgets(this ICageBuilder builder, IConfiguration section, Action<BudgetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        builder.Services.AddSingleton(new ExplicitBudgetSection());
        builder.Services.AddOptions<BudgetOptions>().Configure(o => BudgetConfiguration.Bind(section, o));
        return Register(builder, configure);
    }

    private static ICageBuilder Register(ICageBuilder builder, Action<BudgetOptions>? configure)
    {
        var services = builder.Services;
        var options = services.AddOptions<BudgetOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BudgetOptions>, BudgetOptionsValidator>());
        services.TryAddSingleton<IBudgetStore, InMemoryBudgetStore>();
        services.TryAddSingleton(static sp => new SubscriptionEstimator(
            sp.GetRequiredService<IOptions<BudgetOptions>>().Value.Subscription,
            sp.GetService<ILoggerFactory>()?.CreateLogger("Cage.Budgets")));
        services.TryAddSingleton(static sp =>
        {
            var guard = new BudgetGuard(
                sp.GetRequiredService<IOptions<BudgetOptions>>().Value,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<IBudgetStore>(),
                sp.GetRequiredService<SubscriptionEstimator>(),
                sp.GetService<ILoggerFactory>()?.CreateLogger("Cage.Budgets"),
                sp.GetService<IMeterFactory>())
            {
                Shared = sp.GetService<ISharedBudgetReservations>(),
            };
            ILedgerReader? ledger = null;
            try
            {
                ledger = sp.GetService<ILedgerReader>();
            }
#pragma warning disable CA1031 // A ledger that cannot be opened: the guard starts empty (or fails closed) and says so.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            // SQLite reads are synchronous underneath; run the rebuild off any synchronization context.
            Task.Run(async () => await guard.InitializeAsync(ledger).ConfigureAwait(false)).GetAwaiter().GetResult();
            return guard;
        });
        return builder;
    }

    /// <summary>Marks that <c>AddBudgets(section)</c> named its section explicitly (the <c>AddCage</c> section is then not read).</summary>
    private sealed class ExplicitBudgetSection;

    private sealed class BudgetOptionsValidator : IValidateOptions<BudgetOptions>
    {
        public ValidateOptionsResult Validate(string? name, BudgetOptions options)
        {
            try
            {
                BudgetTree.Compile(options, new SubscriptionEstimator(options.Subscription));
                return ValidateOptionsResult.Success;
            }
            catch (Exception ex) when (ex is BudgetConfigurationException or ArgumentException)
            {
                return ValidateOptionsResult.Fail(ex.Message);
            }
        }
    }
}

/// <summary>The <c>Cage</c> section <c>AddCage(section)</c> was given, so extensions can read their own children.</summary>
internal sealed record CageConfigurationSection(IConfiguration Section);
