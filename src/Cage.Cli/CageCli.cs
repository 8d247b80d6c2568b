using System.CommandLine;
using System.CommandLine.Invocation;
using CageNet.Cli.Commands;
using CageNet.Pricing;

namespace CageNet.Cli;

/// <summary>
/// The <c>cage</c> command line: builds the command tree over a <see cref="CliContext"/> and runs it. Exit codes
/// (SPEC 6): 0 success (including "no data"), 2 bad arguments or bad input, 1 failure; errors go to stderr.
/// </summary>
internal static class CageCli
{
    /// <summary>Runs one command line in-process (the entry point and the tests both come through here).</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="stdout">Where output goes.</param>
    /// <param name="stderr">Where errors and warnings go.</param>
    /// <param name="time">The clock.</param>
    /// <param name="workingDirectory">The folder relative paths and the ledger search start from.</param>
    /// <param name="environment">The environment variables the tool reads (<c>CAGE_LEDGER</c>, <c>CAGE_PRICES</c>); none when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code.</returns>
    internal static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        TimeProvider time,
        string workingDirectory,
        IDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = new CliContext(stdout, stderr, time, workingDirectory, environment);
        var root = Build(context);
        var parseResult = root.Parse(args);
        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };

        if (parseResult.Action is ParseErrorAction)
        {
            // System.CommandLine prints the errors (and help); a usage error is exit 2, not its default 1.
            await parseResult.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
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
        switch (ex)
        {
            case CliException cli:
                context.Error.Write($"cage: {cli.Message}\n");
                return cli.ExitCode;
            case CageNet.Attribution.AttributionException attribution:
                context.Error.Write($"cage: {attribution.Message}\n");
                return ExitCodes.BadInput;
            case PriceMapException price:
                context.Error.Write($"cage: {price.Message}\n");
                return ExitCodes.BadInput;
            case OperationCanceledException:
                context.Error.Write("cage: cancelled\n");
                return ExitCodes.Failure;
            case IOException or UnauthorizedAccessException:
                context.Error.Write($"cage: {ex.Message}\n");
                return ExitCodes.Failure;
            default:
                context.Error.Write($"cage: unexpected error: {ex.GetType().Name}: {ex.Message}\n");
                return ExitCodes.Failure;
        }
    }
}

/// <summary>The options every command takes.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Ledger { get; } = new("--ledger")
    {
        Description = "The ledger file (default: CAGE_LEDGER, else .cage/ledger.db in the nearest folder that has a .cage/ folder).",
        HelpName = "PATH",
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

    public CageWorkspace Workspace(CliContext context, ParseResult parseResult) =>
        CageWorkspace.Resolve(context, parseResult.GetValue(Ledger), parseResult.GetValue(Prices));
}
