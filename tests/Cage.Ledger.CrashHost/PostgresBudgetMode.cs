using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;

namespace CageNet.Ledger.CrashHost;

/// <summary>
/// Usage: Cage.Ledger.CrashHost pgbudget &lt;connection-string&gt; contend &lt;process&gt; &lt;callers&gt; &lt;attempts&gt;
///     or Cage.Ledger.CrashHost pgbudget &lt;connection-string&gt; hold &lt;usd&gt; &lt;lease-ms&gt;
/// <c>contend</c>: <c>callers</c> concurrent loops each try <c>attempts</c> reservations of $0.01 on
/// org (cap $0.50, warnings at 50% and 80%) / team-(process % 2) (cap $0.30) / user-(process) (cap $0.20), settle each
/// admitted one at $0.01, and print "admitted N" and one "warning NODE THRESHOLD" line per warning this process got.
/// <c>hold</c>: reserves <c>usd</c> on org with the lease, prints "held", and waits to be killed.
/// </summary>
internal static class PostgresBudgetMode
{
    public static readonly DateTimeOffset Period = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    public static async Task<int> RunAsync(string[] args)
    {
        await using var ledger = await PostgresLedger.OpenAsync(args[0]);
        var reservations = new PostgresBudgetReservations(ledger);
        var org = new SharedBudgetNode("org", Period, 0.50m) { WarnAt = [0.5m, 0.8m] };
        if (args[1] == "hold")
        {
            var usd = decimal.Parse(args[2], CultureInfo.InvariantCulture);
            var held = await reservations.TryReserveAsync([org], usd, TimeSpan.FromMilliseconds(int.Parse(args[3], CultureInfo.InvariantCulture)));
            Console.WriteLine(held.Admitted ? "held" : "refused " + held.RefusedBy);
            await Task.Delay(Timeout.Infinite);
            return 0;
        }

        var process = int.Parse(args[2], CultureInfo.InvariantCulture);
        var callers = int.Parse(args[3], CultureInfo.InvariantCulture);
        var attempts = int.Parse(args[4], CultureInfo.InvariantCulture);
        SharedBudgetNode[] tree =
        [
            new($"org/team-{process % 2}/user-{process}", Period, 0.20m),
            new($"org/team-{process % 2}", Period, 0.30m),
            org,
        ];
        var admitted = 0;
        var warnings = new List<SharedBudgetWarning>();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < attempts; i++)
            {
                var result = await reservations.TryReserveAsync(tree, 0.01m, TimeSpan.FromSeconds(30));
                if (result.Reservation is { } reservation)
                {
                    Interlocked.Increment(ref admitted);
                    await Task.Delay(1); // the "call"
                    var fired = await reservations.SettleAsync(reservation, 0.01m);
                    lock (warnings)
                    {
                        warnings.AddRange(fired);
                    }
                }
            }
        })));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"admitted {admitted}"));
        foreach (var warning in warnings)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warning {warning.Node} {warning.Threshold}"));
        }

        return 0;
    }
}
