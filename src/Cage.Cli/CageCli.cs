using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using CageNet.Cli.Commands;
using CageNet.Pricing;

namespace CageNet.Cli;

/// <summary>
/// The <c>cage</c> command line: builds the command tree over a <see cref="CliContext"/> and runs it. Exit codes
/// (SPEC 6): 0 success (including "no data"), 2 bad arguments or bad input, 1 failure; errors go to stderr.
/// </summary>
internal static partial class CageCli
{
    /// <summary>Runs one command line in-process (the entry point and the tests both come through here).</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="stdout">Where output goes.</param>
    /// <param name="stderr">Where errors and warnings go.</param>
    /// <param name="time">The clock.</param>
    /// <param name="workingDirectory">The folder relative paths and the ledger search start from.</param>
    /// <param name="environment">The environment variables the tool reads (<c>CAGE_LEDGER</c>, <c>CAGE_PRICES</c>); none when <see langword="null"/>.</param>
    /// <param name="errorIsTerminal">Whether <paramref name="stderr"/> is a terminal (progress is shown only then).</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <param name="stdin">Standard input (only <c>cage hooks run</c> reads it); empty when <see langword="null"/>.</param>
    /// <returns>The exit code.</returns>
    internal static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        TimeProvider time,
        string workingDirectory,
        IDictionary<string, string?>? environment = null,
        bool errorIsTerminal = false,
        CancellationToken cancellationToken = default,
        TextReader? stdin = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = new CliContext(stdout, stderr, time, workingDirectory, environment, errorIsTerminal, stdin);
        var root = Build(context);
        var parseResult = root.Parse(args);
        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };

        if (parseResult.Errors.Count > 0)
        {
            // A usage error is exit 2 (not System.CommandLine's 1), printed as `cage: message` on stderr like every other
            // error, with a pointer to the help rather than the whole help text on stdout.
            foreach (var error in parseResult.Errors)
            {
                stderr.Write($"cage: {NumberOptions.Describe(error)}\n");
            }

            stderr.Write($"cage: see '{CommandPath(parseResult.CommandResult)} --help'\n");
            return ExitCodes.BadInput;
        }

        try
        {
            return await parseResult.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return Report(context, ex);
        }
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? at = result; at is CommandResult command; at = at.Parent)
        {
            names.Add(command.Parent is null ? "cage" : command.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    internal static RootCommand Build(CliContext context)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("Cage: meter LLM calls, keep a ledger of tokens and cost, and read it back.")
        {
            globals.Ledger,
            globals.Prices,
        };

        root.Subcommands.Add(InitCommand.Create(context, globals));
        root.Subcommands.Add(DemoCommand.Create(context, globals));
        root.Subcommands.Add(ReportCommand.Create(context, globals));
        root.Subcommands.Add(WhyCommand.Create(context, globals));
        root.Subcommands.Add(BudgetCommand.Create(context, globals));
        root.Subcommands.Add(ImportCommand.Create(context, globals));
        root.Subcommands.Add(ExportCommand.Create(context, globals));
        root.Subcommands.Add(MigrateCommand.Create(context, globals));
        root.Subcommands.Add(ProxyCommand.Create(context, globals));
        root.Subcommands.Add(ServeCommand.Create(context, globals));
        root.Subcommands.Add(MeterCommand.Create(context, globals));
        root.Subcommands.Add(HooksCommand.Create(context, globals));
        root.Subcommands.Add(McpCommand.Create(context, globals));
        foreach (var command in AttributionCommands.Create(context, globals))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Wraps a command body: known failures become a message on stderr and their exit code.</summary>
    internal static Func<ParseResult, CancellationToken, Task<int>> Guard(
        CliContext context,
        Func<ParseResult, CancellationToken, Task<int>> body) =>
        async (parseResult, cancellationToken) =>
        {
            try
            {
                return await body(parseResult, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                return Report(context, ex);
            }
        };

    private static int Report(CliContext context, Exception ex)
    {
        return Report(context, new PlainWriter(context.Error), ex);
    }

    /// <summary>
    /// Writes error text without the parts .NET adds for developers: an <see cref="ArgumentException"/>'s
    /// <c>(Parameter 'name')</c> suffix, which may be carried into a message from an inner exception.
    /// </summary>
    private sealed partial class PlainWriter(TextWriter inner)
    {
        public void Write(string text) => inner.Write(ParameterSuffix().Replace(text, ""));

        [System.Text.RegularExpressions.GeneratedRegex(@" ?\(Parameter '[^']*'\)")]
        private static partial System.Text.RegularExpressions.Regex ParameterSuffix();
    }

    private static int Report(CliContext context, PlainWriter error, Exception ex)
    {
        if (ex is not CliException && LedgerFile.FindDamage(ex) is { } damage)
        {
            var damaged = LedgerFile.Damaged(context.LedgerInUse ?? "file", damage.Message);
            error.Write($"cage: {damaged.Message}\n");
            return damaged.ExitCode;
        }

        switch (ex)
        {
            case CliException cli:
                error.Write($"cage: {cli.Message}\n");
                return cli.ExitCode;
            case CageNet.Attribution.AttributionException attribution:
                error.Write($"cage: {attribution.Message}\n");
                return ExitCodes.BadInput;
            case PriceMapException price:
                error.Write($"cage: {price.Message}\n");
                return ExitCodes.BadInput;
            case OperationCanceledException:
                error.Write("cage: cancelled\n");
                return ExitCodes.Failure;
            case IOException or UnauthorizedAccessException:
                error.Write($"cage: {ex.Message}\n");
                return ExitCodes.Failure;
            default:
                error.Write($"cage: unexpected error: {ex.Message}\n");
                return ExitCodes.Failure;
        }
    }
}

/// <summary>The options every command takes.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Ledger { get; } = new("--ledger")
    {
        Description = "The ledger: a SQLite file, or a PostgreSQL connection string or postgres:// URL (password from PGPASSWORD, CAGE_POSTGRES_PASSWORD_FILE or ~/.pgpass) (default: CAGE_LEDGER, else .cage/ledger.db in the nearest folder that has a .cage/ folder).",
        HelpName = "PATH|URL",
        Recursive = true,
    };

    public Option<string?> Prices { get; } = new("--prices")
    {
        Description = "A price map in the community (LiteLLM) format (default: CAGE_PRICES, else the policy's Pricing.MapFile).",
        HelpName = "FILE",
        Recursive = true,
    };

    /// <summary>A fresh <c>--json</c> option for one command.</summary>
    public static Option<bool> Json() => new("--json") { Description = "Print JSON (snake_case, exact decimals) instead of a table." };

    /// <summary>
    /// The command's workspace, checked before the command does anything: a price map given by <c>--prices</c> or
    /// <c>CAGE_PRICES</c> must exist and parse, for every command, even those that do not price anything; and whatever
    /// is at the ledger path must be a Cage ledger (or nothing). Either failing is exit 2 before a byte is written.
    /// </summary>
    public CageWorkspace Workspace(CliContext context, ParseResult parseResult)
    {
        var workspace = CageWorkspace.Resolve(context, parseResult.GetValue(Ledger), parseResult.GetValue(Prices));
        workspace.CheckPrices();
        if (!workspace.IsPostgres)
        {
            LedgerFile.Inspect(workspace.LedgerPath, workspace.LedgerOrigin);
        }

        return workspace;
    }
}
