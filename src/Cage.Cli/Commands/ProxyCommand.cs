using System.CommandLine;
using System.Globalization;
using System.Net;
using CageNet.Budgets;
using CageNet.Views;
using CageNet.Cli.Policy;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Proxy;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage proxy [--port N] [--listen ADDR] [--upstream provider=URL …]</c>: runs <see cref="CageProxy"/> over the
/// workspace's ledger, prices and budgets until Ctrl-C (or SIGTERM), then drains the streams in flight and prints what
/// it metered.
/// </summary>
internal static class ProxyCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var port = new Option<int>("--port") { Description = "The TCP port (default 0: a free one, printed at start).", HelpName = "N" };
        var listen = new Option<string?>("--listen")
        {
            Description = "The address to listen on (default 127.0.0.1). Anything else exposes the proxy, and every key sent through it, to that network.",
            HelpName = "ADDR",
        };
        var upstream = new Option<string[]>("--upstream")
        {
            Description = "Where a provider's traffic goes, as provider=URL (openai, anthropic, gemini, openrouter); repeatable.",
            HelpName = "PROVIDER=URL",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("proxy", "Run a metering reverse proxy for OpenAI, Anthropic, Gemini and OpenRouter clients; Ctrl-C stops it.") { port, listen, upstream };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var options = ProxyOptions(parseResult.GetValue(port), parseResult.GetValue(listen), parseResult.GetValue(upstream) ?? []);
            var workspace = globals.Workspace(context, parseResult);
            return await HostAsync(context, workspace, options, async proxy =>
            {
                Announce(context, workspace, options, proxy);
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C or SIGTERM: stop below, draining what is in flight.
                }

                return ExitCodes.Ok;
            },
            (_, flushed, exit) =>
            {
                context.Write($"cage proxy stopped: {Formats.Plural(flushed.Written, "call")} written to {workspace.LedgerPath}" +
                    (flushed.Dropped > 0 ? $", {Formats.Plural(flushed.Dropped, "record")} dropped (see the warnings above)" : "") + "\n");
                return Task.FromResult(flushed.Dropped > 0 ? ExitCodes.Failure : exit);
            },
            cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>
    /// Runs <paramref name="whileRunning"/> with a proxy over the workspace's ledger, prices and budgets; then stops the
    /// proxy (draining streams in flight), flushes the meter and hands it, what was written or dropped and the
    /// exit code to <paramref name="afterStop"/> (with the meter, whose session totals hold what it metered), whose result is the command's exit code.
    /// </summary>
    internal static async Task<int> HostAsync(
        CliContext context,
        CageWorkspace workspace,
        CageProxyOptions options,
        Func<CageProxy, Task<int>> whileRunning,
        Func<CageMeter, FlushResult, int, Task<int>> afterStop,
        CancellationToken cancellationToken)
    {
        var policy = workspace.LoadPolicy(context);
        var catalog = workspace.LoadCatalog(policy);
        var budgets = PolicyFile.LoadBudgets(workspace.PolicyPath);
        var ledger = workspace.OpenLedger();
        await using (ledger.ConfigureAwait(false))
        {
            BudgetGuard guard;
            try
            {
                guard = new BudgetGuard(budgets, context.Time, new SqliteBudgetStore(ledger));
            }
            catch (BudgetConfigurationException ex)
            {
                throw CliException.BadInput($"policy file {workspace.PolicyPath}: {ex.Message}", ex);
            }

            using (guard)
            {
                await guard.InitializeAsync(ledger, cancellationToken).ConfigureAwait(false);
                var meter = new CageMeter(ledger, catalog, context.Time, policy.Metering) { Budget = guard };
                await using (meter.ConfigureAwait(false))
                {
                    CageProxy proxy;
                    try
                    {
                        proxy = await CageProxy.StartAsync(meter, options, guard, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException ex)
                    {
                        throw CliException.BadInput($"proxy: cannot listen on {options.Address}:{options.Port.ToString(CultureInfo.InvariantCulture)} ({ex.Message})", ex);
                    }

                    int exit;
                    await using (proxy.ConfigureAwait(false))
                    {
                        exit = await whileRunning(proxy).ConfigureAwait(false);
                        await proxy.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    }

                    var flushed = await meter.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    return await afterStop(meter, flushed, exit).ConfigureAwait(false);
                }
            }
        }
    }

    private static void Announce(CliContext context, CageWorkspace workspace, CageProxyOptions options, CageProxy proxy)
    {
        var text = new System.Text.StringBuilder()
            .Append($"cage proxy listening on {proxy.BaseAddress.AbsoluteUri}\n")
            .Append($"  OPENAI_BASE_URL={proxy.BaseAddressFor("openai")}v1\n")
            .Append($"  ANTHROPIC_BASE_URL={proxy.BaseAddressFor("anthropic")}\n");
        foreach (var provider in CageProxyOptions.Providers)
        {
            text.Append($"  {provider,-10} {proxy.BaseAddressFor(provider)}… → {options.Upstreams[provider].AbsoluteUri.TrimEnd('/')}/…\n");
        }

        text.Append($"  ledger {workspace.LedgerPath}; labels from X-Cage-Route, -Task, -Session, -Agent, -User; Ctrl-C stops (streams in flight finish first)\n");
        if (!IPAddress.IsLoopback(options.Address))
        {
            context.Warn($"listening on {options.Address}: anyone who can reach it can spend through it with the keys its clients send; put it behind an authenticating gateway");
        }

        context.Write(text.ToString());
    }

    internal static CageProxyOptions ProxyOptions(int port, string? listen, IReadOnlyList<string> upstreams)
    {
        if (port is < 0 or > 65535)
        {
            throw CliException.BadInput($"--port {port.ToString(CultureInfo.InvariantCulture)} is not a TCP port (0 to 65535; 0 picks a free one)");
        }

        var options = new CageProxyOptions { Port = port };
        if (listen is { Length: > 0 })
        {
            options.Address = listen.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
                : IPAddress.TryParse(listen, out var address) ? address
                : throw CliException.BadInput($"--listen '{listen}' is not an IP address (for example 127.0.0.1, ::1 or 0.0.0.0)");
        }

        foreach (var entry in upstreams)
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            var provider = eq > 0 ? entry[..eq].Trim().ToLowerInvariant() : "";
            if (!CageProxyOptions.Providers.Contains(provider))
            {
                throw CliException.BadInput($"--upstream '{entry}': give provider=URL with provider one of {string.Join(", ", CageProxyOptions.Providers)}");
            }

            if (!Uri.TryCreate(entry[(eq + 1)..].Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw CliException.BadInput($"--upstream '{entry}': the URL must be an absolute http:// or https:// address");
            }

            options.Upstreams[provider] = uri;
        }

        return options;
    }
}
