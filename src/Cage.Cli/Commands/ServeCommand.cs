using System.CommandLine;
using System.Globalization;
using System.Net;
using CageNet.AspNetCore;
using CageNet.Attribution;
using CageNet.Cli.Policy;
using CageNet.Ledger;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage serve [--port N] [--listen ADDRESS]</c>: the live dashboard (<see cref="CageDashboardEndpointRouteBuilderExtensions.MapCageDashboard"/>)
/// over the workspace's ledger, read-only (no endpoint writes; calls that other processes meter into the file show up as
/// they commit), on 127.0.0.1 unless told otherwise. Ctrl-C stops it.
/// </summary>
internal static class ServeCommand
{
    public const int DefaultPort = 4141;

    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var port = new Option<int>("--port") { Description = $"The TCP port (default {DefaultPort}; 0 picks a free one).", DefaultValueFactory = _ => DefaultPort, HelpName = "N" };
        var listen = new Option<string?>("--listen")
        {
            Description = "The address to listen on (default 127.0.0.1). Anyone who can reach the address can read the ledger's spend.",
            HelpName = "ADDRESS",
        };
        var command = new Command("serve", "Serve the live spend dashboard over the ledger (read-only, loopback by default); Ctrl-C stops it.") { port, listen };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var address = Address(parseResult.GetValue(listen));
            var portNumber = parseResult.GetValue(port);
            if (portNumber is < 0 or > 65535)
            {
                throw CliException.BadInput($"--port {portNumber.ToString(CultureInfo.InvariantCulture)} is not a TCP port (0 to 65535; 0 picks a free one)");
            }

            var workspace = globals.Workspace(context, parseResult);
            var policy = workspace.LoadPolicy(context);
            var catalog = workspace.LoadCatalog(policy);
            var budgets = PolicyFile.LoadBudgets(workspace.PolicyPath);
            var source = $"policy file {workspace.PolicyPath}";
            var ledger = OpenLive(workspace);
            await using (ledger.ConfigureAwait(false))
            {
                // Checks the budget tree once up front, so a bad one is exit 2 now rather than an error on the page.
                using (await BudgetCommand.OpenGuardAsync(budgets, source, ledger.Store, context.Time, cancellationToken).ConfigureAwait(false))
                {
                }

                var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
                builder.Services.AddRouting();
                builder.Services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
                builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
                builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
                builder.Services.AddSingleton(context.Time);
                builder.Services.AddSingleton<ILedgerReader>(ledger.Store);
                builder.Services.AddSingleton<IAttributionService>(new AttributionService(ledger.Store, catalog, policy.Tools.Order, context.Time));
                builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
                {
                    k.AddServerHeader = false;
                    k.Listen(address, portNumber);
                });
                var app = builder.Build();
                await using (app.ConfigureAwait(false))
                {
                    app.MapCageDashboard("/", o =>
                    {
                        o.MonthlyBudgetUsd = PolicyFile.MonthlyBudget(workspace.PolicyPath, context.Time.GetUtcNow());
                        o.BudgetJson = async ct =>
                        {
                            // The guard is rebuilt from the ledger file per request: spend that other processes charged
                            // since the last look is counted, as cage budget counts it.
                            using var guard = await BudgetCommand.OpenGuardAsync(budgets, source, ledger.Store, context.Time, ct).ConfigureAwait(false);
                            var scope = new Budgets.BudgetScope();
                            return Views.CageViews.Json(guard.GetStatus(scope), budgets, guard.TimeZone, guard.Tree(scope));
                        };
                    });
                    try
                    {
                        await app.StartAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException ex)
                    {
                        throw CliException.BadInput($"serve: cannot listen on {address}:{portNumber.ToString(CultureInfo.InvariantCulture)} ({ex.Message})", ex);
                    }

                    var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/";
                    if (!IPAddress.IsLoopback(address))
                    {
                        context.Warn($"listening on {address}: anyone who can reach it can read the ledger's spend; put it behind an authenticating gateway");
                    }

                    context.Write($"cage serve: dashboard at {url} over {workspace.LedgerPath} (read-only, live); Ctrl-C stops\n");
                    try
                    {
                        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Ctrl-C or SIGTERM.
                    }

                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }

            context.Write("cage serve stopped\n");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// The ledger, opened so that calls other processes commit show up: a ledger file without a write-ahead log beside
    /// it would open read-only as an immutable snapshot, so the file is opened for writing when it can be (which keeps
    /// its log live; the dashboard itself never writes), else read-only. A missing ledger is exit 2, nothing created.
    /// </summary>
    private static LedgerHandle OpenLive(CageWorkspace workspace)
    {
        if (!workspace.LedgerExists)
        {
            return workspace.OpenReader(); // throws the "no ledger at …" error
        }

        try
        {
            return new LedgerHandle(workspace.OpenLedger());
        }
        catch (CliException ex) when (ex.ExitCode == ExitCodes.Failure)
        {
            return workspace.OpenReader(); // a read-only folder or file: nobody else can write it either
        }
    }

    private static IPAddress Address(string? listen) =>
        listen is not { Length: > 0 } ? IPAddress.Loopback
        : listen.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(listen, out var address) ? address
        : throw CliException.BadInput($"--listen '{listen}' is not an IP address (for example 127.0.0.1, ::1 or 0.0.0.0)");
}
