using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Ledger.CrashHost;

/// <summary>
/// Usage: Cage.Ledger.CrashHost meter &lt;ledger.db&gt; &lt;calls&gt; &lt;flush-every&gt;
/// Meters calls through the public path a host uses: a DI-built meter over the SQLite ledger, one
/// <c>Meter(...)</c> scope per call (provider request id <c>req_crash_NNNNNNNN</c>, so a re-run adds nothing), and
/// <c>FlushAsync</c> every &lt;flush-every&gt; calls. After a flush that reports nothing dropped it prints the index
/// of the last call metered before it (acknowledged); a flush that reports drops prints <c>lost N</c>.
/// Prints <c>done</c> at the end.
/// </summary>
internal static class MeterMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var path = args[0];
        var calls = int.Parse(args[1], NumberStyles.None, CultureInfo.InvariantCulture);
        var every = int.Parse(args[2], NumberStyles.None, CultureInfo.InvariantCulture);
        var output = Console.Out;

        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        for (var n = 0; n < calls; n++)
        {
            using (var m = meter.Meter("crash-meter", task: "crash-meter"))
            {
                m.Usage("anthropic", "claude-opus-4-8", input: 1000 + (n % 100), output: 100,
                    requestId: string.Create(CultureInfo.InvariantCulture, $"req_crash_{n:D8}"));
            }

            if ((n + 1) % every == 0 || n == calls - 1)
            {
                var result = await meter.FlushAsync();
                output.WriteLine(result.IsComplete
                    ? n.ToString(CultureInfo.InvariantCulture)
                    : string.Create(CultureInfo.InvariantCulture, $"lost {result.Dropped}"));
                output.Flush();
            }
        }

        output.WriteLine("done");
        output.Flush();
        return 0;
    }
}
