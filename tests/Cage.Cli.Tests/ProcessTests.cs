using System.Diagnostics;

namespace CageNet.Cli.Tests;

/// <summary>Runs the real executable once, end to end, in a separate process.</summary>
[TestFixture]
[Category("Process")]
public sealed class ProcessTests
{
    [Test]
    public async Task CageDll_DemoInATempFolder_Exits0AndShowsTheReport()
    {
        using var cli = new CliHarness();
        var dll = LocateCageDll();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = cli.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("demo");
        start.Environment.Remove("CAGE_LEDGER");
        start.Environment.Remove("CAGE_PRICES");

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.That(process.ExitCode, Is.EqualTo(0), await stderr);
        Assert.That(await stdout, Does.Contain(Fixtures.Output("report.txt")));
        Assert.That(File.Exists(cli.LedgerPath), Is.True);
    }

    internal static string LocateCageDll()
    {
        var here = AppContext.BaseDirectory;
        var candidates = new[]
        {
            Path.Combine(here, "cage.dll"),
            // Artifacts layout: bin/Cage.Cli.Tests/<config>/ next to bin/Cage.Cli/<config>/.
            Path.GetFullPath(Path.Combine(here, "..", "..", "Cage.Cli", new DirectoryInfo(here).Name, "cage.dll")),
        };

        var found = candidates.FirstOrDefault(c => File.Exists(c) && File.Exists(Path.ChangeExtension(c, ".runtimeconfig.json")));
        Assert.That(found, Is.Not.Null, "cage.dll (with its runtimeconfig) not found: " + string.Join(", ", candidates));
        return found!;
    }
}
