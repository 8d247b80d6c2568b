using System.Net;

namespace CageNet.Proxy;

/// <summary>Where <see cref="CageProxy"/> listens and where it forwards each provider's traffic.</summary>
public sealed class CageProxyOptions
{
    /// <summary>The provider names a request path can start with: <c>openai</c>, <c>anthropic</c>, <c>gemini</c>, <c>openrouter</c>.</summary>
    public static IReadOnlyList<string> Providers { get; } = ["openai", "anthropic", "gemini", "openrouter"];

    /// <summary>The address to listen on; default loopback (127.0.0.1). Anything else exposes the proxy, and the keys it forwards, to the network.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 (the default) picks a free one, read back from <see cref="CageProxy.BaseAddress"/>.</summary>
    public int Port { get; set; }

    /// <summary>
    /// The upstream base address per provider. Defaults: <c>openai</c> https://api.openai.com, <c>anthropic</c>
    /// https://api.anthropic.com, <c>gemini</c> https://generativelanguage.googleapis.com, <c>openrouter</c>
    /// https://openrouter.ai/api. A request to <c>/{provider}/rest</c> goes to <c>{upstream}/rest</c>.
    /// </summary>
    public IDictionary<string, Uri> Upstreams { get; } = new Dictionary<string, Uri>(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = new("https://api.openai.com"),
        ["anthropic"] = new("https://api.anthropic.com"),
        ["gemini"] = new("https://generativelanguage.googleapis.com"),
        ["openrouter"] = new("https://openrouter.ai/api"),
    };

    /// <summary>The route label of a request without an <c>X-Cage-Route</c> header; default <c>proxy</c>.</summary>
    public string DefaultRoute { get; set; } = "proxy";

    /// <summary>The task label of a request without an <c>X-Cage-Task</c> header; none by default.</summary>
    public string? DefaultTask { get; set; }

    /// <summary>The session label of a request without an <c>X-Cage-Session</c> header; none by default (<c>cage meter</c> sets one per run).</summary>
    public string? DefaultSession { get; set; }

    /// <summary>How long a shutdown waits for in-flight requests (streams included) to finish; default 30 seconds.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
