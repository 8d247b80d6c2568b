using System.Collections;

namespace CageNet.Cli;

/// <summary>The process entry point: hands the real console, clock, folder and environment to <see cref="CageCli"/>.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl+C cancels the command cleanly; a second one kills the process.
            if (!cancel.IsCancellationRequested)
            {
                e.Cancel = true;
                cancel.Cancel();
            }
        };

        // SIGTERM (a service manager, `docker stop`, a parent process) stops as cleanly as Ctrl+C: `cage proxy` drains.
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cancel.Cancel();
        });

        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            // CAGE_* for every command; the home folder and CODEX_HOME for `cage hooks` (where the tools' user settings are).
            if (entry.Key is string key && (key.StartsWith("CAGE_", StringComparison.Ordinal) || key is "HOME" or "USERPROFILE" or "CODEX_HOME"))
            {
                environment[key] = entry.Value as string;
            }
        }

        return await CageCli.RunAsync(args, Console.Out, Console.Error, TimeProvider.System, Environment.CurrentDirectory, environment, errorIsTerminal: !Console.IsErrorRedirected, cancel.Token, Console.In)
            .ConfigureAwait(false);
    }
}
