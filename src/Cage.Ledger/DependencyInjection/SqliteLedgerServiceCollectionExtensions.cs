using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CageNet.Ledger;

/// <summary>Registers the SQLite ledger on a Cage builder.</summary>
public static class SqliteLedgerServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="SqliteLedger"/> as the ledger: one singleton registered as <see cref="ILedgerStore"/>,
    /// <see cref="ILedgerSink"/> and <see cref="ILedgerReader"/>, replacing any ledger registered before (so the last
    /// <c>Add…Ledger</c> call wins). The file is <see cref="SqliteLedgerOptions.Path"/> when set, else
    /// <see cref="LedgerLocation.Resolve(string?, string?)"/>; it is opened when first resolved and closed when the
    /// service provider is disposed.
    /// </summary>
    /// <remarks>
    /// Metering is fail-open: the meter writes through a sink that opens the ledger on first use, so a ledger that
    /// cannot be opened (an unwritable path, a locked file) is a counted, logged write fault — the app's LLM calls
    /// go on, and metering resumes once the ledger can be opened. Queries through <see cref="ILedgerReader"/> do
    /// throw in that case. In a generic host, a hosted service flushes the meter when the host stops.
    /// <para>It also registers a <see cref="SqliteBudgetStore"/> in the same file as the budget guard's
    /// <see cref="CageNet.Budgets.IBudgetStore"/> (used when <c>.AddBudgets()</c> is added, in either order).</para>
    /// </remarks>
    /// <param name="builder">The Cage builder.</param>
    /// <param name="configure">Adjusts the options; default none.</param>
    /// <returns>The builder, for chaining.</returns>
    public static ICageBuilder AddSqliteLedger(this ICageBuilder builder, Action<SqliteLedgerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new SqliteLedgerOptions();
        configure?.Invoke(options);

        var services = builder.Services;
        services.RemoveAll<SqliteLedger>();
        services.RemoveAll<ILedgerStore>();
        services.RemoveAll<ILedgerSink>();
        services.RemoveAll<ILedgerReader>();

        // The interfaces forward to the one instance; the provider may dispose it more than once, which is harmless.
        services.AddSingleton(_ => SqliteLedger.Open(LedgerLocation.Resolve(options.Path), options));
        services.AddSingleton<ILedgerStore>(static sp => sp.GetRequiredService<SqliteLedger>());
        services.AddSingleton<ILedgerSink>(static sp => new DeferredLedgerSink<SqliteLedger>(sp));
        services.AddSingleton<ILedgerReader>(static sp => sp.GetRequiredService<SqliteLedger>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, FlushOnHostStop>());

        // Budget state (warnings fired, resets, 5h windows, spend without a ledger call) lives in the same file; harmless when budgets are not added.
        services.RemoveAll<CageNet.Budgets.IBudgetStore>();
        services.AddSingleton<CageNet.Budgets.IBudgetStore>(static sp => new SqliteBudgetStore(sp.GetRequiredService<SqliteLedger>()));
        return builder;
    }

    /// <summary>
    /// Opens the ledger on the first write and keeps it; an open failure is a write fault the pipeline counts and retries.
    /// Shared with the PostgreSQL ledger's registration.
    /// </summary>
    internal sealed class DeferredLedgerSink<TLedger> : ILedgerSink
        where TLedger : class, ILedgerSink
    {
        private readonly IServiceProvider services;
        private TLedger? _ledger;

        public DeferredLedgerSink(IServiceProvider services)
        {
            this.services = services;
            try
            {
                // Normally the ledger opens here, while the provider is alive (the meter is created after it, so
                // disposal drains the meter before the ledger closes). Only a ledger that cannot be opened yet is
                // left to the first write.
                _ledger = services.GetRequiredService<TLedger>();
            }
#pragma warning disable CA1031 // Fail-open: an unopenable ledger is a write fault later, not an error now.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        public ValueTask WriteAsync(LedgerBatch batch, CancellationToken cancellationToken = default) =>
            (_ledger ??= services.GetRequiredService<TLedger>()).WriteAsync(batch, cancellationToken);
    }

    /// <summary>Flushes the meter while the host stops, before the container disposes the ledger.</summary>
    internal sealed class FlushOnHostStop(ICageMeter meter) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => meter.FlushAsync(cancellationToken).AsTask();
    }
}
