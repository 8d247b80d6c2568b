using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace CageNet.AspNetCore.Tests;

/// <summary>The real <c>cage</c> tool, run as a process (<c>dotnet cage.dll …</c>).</summary>
internal static class CageProcess
{
    public static string Assembly
    {
        get
        {
            var path = typeof(CageProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CageAssembly").Value;
            Assert.That(path, Is.Not.Null.And.Not.Empty, "the test project records where the cage tool was built");
            return path!;
        }
    }

    public static ProcessStartInfo StartInfo(string folder, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
            StandardOutputEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(Assembly);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("CAGE_LEDGER");
        start.Environment.Remove("CAGE_PRICES");
        return start;
    }

    /// <summary>Runs one command to its end and returns its exit code, stdout and stderr.</summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string folder, params string[] args)
    {
        using var process = Process.Start(StartInfo(folder, args))!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Runs a command that must succeed and returns its stdout.</summary>
    public static async Task<string> OutputAsync(string folder, params string[] args)
    {
        var (exit, output, error) = await RunAsync(folder, args);
        Assert.That(exit, Is.Zero, $"cage {string.Join(' ', args)} failed: {error}");
        return output;
    }
}

/// <summary>A running <c>cage serve</c>: its base address, and its end (killed) on disposal.</summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServeProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<ServeProcess> StartAsync(string folder, params string[] args)
    {
        var process = Process.Start(CageProcess.StartInfo(folder, ["serve", "--port", "0", .. args]))!;
        var error = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (error) { error.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                await process.WaitForExitAsync(timeout.Token);
                string text;
                lock (error) { text = error.ToString(); }
                throw new InvalidOperationException($"cage serve exited ({process.ExitCode}) before it listened: {text}");
            }

            const string marker = "dashboard at ";
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                var url = line[(at + marker.Length)..].Split(' ')[0];
                return new ServeProcess(process, new Uri(url));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
