using System.Globalization;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.TestFixtures;
using CageNet.Tests.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Postgres;

/// <summary>
/// Budgets shared across processes on PostgreSQL: atomic check-and-hold of a whole tree, leases a killed process gives
/// back, settles counted once, warnings fired once for the fleet — in process with two "instances" on one database, and
/// with 4 real processes × 32 concurrent callers.
/// </summary>
[NonParallelizable]
public sealed class PostgresBudgetReservationsTests : PostgresSchemaTests
{
    private static readonly DateTimeOffset Period = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task TryReserve_TreeWithOneFullNode_HoldsNothingAnywhereAndNamesTheNode()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger, new FakeTimeProvider(Period.AddDays(1)));
        var user = new SharedBudgetNode("org/user-1", Period, 1.00m);
        var org = new SharedBudgetNode("org", Period, 0.10m);

        var first = await budgets.TryReserveAsync([user, org], 0.08m, TimeSpan.FromMinutes(1));
        var second = await budgets.TryReserveAsync([user, org], 0.05m, TimeSpan.FromMinutes(1));

        Assert.That(first.Admitted, Is.True);
        Assert.That((second.Admitted, second.RefusedBy), Is.EqualTo((false, "org")));
        Assert.That((second.RefusedSpentUsd, second.RefusedHeldUsd), Is.EqualTo(((decimal?)0m, (decimal?)0.08m)), "the refusing node's state comes with the refusal");
        Assert.That((first.RefusedSpentUsd, first.RefusedHeldUsd), Is.EqualTo(((decimal?)null, (decimal?)null)));
        Assert.That(await budgets.StateAsync("org/user-1", Period), Is.EqualTo((0m, 0.08m)), "the refused amount was held nowhere");
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0m, 0.08m)));
    }

    [Test]
    public async Task Settle_AddsTheActualCostOnce_AndReleaseFreesTheHoldWithoutSpend()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger, new FakeTimeProvider(Period.AddDays(1)));
        SharedBudgetNode[] tree = [new("org/user-1", Period, 1m), new("org", Period, 1m)];

        var settled = (await budgets.TryReserveAsync(tree, 0.30m, TimeSpan.FromMinutes(1))).Reservation!;
        var released = (await budgets.TryReserveAsync(tree, 0.20m, TimeSpan.FromMinutes(1))).Reservation!;
        await budgets.SettleAsync(settled, 0.25m);
        await budgets.SettleAsync(settled, 0.25m); // again: nothing more
        await budgets.ReleaseAsync(released);

        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0.25m, 0m)));
        Assert.That(await budgets.StateAsync("org/user-1", Period), Is.EqualTo((0.25m, 0m)));
    }

    [Test]
    public async Task TryReserve_AfterAHoldersLeaseRanOut_TakesItsHeadroomBack_AndALateSettleStillCounts()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var time = new FakeTimeProvider(Period.AddDays(1));
        var budgets = new PostgresBudgetReservations(ledger, time);
        SharedBudgetNode[] org = [new("org", Period, 1.00m)];

        var abandoned = (await budgets.TryReserveAsync(org, 0.90m, TimeSpan.FromSeconds(30))).Reservation!;
        var whileHeld = await budgets.TryReserveAsync(org, 0.50m, TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(31));
        var afterLease = await budgets.TryReserveAsync(org, 0.50m, TimeSpan.FromSeconds(30));
        await budgets.SettleAsync(abandoned, 0.40m); // the call it held for did finish, late

        Assert.That(whileHeld.RefusedBy, Is.EqualTo("org"));
        Assert.That(afterLease.Admitted, Is.True);
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0.40m, 0.50m)));
    }

    [Test]
    public async Task Settle_TwoInstancesCrossingTheSameThreshold_OnlyOneGetsTheWarning()
    {
        await using var first = await PostgresLedger.OpenAsync(ConnectionString);
        await using var second = await PostgresLedger.OpenAsync(ConnectionString);
        var time = new FakeTimeProvider(Period.AddDays(1));
        var a = new PostgresBudgetReservations(first, time);
        var b = new PostgresBudgetReservations(second, time);
        SharedBudgetNode[] org = [new("org", Period, 1.00m) { WarnAt = [0.5m, 0.8m] }];

        var fired = new List<SharedBudgetWarning>();
        foreach (var (budgets, usd) in new[] { (a, 0.3m), (b, 0.3m), (a, 0.1m), (b, 0.2m), (a, 0.05m) })
        {
            var reservation = (await budgets.TryReserveAsync(org, usd, TimeSpan.FromMinutes(1))).Reservation!;
            fired.AddRange(await budgets.SettleAsync(reservation, usd));
        }

        Assert.That(fired, Is.EqualTo(new[] { new SharedBudgetWarning("org", 0.5m), new SharedBudgetWarning("org", 0.8m) }));
    }

    [Test]
    public async Task SixtyFourConcurrentCallersOnOneInstance_ShareRoundTrips_AdmitExactlyTheSmallestCap_AndEachWarningGoesToOneSettle()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger, new FakeTimeProvider(Period.AddDays(1)));
        var team = new SharedBudgetNode("org/team", Period, 0.30m) { WarnAt = [0.5m, 1m] };
        var org = new SharedBudgetNode("org", Period, 0.50m);
        await budgets.TryReserveAsync([team, org], 0m, TimeSpan.FromMinutes(1)); // the counters exist: every later round trip decides

        var results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
            budgets.TryReserveAsync([new($"org/team/user-{i}", Period, 1m), team, org], 0.01m, TimeSpan.FromMinutes(1)))));
        var afterReserves = budgets.RoundTrips;
        var held = await budgets.StateAsync("org/team", Period);
        var warnings = (await Task.WhenAll(results.Where(r => r.Admitted).Select(r => Task.Run(() => budgets.SettleAsync(r.Reservation!, 0.01m)))))
            .Where(w => w.Count > 0).ToList();
        var settleTrips = budgets.RoundTrips;

        // $0.30 at the team in $0.01 reservations: 30 of the 64 fit; each refused one names the team, the first full node.
        Assert.That(results.Count(r => r.Admitted), Is.EqualTo(30));
        Assert.That(results.Where(r => !r.Admitted).Select(r => r.RefusedBy).Distinct(), Is.EqualTo(new[] { "org/team" }));
        Assert.That(results.Where(r => !r.Admitted).Select(r => (r.RefusedSpentUsd, r.RefusedHeldUsd)).Distinct(),
            Is.EqualTo(new[] { ((decimal?)0m, (decimal?)0.30m) }), "each refusal, batched or not, carries the team's holds at the time it was decided");
        Assert.That(held, Is.EqualTo((0m, 0.30m)));
        Assert.That(afterReserves.CombinedReserves, Is.GreaterThan(0), "some round trips carried several reservations");
        Assert.That(afterReserves.Reserves, Is.LessThan(65));
        Assert.That(settleTrips.CombinedSettles, Is.GreaterThan(0), "some round trips carried several settles");
        Assert.That(await budgets.StateAsync("org/team", Period), Is.EqualTo((0.30m, 0m)));
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0.30m, 0m)));
        Assert.That(await budgets.StateAsync("org/team/user-7", Period), Is.EqualTo(results[7].Admitted ? (0.01m, 0m) : (0m, 0m)));
        Assert.That(warnings.Select(w => w.Count), Is.All.EqualTo(1), "one threshold per settle: each crossing is its own settle");
        Assert.That(warnings.SelectMany(w => w).Order(Comparer<SharedBudgetWarning>.Create((x, y) => x.Threshold.CompareTo(y.Threshold))),
            Is.EqualTo(new[] { new SharedBudgetWarning("org/team", 0.5m), new SharedBudgetWarning("org/team", 1m) }));
    }

    [Test]
    public async Task TwoInstancesSettlingAndReservingAcrossTwoTrees_MixedRoundTrips_AdmitExactlyEachCap_WithoutDeadlock()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var instances = new[] { new PostgresBudgetReservations(ledger), new PostgresBudgetReservations(ledger) };
        SharedBudgetNode[] Tree(string root, int caller) =>
            [new($"{root}/team/user-{caller}", Period, 1m), new($"{root}/team", Period, 1m), new(root, Period, 0.50m)];

        // 2 instances x 16 callers, each 20 times reserve $0.01 then settle it, alternating the trees (roots a and b) from one
        // attempt to the next and between neighbours, so that a round trip often settles on one tree and reserves on the other.
        var admitted = await Task.WhenAll(instances.SelectMany(budgets => Enumerable.Range(0, 16).Select(c => Task.Run(async () =>
        {
            var trees = new[] { Tree("a", c), Tree("b", c) };
            var (onA, onB) = (0, 0);
            for (var i = 0; i < 20; i++)
            {
                var result = await budgets.TryReserveAsync(trees[(c + i) % 2], 0.01m, TimeSpan.FromMinutes(1));
                if (result.Admitted)
                {
                    await budgets.SettleAsync(result.Reservation!, 0.01m);
                    (onA, onB) = (c + i) % 2 == 0 ? (onA + 1, onB) : (onA, onB + 1);
                }
            }

            return (onA, onB);
        }))));

        // $0.50 at each root in $0.01 reservations settled at $0.01: exactly 50 of the 320 attempts on each tree fit.
        Assert.That(admitted.Sum(a => a.onA), Is.EqualTo(50));
        Assert.That(admitted.Sum(a => a.onB), Is.EqualTo(50));
        Assert.That(await State(instances[0], "a"), Is.EqualTo((0.50m, 0m)));
        Assert.That(await State(instances[0], "b"), Is.EqualTo((0.50m, 0m)));
        Assert.That(instances.Sum(b => b.RoundTrips.Mixed), Is.GreaterThan(0), "some round trips settled and reserved together");
        Assert.That(instances.Sum(b => b.RoundTrips.Reserves), Is.LessThan(640), "reserves shared round trips");

        static Task<(decimal SpentUsd, decimal HeldUsd)> State(PostgresBudgetReservations b, string node) => b.StateAsync(node, Period);
    }

    [Test]
    public async Task ConcurrentCallersAfterAHoldersLeaseRanOut_TheCombinedRoundTripReclaimsIt_AndAdmitsUpToTheCap()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var time = new FakeTimeProvider(Period.AddDays(1));
        var budgets = new PostgresBudgetReservations(ledger, time);
        SharedBudgetNode[] org = [new("org", Period, 1.00m)];
        await budgets.TryReserveAsync(org, 0.90m, TimeSpan.FromSeconds(30)); // never settled
        time.Advance(TimeSpan.FromSeconds(31));

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => budgets.TryReserveAsync(org, 0.25m, TimeSpan.FromSeconds(30)))));

        Assert.That(results.Count(r => r.Admitted), Is.EqualTo(4), "the expired $0.90 is back: four $0.25 fit in $1.00");
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0m, 1.00m)));
        Assert.That(budgets.RoundTrips.CombinedReserves, Is.GreaterThan(0));
    }

    [Test]
    public async Task CallerCancelledWhileItsReservationIsQueued_GetsCancelled_AndNothingStaysHeldForIt()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger, new FakeTimeProvider(Period.AddDays(1)));
        SharedBudgetNode[] org = [new("org", Period, 100m)];
        await budgets.TryReserveAsync(org, 0m, TimeSpan.FromMinutes(1));
        using var cancel = new CancellationTokenSource();

        var others = Enumerable.Range(0, 8).Select(_ => budgets.TryReserveAsync(org, 1m, TimeSpan.FromMinutes(1))).ToList();
        var cancelled = budgets.TryReserveAsync(org, 5m, TimeSpan.FromMinutes(1), cancel.Token);
        await cancel.CancelAsync();
        Assert.ThrowsAsync<TaskCanceledException>(async () => await cancelled);
        foreach (var other in await Task.WhenAll(others))
        {
            await budgets.ReleaseAsync(other.Reservation!);
        }

        var state = await budgets.StateAsync("org", Period);
        for (var i = 0; i < 100 && state.HeldUsd != 0; i++)
        {
            await Task.Delay(20); // the release of an admitted but abandoned reservation follows its round trip
            state = await budgets.StateAsync("org", Period);
        }

        Assert.That(state, Is.EqualTo((0m, 0m)));
    }

    [Test]
    public async Task FourProcessesTimes32Callers_SmallCap_NoOvershootAndEveryWarningOnce([Values(4)] int processes)
    {
        var hosts = Enumerable.Range(0, processes)
            .Select(p => SqliteLedgerCrashTests.StartHost("pgbudget", ConnectionString, "contend", p.ToString(CultureInfo.InvariantCulture), "32", "3"))
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

        var lines = outputs.SelectMany(o => o.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        var admitted = lines.Where(l => l.StartsWith("admitted ", StringComparison.Ordinal)).Sum(l => int.Parse(l[9..], CultureInfo.InvariantCulture));
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger);

        // $0.50 at the org in $0.01 reservations: exactly 50 of the 384 attempts fit, and they all did.
        Assert.That(admitted, Is.EqualTo(50));
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0.50m, 0m)), "0 overshoot, nothing left held");
        var teams = await Task.WhenAll(new[] { "org/team-0", "org/team-1" }.Select(t => budgets.StateAsync(t, Period)));
        Assert.That(teams.Select(t => t.SpentUsd), Is.All.LessThanOrEqualTo(0.30m));
        Assert.That(teams.Sum(t => t.SpentUsd), Is.EqualTo(0.50m));
        Assert.That(lines.Where(l => l.StartsWith("warning ", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "warning org 0.5", "warning org 0.8" }), "each threshold fired once across the four processes");
    }

    [Test]
    public async Task KilledProcessHoldingAReservation_ItsHeadroomComesBackAfterTheLease()
    {
        // A 10 s lease: long enough that the check below runs inside it on a loaded 2-core machine (kill, open, reserve).
        var lease = TimeSpan.FromSeconds(10);
        using var holder = SqliteLedgerCrashTests.StartHost("pgbudget", ConnectionString, "hold", "0.40", lease.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(await holder.StandardOutput.ReadLineAsync(), Is.EqualTo("held"), await Task.Run(() => holder.HasExited ? holder.StandardError.ReadToEnd() : ""));
        var sinceHeld = System.Diagnostics.Stopwatch.StartNew(); // the lease began just before "held"
        holder.Kill(entireProcessTree: true); // SIGKILL: it never settles or releases
        await holder.WaitForExitAsync();
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger);
        SharedBudgetNode[] org = [new("org", Period, 0.50m)];

        var whileLeased = await budgets.TryReserveAsync(org, 0.40m, TimeSpan.FromSeconds(30));
        var checkedAt = sinceHeld.Elapsed;
        var wait = lease + TimeSpan.FromMilliseconds(300) - sinceHeld.Elapsed;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        var afterLease = await budgets.TryReserveAsync(org, 0.40m, TimeSpan.FromSeconds(30));

        Assert.That(checkedAt, Is.LessThan(lease), "the first check ran inside the dead process's lease");

        Assert.That(whileLeased.RefusedBy, Is.EqualTo("org"), "the dead process's hold still counts until its lease ends");
        Assert.That(afterLease.Admitted, Is.True, "after the lease, its headroom is back");
    }

    [Test]
    public async Task ServerStopped_FailOpenAdmitsHoldingNothing_FailClosedRefuses_BothNamingTheFault_AndHoldsResumeAfterRestart()
    {
        var cluster = TestPostgres.Throwaway
            ?? throw new InvalidOperationException($"this test stops and restarts the server: it needs the throwaway cluster, not {TestPostgres.Variable}");
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var open = new PostgresBudgetReservations(ledger);
        var closed = new PostgresBudgetReservations(ledger) { FailClosed = true };
        SharedBudgetNode[] org = [new("org", Period, 1.00m)];
        var before = (await open.TryReserveAsync(org, 0.10m, TimeSpan.FromMinutes(1))).Reservation!;

        SharedReserveResult admitted, refused;
        IOException? settleFault;
        await Task.Delay(1000); // holds commit without waiting for the WAL flush: give the WAL writer (≤ 3 × 200 ms) time before the crash
        await cluster.StopServerAsync(); // immediate: a crash
        try
        {
            admitted = await open.TryReserveAsync(org, 0.10m, TimeSpan.FromMinutes(1));
            refused = await closed.TryReserveAsync(org, 0.10m, TimeSpan.FromMinutes(1));
            settleFault = Assert.ThrowsAsync<IOException>(async () => await open.SettleAsync(before, 0.10m));
            Assert.That(await open.SettleAsync(admitted.Reservation!, 0.10m), Is.Empty, "an unheld reservation settles without the server");
        }
        finally
        {
            await cluster.StartServerAsync();
        }

        Assert.That((admitted.Admitted, admitted.Reservation!.Held, admitted.Fault), Is.EqualTo((true, false, admitted.Fault)));
        Assert.That(admitted.Fault, Does.Contain(ledger.Where));
        Assert.That((refused.Admitted, refused.RefusedBy), Is.EqualTo((false, (string?)null)));
        Assert.That(refused.Fault, Does.Contain(ledger.Where));
        Assert.That(settleFault!.Message, Does.Contain(ledger.Where));

        // Back: the next reservations are held on the server again (a pooled connection broken by the restart may fail once).
        SharedReserveResult after = await open.TryReserveAsync(org, 0.50m, TimeSpan.FromMinutes(1));
        if (after.Fault is not null)
        {
            after = await open.TryReserveAsync(org, 0.50m, TimeSpan.FromMinutes(1));
        }

        Assert.That((after.Admitted, after.Reservation!.Held, after.Fault), Is.EqualTo((true, true, (string?)null)));
        Assert.That(await open.StateAsync("org", Period), Is.EqualTo((0m, 0.60m)), "the hold from before the stop and the new one");
    }

    [Test]
    public async Task Step3Migration_StepTwoHoldsBecomeLeases_PartlyReclaimedOnesGiveTheirRestBack_AndSettleAsBefore()
    {
        await using (var connection = new Npgsql.NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await PostgresSchema.MigrateAsync(connection, "test", 2, CancellationToken.None); // the step-2 schema and its functions
            var now = Period.AddDays(1).ToUnixTimeMilliseconds();
            await using var command = new Npgsql.NpgsqlCommand(
                $"""
                SELECT cage_budget_reserve('live', ARRAY['org', 'org/a'], ARRAY[{Period.ToUnixTimeMilliseconds()}, {Period.ToUnixTimeMilliseconds()}]::bigint[],
                                           ARRAY[10000000000, 10000000000]::bigint[], 3000000000, {now}, 60000);
                SELECT cage_budget_reserve('partly', ARRAY['org', 'org/b'], ARRAY[{Period.ToUnixTimeMilliseconds()}, {Period.ToUnixTimeMilliseconds()}]::bigint[],
                                           ARRAY[10000000000, 10000000000]::bigint[], 2000000000, {now}, 60000);
                -- as step 2 reclaimed an expired hold: on org only, so far
                UPDATE budget_holds SET reclaimed = true WHERE id = 'partly' AND node = 'org';
                UPDATE budget_counters SET held_e10 = held_e10 - 2000000000 WHERE node = 'org';
                """, connection);
            await command.ExecuteNonQueryAsync();
        }

        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        var budgets = new PostgresBudgetReservations(ledger, new FakeTimeProvider(Period.AddDays(1)));
        var org = new SharedBudgetNode("org", Period, 1m);
        var stateAfterMigration = await Task.WhenAll(new[] { "org", "org/a", "org/b" }.Select(n => budgets.StateAsync(n, Period)));
        await budgets.SettleAsync(new SharedReservation("live", [org, new("org/a", Period, 1m)], 0.30m, Period.AddDays(1)), 0.25m);
        await budgets.SettleAsync(new SharedReservation("partly", [org, new("org/b", Period, 1m)], 0.20m, Period.AddDays(1)), 0.15m);

        Assert.That(ledger.SchemaVersion, Is.EqualTo(PostgresSchema.LatestVersion));
        Assert.That(stateAfterMigration, Is.EqualTo(new[] { (0m, 0.30m), (0m, 0.30m), (0m, 0m) }), "the partly reclaimed hold is off org/b too");
        Assert.That(await budgets.StateAsync("org", Period), Is.EqualTo((0.40m, 0m)));
        Assert.That(await budgets.StateAsync("org/a", Period), Is.EqualTo((0.25m, 0m)));
        Assert.That(await budgets.StateAsync("org/b", Period), Is.EqualTo((0.15m, 0m)), "a late settle of a reclaimed lease still counts its cost");
    }
}
