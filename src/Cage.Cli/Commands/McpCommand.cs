using System.CommandLine;
using System.Reflection;
using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Cli.Policy;
using CageNet.Ledger;
using CageNet.Mcp.Tools;
using CageNet.Metering;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage mcp</c>: an MCP server on stdin/stdout (the official SDK's stdio transport) with the Cage tools over the
/// workspace's ledger, prices, policy tool order and budget tree — the same inputs the commands of the same names use, so
/// each tool's result equals their <c>--json</c>. Stdout carries protocol messages only; logs go to stderr. It runs until
/// the client closes stdin (or Ctrl+C / SIGTERM).
/// </summary>
internal static class McpCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var command = new Command("mcp", "Serve report, attrib, matrix, roi, budget_status, why, forecast and record_receipt as MCP tools over stdio (for Claude Code, Codex, VS Code).");
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var workspace = globals.Workspace(context, parseResult);
            var policy = workspace.LoadPolicy(context);
            var catalog = workspace.LoadCatalog(policy);
            var budgets = PolicyFile.LoadBudgets(workspace.PolicyPath);
            var source = $"policy file {workspace.PolicyPath}";
            if (!workspace.LedgerExists)
            {
                // record_receipt writes, but a server over a ledger nobody records into would only ever answer "no calls":
                // a mistyped --ledger is an error here, not a new empty file.
                throw CliException.BadInput(
                    $"no ledger at {workspace.LedgerPath} ({workspace.LedgerOrigin}); nothing was created. Record calls first (cage init, cage demo or cage import), or point --ledger or CAGE_LEDGER at an existing ledger");
            }

            var ledger = workspace.OpenLedger();
            await using (ledger.ConfigureAwait(false))
            {
                // A bad budget tree fails now, at start-up, with exit 2, not on the first budget_status call.
                (await BudgetCommand.OpenGuardAsync(budgets, source, ledger, context.Time, cancellationToken).ConfigureAwait(false)).Dispose();
                var meter = new CageMeter(ledger, catalog, context.Time, policy.Metering);
                await using (meter.ConfigureAwait(false))
                {
                    var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
                    builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
                    builder.Services
                        .AddSingleton(context.Time)
                        .AddSingleton<ILedgerReader>(ledger)
                        .AddSingleton<ICageMeter>(meter)
                        .AddSingleton<IAttributionService>(new AttributionService(ledger, catalog, policy.Tools.Order, context.Time))
                        .AddSingleton<ICageBudgets>(new PolicyBudgets(context, budgets, source, ledger));
                    builder.Services
                        .AddMcpServer(o => o.ServerInfo = new Implementation { Name = "cage", Version = Version })
                        .WithStdioServerTransport()
                        .WithCageTools();
                    using var host = builder.Build();
                    await host.RunAsync(cancellationToken).ConfigureAwait(false);
                    await meter.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Version =>
        typeof(McpCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>The policy's budget tree, with a fresh read-only guard over the ledger for every call (as <c>cage budget</c> builds one).</summary>
    private sealed class PolicyBudgets(CliContext context, BudgetOptions options, string source, SqliteLedger ledger) : ICageBudgets
    {
        public BudgetOptions? Options => options;

        public async ValueTask<T> ReadAsync<T>(Func<BudgetGuard, T> read, CancellationToken cancellationToken)
        {
            using var guard = await BudgetCommand.OpenGuardAsync(options, source, ledger, context.Time, cancellationToken).ConfigureAwait(false);
            return read(guard);
        }
    }
}
