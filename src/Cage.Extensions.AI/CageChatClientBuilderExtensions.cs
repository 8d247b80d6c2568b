using CageNet.Budgets;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CageNet.Extensions.AI;

/// <summary>Adds Cage metering and budgets to a Microsoft.Extensions.AI chat pipeline.</summary>
public static class CageChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a chat client that meters every round-trip to the clients below it and checks the budget before
    /// sending each one. Place it <b>after</b> <c>UseFunctionInvocation()</c>
    /// (<c>builder.UseFunctionInvocation().UseCage()</c>) so every turn of a tool loop is its own metered,
    /// budget-checked call; placed before, a whole tool loop would look like one call.
    /// </summary>
    /// <param name="builder">The chat client builder.</param>
    /// <param name="meter">The meter; default the <see cref="ICageMeter"/> registered in the service provider, else <see cref="Cage.Instance"/>.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// Route, task, session, agent, user and category come from <c>ChatOptions.AdditionalProperties</c>
    /// (<see cref="CageChatProperties"/>), else the ambient <see cref="MeterScope"/>; each round-trip is recorded in a
    /// child scope of the ambient one. The served model is the response's <c>ModelId</c>. Optional services
    /// (<see cref="ILoggerFactory"/>, the <see cref="BudgetGuard"/> registered by <c>AddBudgets()</c>) are resolved from the service provider the pipeline is built with.
    /// </remarks>
    public static ChatClientBuilder UseCage(this ChatClientBuilder builder, ICageMeter? meter = null, Action<CageChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            var options = new CageChatClientOptions();
            configure?.Invoke(options);
            var resolvedMeter = meter ?? services.GetService<ICageMeter>() ?? Cage.Instance;
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Cage.ChatClient");
            return new CageChatClient(inner, resolvedMeter, options, services.GetService<BudgetGuard>(), logger);
        });
    }
}
