using System.Net;
using Microsoft.AspNetCore.Http;

namespace CageNet.AspNetCore;

/// <summary>
/// The dashboard's page, script and style sheet, embedded in the assembly (no CDN, no external font), served with a
/// content security policy that allows only this origin's script and style: ledger strings are set as text by the
/// script, and even a string that slipped into markup could not run.
/// </summary>
internal static class DashboardAssets
{
    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Lazy<string> PageTemplate = new(() => System.Text.Encoding.UTF8.GetString(Read("index.html")));
    private static readonly Dictionary<string, Lazy<byte[]>> Files = new(StringComparer.Ordinal)
    {
        ["app.js"] = new(() => Read("app.js")),
        ["app.css"] = new(() => Read("app.css")),
    };

    public static IResult Page(string title) =>
        new AssetResult(System.Text.Encoding.UTF8.GetBytes(PageTemplate.Value.Replace("{{title}}", WebUtility.HtmlEncode(title), StringComparison.Ordinal)), "text/html; charset=utf-8");

    public static IResult Asset(string name, string contentType) => new AssetResult(Files[name].Value, contentType);

    private static byte[] Read(string name)
    {
        using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("CageNet.AspNetCore." + name)
            ?? throw new InvalidOperationException($"the dashboard asset '{name}' is missing from {typeof(DashboardAssets).Assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed class AssetResult(byte[] body, string contentType) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.ContentType = contentType;
            response.Headers.ContentSecurityPolicy = Policy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers.CacheControl = "no-cache";
            response.ContentLength = body.Length;
            return response.Body.WriteAsync(body, httpContext.RequestAborted).AsTask();
        }
    }
}
