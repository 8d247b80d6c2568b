using System.Globalization;
using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CageNet.Ledger.CrashHost;

/// <summary>
/// Usage: Cage.Ledger.CrashHost pgguard &lt;connection-string&gt; &lt;process&gt; &lt;callers&gt; &lt;attempts&gt; shared|local
/// An app instance as a host builds it: <c>AddCage().AddPostgresLedger(cs).AddBudgets(…)</c> with org (cap $0.50 a month,
/// warnings at 50% and 80%) / org/{user} (cap $0.20). <c>callers</c> concurrent loops each make <c>attempts</c> metered calls
/// as user-(process): a scope, <see cref="BudgetGuard.TryReserveAsync(MeterScope, decimal, long, CancellationToken)"/>
/// of $0.01, and when admitted a usage of $0.01 that settles it. Prints "admitted N" and one "warning NODE THRESHOLD" line
/// per warning the guard raised in this process. <c>local</c> removes the fleet's reservations (each guard on its own
/// counters: the control).
/// </summary>
internal static class PostgresGuardMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var process = int.Parse(args[1], CultureInfo.InvariantCulture);
        var callers = int.Parse(args[2], CultureInfo.InvariantCulture);
        var attempts = int.Parse(args[3], CultureInfo.InvariantCulture);
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false)
            .AddPostgresLedger(args[0])
            .AddBudgets(o =>
            {
                o.Node("org").CapUsd(0.50m).Every(BudgetPeriod.Month).WarnAt(pct: [50, 80]).Block();
                o.Node("org/{user}").CapUsd(0.20m).Block();
            });
        if (args[4] == "local")
        {
            services.RemoveAll<ISharedBudgetReservations>();
        }

        var admitted = 0;
        var warnings = new List<string>();
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            var guard = provider.GetRequiredService<BudgetGuard>();
            guard.Warning += (_, e) =>
            {
                lock (warnings)
                {
                    warnings.Add($"warning {e.Node} {e.Threshold}");
                }
            };
            await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < attempts; i++)
                {
                    using var m = meter.Meter("chat", user: $"user-{process}");
                    var admission = await guard.TryReserveAsync(m, 0.01m, 1_100);
                    if (!admission.Admitted)
                    {
                        continue;
                    }

                    Interlocked.Increment(ref admitted);
                    await Task.Delay(1); // the call
                    m.Usage("anthropic", "claude-sonnet-4-5", input: 1_000, output: 100, providerCost: 0.01m);
                }
            })));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"admitted {admitted}"));
        foreach (var warning in warnings)
        {
            Console.WriteLine(warning);
        }

        return 0;
    }
}
