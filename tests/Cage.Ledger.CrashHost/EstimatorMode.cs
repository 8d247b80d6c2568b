using System.Globalization;
using CageNet.Budgets;
using CageNet.Budgets.Subscription;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Ledger.CrashHost;

/// <summary>
/// Usage: Cage.Ledger.CrashHost estimator &lt;ledger.db&gt; &lt;calls&gt; &lt;tokens&gt;
/// A host with the SQLite ledger and a subscription seat (<see cref="Tree"/>): takes a 5-hour utilization reading of
/// 10% (the estimator saves its state; prints <c>resets TIME</c>, the window's reset, round-trip format), then meters &lt;calls&gt; calls of &lt;tokens&gt; sonnet input tokens each (which
/// the estimator counts without saving), flushes the meter, prints <c>flushed</c> and waits for stdin to close, so a
/// test can kill it before anything saves the estimator again.
/// </summary>
internal static class EstimatorMode
{
    public static void Tree(BudgetOptions o) => o.Node("seat").CapTokens(BudgetLimit.PercentOfSubscription(50));

    public static async Task<int> RunAsync(string[] args)
    {
        var path = args[0];
        var calls = int.Parse(args[1], NumberStyles.None, CultureInfo.InvariantCulture);
        var tokens = int.Parse(args[2], NumberStyles.None, CultureInfo.InvariantCulture);

        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path).AddBudgets(Tree);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        var guard = provider.GetRequiredService<BudgetGuard>();
        var now = DateTimeOffset.UtcNow;
        var resets = now.AddHours(3);
        guard.Estimator.Observe(new SubscriptionSample("5h", 0.10, now, resets));
        Console.Out.WriteLine("resets " + resets.ToString("o", CultureInfo.InvariantCulture));

        for (var n = 0; n < calls; n++)
        {
            using var m = meter.Meter("estimator");
            m.Usage("anthropic", "claude-sonnet-4-5", input: tokens, output: 0, providerCost: 0.01m);
        }

        await meter.FlushAsync();
        Console.Out.WriteLine("flushed");
        Console.Out.Flush();
        await Console.In.ReadToEndAsync();
        return 0;
    }
}
