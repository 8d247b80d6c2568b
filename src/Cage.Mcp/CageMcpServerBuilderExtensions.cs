using CageNet.Mcp.Tools;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CageNet;

/// <summary>Adds Cage's tools to an MCP server (the official <c>ModelContextProtocol</c> SDK).</summary>
public static class CageMcpServerBuilderExtensions
{
    /// <summary>
    /// Adds the Cage tools — <c>report</c>, <c>attrib</c>, <c>matrix</c>, <c>roi</c>, <c>budget_status</c>, <c>why</c>,
    /// <c>forecast</c> and <c>record_receipt</c> — to the server. Each returns the <c>cage</c> CLI's <c>--json</c> of its
    /// view as structured content, with an output schema, and answers bad arguments with a tool error naming the argument.
    /// </summary>
    /// <remarks>
    /// The tools read the host's services when called: <c>ILedgerReader</c> and <c>ICageMeter</c> (<c>services.AddCage()</c>
    /// with a ledger such as <c>.AddSqliteLedger()</c>), <c>IAttributionService</c> (<c>.AddAttribution()</c>) and, for
    /// <c>budget_status</c> and the default budget of <c>forecast</c>, the budget guard (<c>.AddBudgets(...)</c>). A tool
    /// whose service is missing answers with an error saying which registration it needs. Calling this twice is harmless.
    /// </remarks>
    /// <param name="builder">The builder from <c>services.AddMcpServer()</c>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IMcpServerBuilder WithCageTools(this IMcpServerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(d => d.ServiceType == typeof(CageToolsMarker)))
        {
            return builder;
        }

        builder.Services.AddSingleton<CageToolsMarker>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<ICageBudgets, HostBudgets>();
        return builder.WithTools(CageTools.All);
    }
}

/// <summary>Marks that <see cref="CageMcpServerBuilderExtensions.WithCageTools"/> ran (so a second call adds nothing, and <c>MapCageMcp</c> can check).</summary>
internal sealed class CageToolsMarker;
