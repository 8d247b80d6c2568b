using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CageNet.Ledger;

/// <summary>Registers the PostgreSQL ledger on a Cage builder.</summary>
public static class PostgresLedgerServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="PostgresLedger"/> as the ledger: one singleton registered as <see cref="ILedgerStore"/>,
    /// <see cref="ILedgerSink"/> and <see cref="ILedgerReader"/>, replacing any ledger registered before (so the last
    /// <c>Add…Ledger</c> call wins). The database is connected to and migrated when the ledger is first resolved, and
    /// the connections are closed when the service provider is disposed.
    /// </summary>
    /// <remarks>
    /// Metering is fail-open: a server that cannot be reached is a counted, logged write fault — the app's LLM calls go on,
    /// and metering resumes (with the batches it kept) once the server answers again. Queries through
    /// <see cref="ILedgerReader"/> do throw in that case. In a generic host, a hosted service flushes the meter when the
    /// host stops.
    /// <para>It also registers a <see cref="CageNet.Ledger.PostgresBudgetStore"/> in the same database as the budget guard's
    /// <see cref="CageNet.Budgets.IBudgetStore"/> (used when <c>.AddBudgets()</c> is added, in either order), replacing one
    /// registered before: every instance's guard starts from the warnings, resets, charges and estimator state the whole
    /// fleet saved. It opens the ledger on first use, so a server that is down is a logged store fault, not a start-up error.</para>
    /// <para>And it registers the fleet's <see cref="ISharedBudgetReservations"/> (a <see cref="PostgresBudgetReservations"/>
    /// over the same ledger), which the guard of <c>.AddBudgets()</c> admits through: every instance's reservations are
    /// checked and held against the spend and holds of all of them (see <see cref="BudgetGuard.Shared"/>).</para>
    /// </remarks>
    /// <param name="builder">The Cage builder.</param>
    /// <param name="connectionString">An Npgsql connection string or a <c>postgres://</c> URL (see <see cref="PostgresLedger.OpenAsync"/>).</param>
    /// <returns>The builder, for chaining.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is empty.</exception>
    public static ICageBuilder AddPostgresLedger(this ICageBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        var services = builder.Services;
        services.RemoveAll<SqliteLedger>();
        services.RemoveAll<PostgresLedger>();
        services.RemoveAll<ILedgerStore>();
        services.RemoveAll<ILedgerSink>();
        services.RemoveAll<ILedgerReader>();

        services.AddSingleton(_ => PostgresLedger.OpenAsync(connectionString).GetAwaiter().GetResult());
        services.AddSingleton<ILedgerStore>(static sp => sp.GetRequiredService<PostgresLedger>());
        services.AddSingleton<ILedgerSink>(static sp => new SqliteLedgerServiceCollectionExtensions.DeferredLedgerSink<PostgresLedger>(sp));
        services.AddSingleton<ILedgerReader>(static sp => sp.GetRequiredService<PostgresLedger>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SqliteLedgerServiceCollectionExtensions.FlushOnHostStop>());

        // Budget state shared by the fleet, in the same database; harmless when budgets are not added.
        services.RemoveAll<CageNet.Budgets.IBudgetStore>();
        services.AddSingleton<CageNet.Budgets.IBudgetStore>(static sp => new PostgresBudgetStore(() => sp.GetRequiredService<PostgresLedger>()));

        // Reservations shared by the fleet: the budget guard admits through them (AddBudgets picks them up).
        services.RemoveAll<ISharedBudgetReservations>();
        services.AddSingleton<ISharedBudgetReservations>(static sp => new DeferredSharedReservations(sp));
        return builder;
    }

    /// <summary>
    /// The shared reservations over the ledger the container opens on first use, so a server that is down when the guard
    /// starts is a fault of each reservation (fail-open or fail-closed by the guard's options) until it answers.
    /// </summary>
    private sealed class DeferredSharedReservations(IServiceProvider services) : ISharedBudgetReservations
    {
        private PostgresBudgetReservations? _inner;

        public async Task<SharedReserveResult> TryReserveAsync(IReadOnlyList<SharedBudgetNode> nodes, decimal usd, TimeSpan lease, CancellationToken cancellationToken = default)
        {
            PostgresBudgetReservations inner;
            try
            {
                inner = Inner();
            }
#pragma warning disable CA1031 // A ledger that cannot be opened is the store's fault, answered as the contract says.
            catch (Exception ex) when (ex is not ObjectDisposedException)
#pragma warning restore CA1031
            {
                // Fail-open as the opened reservations would be; the guard refuses it when it fails closed.
                var ends = (services.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow() + lease;
                return new SharedReserveResult(new SharedReservation("bres_" + Guid.NewGuid().ToString("N"), [.. nodes], usd, ends) { Held = false }, null) { Fault = ex.Message };
            }

            return await inner.TryReserveAsync(nodes, usd, lease, cancellationToken).ConfigureAwait(false);
        }

        // A reservation was only ever held through the opened ledger.
        public Task<IReadOnlyList<SharedBudgetWarning>> SettleAsync(SharedReservation reservation, decimal actualUsd, CancellationToken cancellationToken = default) =>
            Inner().SettleAsync(reservation, actualUsd, cancellationToken);

        private PostgresBudgetReservations Inner()
        {
            if (Volatile.Read(ref _inner) is { } inner) return inner;
            var created = new PostgresBudgetReservations(services.GetRequiredService<PostgresLedger>(), services.GetService<TimeProvider>());
            return Interlocked.CompareExchange(ref _inner, created, null) ?? created;
        }
    }
}
