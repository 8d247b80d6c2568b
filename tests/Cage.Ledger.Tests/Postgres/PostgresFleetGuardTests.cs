using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.TestFixtures;
using CageNet.Tests.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Postgres;

/// <summary>
/// The in-process budget guard enforcing a fleet's caps through the PostgreSQL reservations: app instances built with
/// <c>AddPostgresLedger()</c> + <c>AddBudgets()</c>, in four real processes and in process, on a real server.
/// </summary>
[NonParallelizable]
public sealed class PostgresFleetGuardTests : PostgresSchemaTests
{
    private static readonly DateTimeOffset Saturday = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Today = new(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);

    private static async Task<List<string>> RunHostsAsync(string connectionString, string mode)
    {
        // 4 processes × 16 callers × 6 attempts = 384 calls of $0.01 as user-0 … user-3.
        var hosts = Enumerable.Range(0, 4)
            .Select(p => SqliteLedgerCrashTests.StartHost("pgguard", connectionString, p.ToString(CultureInfo.InvariantCulture), "16", "6", mode))
            .ToList();
        var outputs = await Task.WhenAll(hosts.Select(async host =>
        {
            var output = await host.StandardOutput.ReadToEndAsync();
            var errors = await host.StandardError.ReadToEndAsync();
            await host.WaitForExitAsync();
            Assert.That(host.ExitCode, Is.Zero, errors);
            return output;
        }));
        foreach (var host in hosts)
        {
            host.Dispose();
        }

        return [.. outputs.SelectMany(o => o.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
    }

    private static int Admitted(List<string> lines) =>
        lines.Where(l => l.StartsWith("admitted ", StringComparison.Ordinal)).Sum(l => int.Parse(l[9..], CultureInfo.InvariantCulture));

    private static async Task<decimal> MeteredUsdAsync(string connectionString)
    {
        await using var ledger = await PostgresLedger.OpenAsync(connectionString);
        var total = 0m;
        await foreach (var call in ledger.ReadCallsAsync(TimeWindow.All))
        {
            total += call.CostUsd ?? 0m;
        }

        return total;
    }

    [Test]
    public async Task FourAppProcesses_GuardsSharingTheLedger_AdmitExactlyTheOrgCap_AndWarnOnceForTheFleet()
    {
        var lines = await RunHostsAsync(ConnectionString, "shared");

        // $0.50 at the org in $0.01 calls: 50 of the 384 fit (each user alone could have had 20), and exactly those ran.
        Assert.That(Admitted(lines), Is.EqualTo(50));
        Assert.That(await MeteredUsdAsync(ConnectionString), Is.EqualTo(0.50m), "the ledger's metered spend: 0 overshoot");
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var now = DateTimeOffset.UtcNow;
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.That(await new PostgresBudgetReservations(ledger).StateAsync("org", month), Is.EqualTo((0.50m, 0m)), "settled, nothing left held");
        Assert.That(lines.Where(l => l.StartsWith("warning org ", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "warning org usd:100%", "warning org usd:50%", "warning org usd:80%" }), "each threshold once across the four processes");
    }

    [Test]
    public async Task FourAppProcesses_WithoutTheFleetsReservations_EachEnforcesAlone_AndTogetherOvershoot()
    {
        var lines = await RunHostsAsync(ConnectionString, "local");

        // The control: each process holds its user to $0.20 and sees only its own org spend, so 4 × 20 calls ran.
        Assert.That(Admitted(lines), Is.EqualTo(80));
        Assert.That(await MeteredUsdAsync(ConnectionString), Is.EqualTo(0.80m));
    }

    [Test]
    public async Task TwoInstancesInProcess_TheSecondIsRefusedWithTheFleetsSpend_AndTheWarningFiresOnTheOneThatCrossed()
    {
        var time = new FakeTimeProvider(Saturday);
        ServiceProvider Instance()
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(time);
            services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddPostgresLedger(ConnectionString)
                .AddBudgets(o => o.Node("org").CapUsd(1m).Every(BudgetPeriod.Day).WarnAt(pct: [50]).Block());
            return services.BuildServiceProvider();
        }

        await using var a = Instance();
        await using var b = Instance();
        var guardA = a.GetRequiredService<BudgetGuard>();
        var guardB = b.GetRequiredService<BudgetGuard>();
        Assert.That(guardA.Shared, Is.Not.Null, "AddPostgresLedger + AddBudgets share the fleet's reservations");
        var warnedA = new List<string>();
        var warnedB = new List<string>();
        guardA.Warning += (_, e) => warnedA.Add(e.Message);
        guardB.Warning += (_, e) => warnedB.Add(e.Message);

        using (var m = a.GetRequiredService<ICageMeter>().Meter("chat"))
        {
            Assert.That((await guardA.TryReserveAsync(m, 0.6m, 1_000)).Admitted, Is.True);
            m.Usage("anthropic", "claude-sonnet-4-5", input: 1_000, output: 100, providerCost: 0.6m);
        }

        Assert.That(guardA.WaitForSharedSettles(TimeSpan.FromSeconds(30)), Is.True);
        BudgetAdmission refused, admitted;
        using (var m = b.GetRequiredService<ICageMeter>().Meter("chat"))
        {
            refused = await guardB.TryReserveAsync(m, 0.6m, 1_000);
            admitted = await guardB.TryReserveAsync(m, 0.3m, 1_000);
            m.Usage("anthropic", "claude-sonnet-4-5", input: 1_000, output: 100, providerCost: 0.3m);
        }

        Assert.That(guardB.WaitForSharedSettles(TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(refused.Admitted, Is.False, "b's own counters were empty; the fleet had spent $0.60");
        Assert.That(refused.Refusal!.Message, Does.StartWith("budget 'org' is exhausted across the fleet: spent $0.600000 of $1.000000, this call needs $0.600000"));
        Assert.That(admitted.Admitted, Is.True);
        Assert.That(warnedA, Has.Count.EqualTo(1).And.One.Contains("crossed 50% of its $1.000000 cap across the fleet"));
        Assert.That(warnedB, Is.Empty, "the fleet fired 50% once, on a's settle");
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        Assert.That(await new PostgresBudgetReservations(ledger).StateAsync("org", Today), Is.EqualTo((0.9m, 0m)));
    }

    [Test]
    public async Task TheFirstSharedReservationOfAPeriod_StartsFromTheSpendTheGuardKnew()
    {
        var time = new FakeTimeProvider(Saturday);
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var options = new BudgetOptions();
        options.Node("org").CapUsd(1m).Every(BudgetPeriod.Day).Block();
        using var guard = new BudgetGuard(options, time) { Shared = new PostgresBudgetReservations(ledger, time) };
        guard.Charge(default, 0.7m, 0); // spent before the fleet shared the counter (a ledger replayed at start-up)

        var first = await guard.TryReserveAsync(new BudgetScope(), 0.2m, 0);
        Assert.That(first.Admitted, Is.True);
        Assert.That(await new PostgresBudgetReservations(ledger).StateAsync("org", Today), Is.EqualTo((0.7m, 0.2m)), "seeded with the $0.70 the guard knew");

        // A second instance that knew nothing of that spend is still refused: the shared counter carries it.
        using var other = new BudgetGuard(options, time) { Shared = new PostgresBudgetReservations(ledger, time) };
        var refused = await other.TryReserveAsync(new BudgetScope(), 0.2m, 0);
        first.Reservation!.Dispose();

        Assert.That(refused.Admitted, Is.False);
        Assert.That(refused.Refusal!.Message, Does.Contain("exhausted across the fleet"));
    }

    [Test]
    public async Task ServerStopped_TheGuardIsFailOpenOnItsOwnCounters_OrFailsClosed_AndSharesAgainWhenItIsBack()
    {
        var cluster = TestPostgres.Throwaway
            ?? throw new InvalidOperationException($"this test stops and restarts the server: it needs the throwaway cluster, not {TestPostgres.Variable}");
        var time = new FakeTimeProvider(Saturday);
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var logger = new FakeLogger();
        BudgetGuard Guard(bool failClosed)
        {
            var options = new BudgetOptions { FailClosed = failClosed };
            options.Node("org").CapUsd(1m).Every(BudgetPeriod.Day).Block();
            return new BudgetGuard(options, time, logger: failClosed ? null : logger) { Shared = new PostgresBudgetReservations(ledger, time) };
        }

        using var open = Guard(failClosed: false);
        using var closed = Guard(failClosed: true);
        (await open.TryReserveAsync(new BudgetScope(), 0.1m, 0)).Reservation!.Settle(0.1m);
        Assert.That(open.WaitForSharedSettles(TimeSpan.FromSeconds(30)), Is.True);

        BudgetAdmission whileDownOpen, whileDownClosed;
        await Task.Delay(1000); // let the WAL writer flush the settle before the crash
        await cluster.StopServerAsync();
        try
        {
            whileDownOpen = await open.TryReserveAsync(new BudgetScope(), 0.2m, 0);
            whileDownClosed = await closed.TryReserveAsync(new BudgetScope(), 0.2m, 0);
            whileDownOpen.Reservation?.Settle(0.2m); // counted here; nothing was held there
            Assert.That(open.WaitForSharedSettles(TimeSpan.FromSeconds(30)), Is.True);
        }
        finally
        {
            await cluster.StartServerAsync();
        }

        Assert.That(whileDownOpen.Admitted, Is.True, "fail-open");
        Assert.That(open.GetStatus("org").Nodes.Single(n => n.Path == "org").Usd.Spent, Is.EqualTo(0.3m));
        Assert.That(logger.Collector.GetSnapshot().Where(r => r.Id.Id == 1114).Select(r => r.Message),
            Has.One.Contains(ledger.Where).And.One.Contains("admitted on this process's counters alone"));
        Assert.That(whileDownClosed.Admitted, Is.False);
        Assert.That(whileDownClosed.Refusal!.Message, Does.Contain("could not be reached and the guard fails closed").And.Contain(ledger.Where));

        // Back: held on the server again (a pooled connection broken by the restart may fail once, fail-open).
        var after = await open.TryReserveAsync(new BudgetScope(), 0.5m, 0);
        if (logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1114) > 1)
        {
            after.Reservation?.Dispose();
            after = await open.TryReserveAsync(new BudgetScope(), 0.5m, 0);
        }

        Assert.That(after.Admitted, Is.True);
        Assert.That(await new PostgresBudgetReservations(ledger).StateAsync("org", Today), Is.EqualTo((0.1m, 0.5m)), "the fleet's spend from before the stop, and the new hold");
    }
}
