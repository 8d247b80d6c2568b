using CageNet.Attribution;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CageNet;

/// <summary>Registers the attribution views on a Cage builder.</summary>
public static class AttributionCageBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IAttributionService"/> over the configured ledger reader, price catalog, the options'
    /// <c>Tools.Order</c> and the <see cref="TimeProvider"/>. Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The builder from <c>services.AddCage(…)</c>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static ICageBuilder AddAttribution(this ICageBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<IAttributionService>(static sp => new AttributionService(
            sp.GetRequiredService<ILedgerReader>(),
            sp.GetRequiredService<PriceCatalog>(),
            sp.GetRequiredService<IOptions<CageOptions>>().Value,
            sp.GetRequiredService<TimeProvider>()));
        return builder;
    }
}
