using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet;

/// <summary>Serves Cage's MCP tools over HTTP from an ASP.NET Core host.</summary>
public static class CageMcpEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the MCP Streamable HTTP endpoint at <paramref name="pattern"/> (the SDK's <c>MapMcp</c>) for a server that has
    /// the Cage tools. Register it first with <c>services.AddMcpServer().WithHttpTransport().WithCageTools()</c>. The
    /// endpoint has no authentication of its own: secure it like any endpoint, on the returned builder
    /// (<c>.RequireAuthorization()</c>), since <c>record_receipt</c> writes to the ledger and every tool reads spend.
    /// </summary>
    /// <param name="endpoints">The application's endpoints.</param>
    /// <param name="pattern">The route, <c>/mcp</c> by default.</param>
    /// <returns>The builder for further endpoint conventions (authorization, CORS, rate limiting).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The Cage tools or the MCP HTTP transport were not registered.</exception>
    public static IEndpointConventionBuilder MapCageMcp(this IEndpointRouteBuilder endpoints, string pattern = "/mcp")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<CageToolsMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapCageMcp: the Cage MCP tools are not registered; call services.AddMcpServer().WithHttpTransport().WithCageTools() first");
        }

        return endpoints.MapMcp(pattern);
    }
}
