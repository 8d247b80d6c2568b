using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

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
        services.AddSingleton<ILedgerSink>(static sp => sp.GetRequiredService<SqliteLedger>());
        services.AddSingleton<ILedgerReader>(static sp => sp.GetRequiredService<SqliteLedger>());
        return builder;
    }
}
