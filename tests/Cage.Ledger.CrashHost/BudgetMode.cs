using System.Globalization;
using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Ledger.CrashHost;

/// <summary>
/// Usage: Cage.Ledger.CrashHost budget &lt;ledger.db&gt; &lt;calls&gt; [wait]
/// A host with the SQLite ledger and the budget tree of <see cref="Tree"/>: makes up to &lt;calls&gt; metered calls for
/// user alice ($0.10 each), each reserved first. Prints <c>warning NODE KEY</c> when a warning fires,
/// <c>admitted N</c> per call, <c>refused NODE</c> when refused (and stops), then flushes the meter and prints
/// <c>flushed</c>. With <c>wait</c> it then waits for stdin to close (so a test can kill it), else exits.
/// </summary>
internal static class BudgetMode
{
    public static void Tree(BudgetOptions o)
    {
        o.Node("team").CapUsd(5m).WarnAt(usd: 0.5m);
        o.Node("team/{user}").CapUsd(1m).Block();
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var path = args[0];
        var calls = int.Parse(args[1], NumberStyles.None, CultureInfo.InvariantCulture);
        var wait = args.Length > 2 && args[2] == "wait";
        var output = Console.Out;

        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path).AddBudgets(Tree);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        var guard = provider.GetRequiredService<BudgetGuard>();
        guard.Warning += (_, e) => { output.WriteLine($"warning {e.Node} {e.Threshold}"); output.Flush(); };

        for (var n = 0; n < calls; n++)
        {
            using var m = meter.Meter("durability", user: "alice");
            if (!guard.TryReserve(m, 0.1m, 0, out _, out var refusal))
            {
                output.WriteLine($"refused {refusal.Node} {refusal.StopReason}");
                break;
            }

            m.Usage("anthropic", "claude-sonnet-4-5", input: 100, output: 10, providerCost: 0.1m, requestId: Guid.NewGuid().ToString("N"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"admitted {n}"));
        }

        await meter.FlushAsync();
        output.WriteLine("flushed");
        output.Flush();
        if (wait)
        {
            await Console.In.ReadToEndAsync();
        }

        return 0;
    }
}
