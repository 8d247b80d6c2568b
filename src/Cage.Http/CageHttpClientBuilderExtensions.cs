using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CageNet.Http;

/// <summary>Adds Cage metering to named and typed HttpClients.</summary>
public static class CageHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="CageMeteringHandler"/> to the client: OpenAI, Anthropic, Gemini and OpenRouter calls made with it
    /// are metered (streams included, never buffered), budget-checked when a budget guard is registered, and their
    /// subscription-utilization headers feed the budget estimator. Register Cage with <c>services.AddCage()</c> first;
    /// without it the static <see cref="Cage.Instance"/> is used.
    /// </summary>
    /// <param name="builder">The HttpClient builder.</param>
    /// <param name="configure">Configures the options (for example <c>o =&gt; o.AddStreamUsageOption = false</c>).</param>
    /// <returns>The builder.</returns>
    public static IHttpClientBuilder AddCageMetering(this IHttpClientBuilder builder, Action<CageHttpMeteringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new CageHttpMeteringOptions();
        configure?.Invoke(options);
        return builder.AddHttpMessageHandler(services => new CageMeteringHandler(
            services.GetService<ICageMeter>(),
            options,
            services.GetService<ILoggerFactory>()?.CreateLogger("Cage.Http"),
            services.GetService<BudgetGuard>()));
    }
}
