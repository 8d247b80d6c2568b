using System.Net;
using CageNet.Budgets;
using CageNet.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Proxy;

/// <summary>
/// A metering reverse proxy for OpenAI-, Anthropic-, Gemini- and OpenRouter-compatible clients that cannot be edited
/// (agents, CLIs, scripts): point their base URL at <see cref="BaseAddressFor"/> and every call is metered as
/// <c>AddCageMetering()</c> meters it. Streams pass through chunk by chunk; auth headers are forwarded and never
/// stored; <c>X-Cage-Route</c>, <c>-Task</c>, <c>-Session</c>, <c>-Agent</c>, <c>-User</c> and <c>-Label-{name}</c>
/// (a free label such as <c>team</c>) label the call and are not forwarded; a blocking budget refuses with the provider's own 429 error shape (<c>budget_exceeded</c>).
/// </summary>
/// <example>
/// <code>
/// await using var proxy = await CageProxy.StartAsync(meter);
/// // OPENAI_BASE_URL=proxy.BaseAddressFor("openai") + "v1", ANTHROPIC_BASE_URL=proxy.BaseAddressFor("anthropic")
/// </code>
/// </example>
public sealed class CageProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _upstream;
    private int _stopped;

    private CageProxy(WebApplication app, HttpMessageInvoker upstream, Uri baseAddress)
    {
        _app = app;
        _upstream = upstream;
        BaseAddress = baseAddress;
    }

    /// <summary>The proxy's root address (<c>http://127.0.0.1:{port}/</c>).</summary>
    public Uri BaseAddress { get; }

    /// <summary>The base address a client of <paramref name="provider"/> uses: <c>{root}/{provider}/</c> (append <c>v1</c> for OpenAI SDKs).</summary>
    /// <param name="provider"><c>openai</c>, <c>anthropic</c>, <c>gemini</c> or <c>openrouter</c>.</param>
    /// <returns>The address.</returns>
    public Uri BaseAddressFor(string provider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        return new Uri(BaseAddress, provider.ToLowerInvariant() + "/");
    }

    /// <summary>Starts the proxy and returns once it listens.</summary>
    /// <param name="meter">The meter every call is recorded on.</param>
    /// <param name="options">Address, port, upstreams; defaults when <see langword="null"/>.</param>
    /// <param name="budget">The budget guard that admits each call before it is sent, and that rate-limit and utilization headers feed; none when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Logs upstream failures (never bodies, keys or headers); none when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running proxy; dispose it (or call <see cref="StopAsync"/>) to stop it.</returns>
    /// <exception cref="IOException">The address or port cannot be bound.</exception>
    public static async Task<CageProxy> StartAsync(
        ICageMeter meter,
        CageProxyOptions? options = null,
        BudgetGuard? budget = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(meter);
        options ??= new CageProxyOptions();
        loggerFactory ??= NullLoggerFactory.Instance;
        var logger = loggerFactory.CreateLogger("CageNet.Proxy");

        // The same metering handler AddCageMetering() installs, over a pooled connection handler that neither follows
        // redirects nor decompresses (the client gets the upstream's bytes as they are).
        var metering = new CageMeteringHandler(meter, new CageHttpMeteringOptions { DefaultRoute = options.DefaultRoute }, logger, budget)
        {
            InnerHandler = new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.None,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(30),
                ResponseDrainTimeout = TimeSpan.FromSeconds(2),
            },
        };
        var upstream = new HttpMessageInvoker(metering, disposeHandler: true);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null; // bodies stream through; the meter reads at most its own bound of them
            k.Listen(options.Address, options.Port);
        });
        var app = builder.Build();
        var forwarder = new ProxyForwarder(upstream, options, meter, logger);
        app.Run(forwarder.HandleAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            upstream.Dispose();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CageProxy(app, upstream, new Uri(address.TrimEnd('/') + "/"));
    }

    /// <summary>Stops accepting requests and waits for in-flight ones, streams included, up to <see cref="CageProxyOptions.ShutdownTimeout"/>.</summary>
    /// <param name="cancellationToken">Ends the wait early: requests still running are cut.</param>
    /// <returns>A task that completes when the proxy has stopped.</returns>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the proxy (as <see cref="StopAsync"/>) and releases its connections.</summary>
    /// <returns>A task that completes when everything is released.</returns>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _upstream.Dispose();
    }
}
