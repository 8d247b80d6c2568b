using System.CommandLine;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using CageNet.Budgets;
using CageNet.Proxy;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage meter [--route R] [--task T] [--session S] [--upstream provider=URL …] -- &lt;cmd&gt; [args…]</c>: runs a
/// command with the usual provider base-URL variables pointed at a <see cref="CageProxy"/> on a free loopback port, so
/// its LLM calls are metered; passes stdin, stdout and stderr through, and exits with the command's exit code after
/// printing the run's session summary (6-decimal dollars) to stderr.
/// </summary>
internal static partial class MeterCommand
{
    /// <summary>The exit code when the command cannot be started (as shells use for "not found").</summary>
    internal const int CannotRun = 127;

    // How long the child gets to exit by itself after cage is told to stop (Ctrl-C reaches the whole process group,
    // so the child usually has its own SIGINT already) before it is sent SIGTERM, and then killed.
    private static readonly TimeSpan GraceBeforeTerm = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan GraceBeforeKill = TimeSpan.FromSeconds(10);

    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var route = new Option<string?>("--route") { Description = "The route label of the command's calls (default meter).", HelpName = "R" };
        var task = new Option<string?>("--task") { Description = "The task label of the command's calls.", HelpName = "T" };
        var session = new Option<string?>("--session") { Description = "The session label (default a new id per run, printed in the summary).", HelpName = "S" };
        var upstream = new Option<string[]>("--upstream")
        {
            Description = "Where a provider's traffic goes, as provider=URL (openai, anthropic, gemini, openrouter); repeatable.",
            HelpName = "PROVIDER=URL",
            AllowMultipleArgumentsPerToken = true,
        };
        var commandLine = new Argument<string[]>("command")
        {
            Description = "The command and its arguments, after --: they reach it untouched.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("meter", "Run a command with its LLM calls metered through a proxy; print the session summary when it exits.")
        {
            route, task, session, upstream, commandLine,
        };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            var argv = parseResult.GetValue(commandLine) ?? [];
            if (argv.Length == 0 || string.IsNullOrWhiteSpace(argv[0]))
            {
                throw CliException.BadInput("meter: give the command to run after --, e.g. cage meter -- codex exec \"fix the bug\"");
            }

            var options = ProxyCommand.ProxyOptions(0, null, parseResult.GetValue(upstream) ?? []);
            options.DefaultRoute = parseResult.GetValue(route) is { Length: > 0 } r ? r : "meter";
            options.DefaultTask = parseResult.GetValue(task) is { Length: > 0 } t ? t : null;
            options.DefaultSession = parseResult.GetValue(session) is { Length: > 0 } s ? s : CageIds.NewCallId(context.Time).Replace("c_", "meter-", StringComparison.Ordinal);
            var workspace = globals.Workspace(context, parseResult);
            return await ProxyCommand.HostAsync(context, workspace, options,
                proxy => RunChildAsync(context, argv, proxy, cancellationToken),
                (meter, flushed, exit) =>
                {
                    WriteSummary(context, meter.Sessions, options.DefaultSession!, flushed);
                    return Task.FromResult(exit);
                },
                cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>The environment a child gets: every common base-URL variable pointed at the proxy.</summary>
    internal static IEnumerable<KeyValuePair<string, string>> BaseUrls(CageProxy proxy)
    {
        var openai = proxy.BaseAddressFor("openai").AbsoluteUri + "v1";
        var anthropic = proxy.BaseAddressFor("anthropic").AbsoluteUri.TrimEnd('/');
        var gemini = proxy.BaseAddressFor("gemini").AbsoluteUri.TrimEnd('/');
        var openrouter = proxy.BaseAddressFor("openrouter").AbsoluteUri + "v1";
        yield return new("OPENAI_BASE_URL", openai);
        yield return new("OPENAI_API_BASE", openai);           // older OpenAI SDKs and LangChain
        yield return new("ANTHROPIC_BASE_URL", anthropic);
        yield return new("GOOGLE_GEMINI_BASE_URL", gemini);    // the Gemini CLI
        yield return new("GEMINI_BASE_URL", gemini);
        yield return new("OPENROUTER_BASE_URL", openrouter);
        yield return new("CAGE_PROXY_URL", proxy.BaseAddress.AbsoluteUri);
    }

    private static async Task<int> RunChildAsync(CliContext context, string[] argv, CageProxy proxy, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(argv[0]) { UseShellExecute = false, WorkingDirectory = context.WorkingDirectory };
        foreach (var arg in argv.AsSpan(1))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in BaseUrls(proxy))
        {
            start.Environment[name] = value;
        }

        Process child;
        try
        {
            child = Process.Start(start) ?? throw new Win32Exception("the process did not start");
        }
        catch (Win32Exception ex)
        {
            context.Error.Write($"cage: meter: cannot run '{argv[0]}': {ex.Message}\n");
            return CannotRun;
        }

        using (child)
        {
            try
            {
                await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await StopChildAsync(child).ConfigureAwait(false);
            }

            return child.ExitCode;
        }
    }

    private static async Task StopChildAsync(Process child)
    {
        if (await ExitedWithinAsync(child, GraceBeforeTerm).ConfigureAwait(false))
        {
            return;
        }

        if (!OperatingSystem.IsWindows())
        {
            _ = Kill(child.Id, SigTerm);
            if (await ExitedWithinAsync(child, GraceBeforeKill).ConfigureAwait(false))
            {
                return;
            }
        }

        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static async Task<bool> ExitedWithinAsync(Process child, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await child.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The seed-001 session summary of this run's calls, then the detail per model × category, on stderr.</summary>
    private static void WriteSummary(CliContext context, SessionCostTracker sessions, string session, FlushResult flushed)
    {
        var accumulator = sessions.Get(session) ?? new SessionCostAccumulator();
        var text = new System.Text.StringBuilder($"[cage] session {session} usage: {accumulator.Summary()}\n");
        var detail = accumulator.Detail();
        if (detail.Count > 0)
        {
            text.Append("[cage] session usage detail:\n");
            foreach (var slot in detail)
            {
                text.Append("  ").Append(slot).Append('\n');
            }
        }

        if (flushed.Dropped > 0)
        {
            text.Append($"[cage] {flushed.Dropped} record(s) could not be written to the ledger; the summary misses them\n");
        }

        context.Error.Write(text.ToString());
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
