using System.Diagnostics;
using System.Text;

namespace CageNet.Packaging.Tests;

/// <summary>Runs the <c>dotnet</c> CLI as a child process and captures what it printed.</summary>
internal static class DotNet
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public string Describe() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
    }

    public static Result Run(string workingDirectory, TimeSpan timeout, params string[] arguments) =>
        RunWith(workingDirectory, timeout, new Dictionary<string, string>(), arguments);

    /// <summary>Runs with extra environment variables.</summary>
    public static Result RunWith(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The child must not inherit this test run's MSBuild / VSTest context, nor point at a ledger of ours.
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "VSTEST_HOST_DEBUG", "CAGE_LEDGER", "CAGE_PRICES", "CAGE_UPDATE_BASELINES" })
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDTERMINALLOGGER"] = "off";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (error) { error.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} did not finish within {timeout}:\n{output}\n{error}");
        }

        process.WaitForExit();
        return new Result(process.ExitCode, output.ToString(), error.ToString());
    }
}
