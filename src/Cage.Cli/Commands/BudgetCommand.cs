using System.CommandLine;
using CageNet.Budgets;
using CageNet.Views;
using CageNet.Cli.Policy;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage budget [--scope PATH] [--session ID] [--user ID] [--agent ID] [--task ID] [--label NAME=VALUE] [--config FILE] [--json]</c>:
/// the budget tree as a tree, each node's spent, cap, remaining, percent and reset time (SPEC 7.8), from the <c>Cage:Budgets</c> tree of the
/// policy (or of a host's <c>appsettings.json</c> given by <c>--config</c>, read as <c>AddBudgets</c> reads it) and the
/// ledger's calls of the current periods (the same rebuild a host's guard does at start-up). Warnings that fired and
/// spend charged without a ledger call come from the budget tables in the ledger file. The only write is the first run's
/// registration of the tree's budget rollup (when the file is writable), after which runs read one row per node.
/// </summary>
internal static class BudgetCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var scope = new Option<string?>("--scope") { Description = "A node path such as org/users/alice: that node and its ancestors.", HelpName = "PATH" };
        var session = new Option<string?>("--session") { Description = "Bind {session} in templated nodes.", HelpName = "ID" };
        var user = new Option<string?>("--user") { Description = "Bind {user}.", HelpName = "ID" };
        var agent = new Option<string?>("--agent") { Description = "Bind {agent}.", HelpName = "ID" };
        var task = new Option<string?>("--task") { Description = "Bind {task}.", HelpName = "ID" };
        var label = new Option<string[]>("--label") { Description = "Bind a free label such as {team} (repeatable): --label team=team-a.", HelpName = "NAME=VALUE", AllowMultipleArgumentsPerToken = false };
        var config = new Option<string?>("--config")
        {
            Description = "Read the budget tree from a host's configuration file (the Cage:Budgets section of an ASP.NET appsettings.json, as AddBudgets binds it) instead of .cage/cage.json.",
            HelpName = "FILE",
        };
        var json = GlobalOptions.Json();
        var command = new Command("budget", "Spend against each budget node: spent, cap, remaining, percent and when it resets.") { scope, session, user, agent, task, label, config, json };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var workspace = globals.Workspace(context, parseResult);
            var configFile = parseResult.GetValue(config) is { Length: > 0 } given ? context.FullPath(given) : null;
            var options = configFile is null
                ? PolicyFile.LoadBudgets(workspace.PolicyPath)
                : PolicyFile.LoadBudgets(configFile, "--config", required: true);
            var source = configFile is null ? $"policy file {workspace.PolicyPath}" : $"--config {configFile}";
            var ledger = workspace.OpenForBudgets();
            await using (ledger.ConfigureAwait(false))
            {
                using (var guard = await OpenGuardAsync(options, source, ledger.Store, context.Time, cancellationToken).ConfigureAwait(false))
                {
                    BudgetStatus status;
                    BudgetStatus? tree = null;
                    if (parseResult.GetValue(scope) is { Length: > 0 } path)
                    {
                        try
                        {
                            status = guard.GetStatus(path);
                        }
                        catch (Exception ex) when (ex is ArgumentException or BudgetConfigurationException)
                        {
                            throw CliException.BadInput("--scope: " + ex.Message, ex);
                        }
                    }
                    else
                    {
                        var bound = new BudgetScope(parseResult.GetValue(user), parseResult.GetValue(agent), parseResult.GetValue(session), parseResult.GetValue(task));
                        foreach (var pair in parseResult.GetValue(label) ?? [])
                        {
                            var equals = pair.IndexOf('=', StringComparison.Ordinal);
                            if (equals <= 0 || equals == pair.Length - 1)
                            {
                                throw CliException.BadInput($"--label '{pair}' is not NAME=VALUE (for example --label team=team-a)");
                            }

                            bound = bound.WithLabel(pair[..equals].Trim(), pair[(equals + 1)..].Trim());
                        }

                        status = guard.GetStatus(bound);
                        tree = guard.Tree(bound);
                    }

                    context.Write(parseResult.GetValue(json)
                        ? CageViews.Json(status, options, guard.TimeZone, tree)
                        : CageViews.Text(status, options, configFile ?? workspace.PolicyPath, tree));
                }
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>
    /// A read-only guard over <paramref name="options"/>, rebuilt from the ledger's calls of the current periods and the
    /// budget tables of the ledger file (warnings fired, charges without a call); nothing is written. What
    /// <c>cage budget</c>, <c>cage serve</c> and <c>cage mcp</c>'s <c>budget_status</c> report. Dispose it.
    /// </summary>
    /// <exception cref="CliException">The budget tree is invalid (exit 2, naming <paramref name="source"/>).</exception>
    internal static async Task<BudgetGuard> OpenGuardAsync(BudgetOptions options, string source, ILedgerStore ledger, TimeProvider time, CancellationToken cancellationToken)
    {
        IBudgetStore store = ledger switch { SqliteLedger sqlite => new SqliteBudgetStore(sqlite), PostgresLedger postgres => new PostgresBudgetStore(postgres), _ => new InMemoryBudgetStore() };
        BudgetGuard guard;
        try
        {
            guard = new BudgetGuard(options, time, store) { ReadOnly = true, Strict = true };
        }
        catch (BudgetConfigurationException ex)
        {
            throw CliException.BadInput($"{source}: {ex.Message}", ex);
        }

        try
        {
            await guard.InitializeAsync(ledger, cancellationToken).ConfigureAwait(false);
            return guard;
        }
        catch
        {
            guard.Dispose();
            throw;
        }
    }
}
