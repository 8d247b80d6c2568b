using CageNet.Attribution;
using CageNet.Ledger;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.AspNetCore;

/// <summary>Maps the Cage spend dashboard into an ASP.NET Core host.</summary>
public static class CageDashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the read-only dashboard under <paramref name="pattern"/>: the page at <c>{pattern}/</c> (one embedded
    /// HTML/JS/CSS app, no CDN) and its JSON endpoints under <c>{pattern}/api/</c>, which return the <c>cage</c> CLI's
    /// <c>--json</c> shapes (report, attrib, matrix, roi, forecast, budget, why), plus the time series, the recent
    /// calls and a server-sent-event feed that tells the page when calls land.
    /// </summary>
    /// <remarks>
    /// The dashboard reads the registered <see cref="ILedgerReader"/> and <see cref="IAttributionService"/>
    /// (<c>services.AddCage(…).AddAttribution()</c>) and, when one is registered, the <see cref="Budgets.BudgetGuard"/>.
    /// It is not secured by itself: secure it with the usual conventions on the returned builder, for example
    /// <c>app.MapCageDashboard("/cage").RequireAuthorization("finops")</c>.
    /// </remarks>
    /// <param name="endpoints">The application or route group.</param>
    /// <param name="pattern">The route prefix, for example <c>/cage</c>.</param>
    /// <param name="configure">Adjusts the <see cref="CageDashboardOptions"/>.</param>
    /// <returns>The builder of every dashboard endpoint, for conventions such as <c>RequireAuthorization</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="pattern"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">No <see cref="ILedgerReader"/> or <see cref="IAttributionService"/> is registered.</exception>
    public static IEndpointConventionBuilder MapCageDashboard(this IEndpointRouteBuilder endpoints, string pattern = "/cage", Action<CageDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        var options = new CageDashboardOptions();
        configure?.Invoke(options);
        if (options.RefreshInterval < TimeSpan.FromMilliseconds(100))
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.RefreshInterval, "CageDashboardOptions.RefreshInterval must be at least 100 ms.");
        }

        var services = endpoints.ServiceProvider;
        var ledger = services.GetService<ILedgerReader>()
            ?? throw new InvalidOperationException("MapCageDashboard reads the ledger through ILedgerReader, and none is registered: call services.AddCage(…) (and AddSqliteLedger(…) for a ledger file) first.");
        var attribution = services.GetService<IAttributionService>()
            ?? throw new InvalidOperationException("MapCageDashboard shows attribution through IAttributionService, and none is registered: call .AddAttribution() on the builder services.AddCage(…) returns.");
        var api = new DashboardApi(ledger, attribution, services.GetService<TimeProvider>() ?? TimeProvider.System, services.GetService<Budgets.BudgetGuard>(), options);

        var prefix = "/" + pattern.Trim('/');
        var group = endpoints.MapGroup(prefix == "/" ? "" : prefix);
        // "/cage" → "/cage/", so the page's relative URLs (app.js, api/…) resolve under the prefix.
        group.MapGet("", (HttpContext http) => http.Request.Path.Value?.EndsWith('/') == true
            ? DashboardAssets.Page(options.Title)
            : Results.Redirect(http.Request.PathBase + http.Request.Path + "/" + http.Request.QueryString));
        group.MapGet("/app.js", () => DashboardAssets.Asset("app.js", "text/javascript; charset=utf-8"));
        group.MapGet("/app.css", () => DashboardAssets.Asset("app.css", "text/css; charset=utf-8"));
        api.Map(group.MapGroup("/api"));
        return group;
    }
}
