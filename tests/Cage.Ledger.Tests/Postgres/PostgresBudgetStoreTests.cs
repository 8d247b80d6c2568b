using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.TestFixtures;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Postgres;

/// <summary>What only the PostgreSQL budget store does: saves from several instances merge, and the DI registration shares it.</summary>
[NonParallelizable]
public sealed class PostgresBudgetStoreTests : PostgresSchemaTests
{
    private static readonly DateTimeOffset Month = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset At = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task SaveAsync_TwoInstancesSameReset_KeepBothInstancesWarnings()
    {
        await using var first = await PostgresLedger.OpenAsync(ConnectionString);
        await using var second = await PostgresLedger.OpenAsync(ConnectionString);
        var a = new PostgresBudgetStore(first);
        var b = new PostgresBudgetStore(second);

        await a.SaveAsync(new BudgetNodeState("org", Month, null, ["usd:50%"], At));
        await b.SaveAsync(new BudgetNodeState("org", Month, null, ["usd:80%"], At.AddMinutes(1))); // b never saw a's warning
        await a.SaveAsync(new BudgetNodeState("org", Month, null, ["usd:50%"], At.AddMinutes(2)));

        var state = (await b.LoadAsync()).Single();
        Assert.That(state.WarningsFired, Is.EqualTo(new[] { "usd:50%", "usd:80%" }));
        Assert.That(state.UpdatedAt, Is.EqualTo(At.AddMinutes(2)));
    }

    [Test]
    public async Task SaveAsync_AfterANewerReset_StaleSaveIsIgnored_NewerResetReplaces()
    {
        await using var first = await PostgresLedger.OpenAsync(ConnectionString);
        await using var second = await PostgresLedger.OpenAsync(ConnectionString);
        var a = new PostgresBudgetStore(first);
        var b = new PostgresBudgetStore(second);

        await a.SaveAsync(new BudgetNodeState("org", Month, null, ["usd:50%", "usd:80%"], At));
        await b.SaveAsync(new BudgetNodeState("org", Month, At.AddMinutes(1), [], At.AddMinutes(1))); // b resets the node
        await a.SaveAsync(new BudgetNodeState("org", Month, null, ["usd:50%", "usd:80%", "usd:100%"], At.AddMinutes(2))); // a has not seen it

        var afterReset = (await a.LoadAsync()).Single();
        await b.SaveAsync(new BudgetNodeState("org", Month, At.AddMinutes(1), ["usd:50%"], At.AddMinutes(3)));
        await a.SaveAsync(new BudgetNodeState("org", Month, At.AddMinutes(4), [], At.AddMinutes(4)));
        var afterSecondReset = (await b.LoadAsync()).Single();

        Assert.That((afterReset.ResetAt, afterReset.WarningsFired), Is.EqualTo((At.AddMinutes(1), Array.Empty<string>())));
        Assert.That((afterSecondReset.ResetAt, afterSecondReset.WarningsFired.Count), Is.EqualTo((At.AddMinutes(4), 0)));
    }

    [Test]
    public async Task AddPostgresLedger_RegistersTheSharedStoreWhicheverOrder_AndANewInstancesGuardStartsFromTheFleetsState()
    {
        var time = new FakeTimeProvider(At);
        foreach (var budgetsFirst in new[] { true, false })
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(time);
            var builder = services.AddCage(o => o.Metering.SetAsStaticDefault = false);
            if (budgetsFirst) builder.AddBudgets(o => o.Node("n").WarnAt(usd: 1m)).AddPostgresLedger(ConnectionString);
            else builder.AddPostgresLedger(ConnectionString).AddBudgets(o => o.Node("n").WarnAt(usd: 1m));
            await using var provider = services.BuildServiceProvider();

            Assert.That(provider.GetRequiredService<IBudgetStore>(), Is.InstanceOf<PostgresBudgetStore>());
            var guard = provider.GetRequiredService<BudgetGuard>(); // resolving it loads the store
            if (budgetsFirst)
            {
                guard.Charge(new BudgetScope(), 2m, 0); // the first instance crosses the warning and charges $2
                await WaitForAsync(async () => (await provider.GetRequiredService<IBudgetStore>().LoadChargesAsync(null)).Count == 1);
                await WaitForAsync(async () => (await provider.GetRequiredService<IBudgetStore>().LoadAsync()).Count == 1);
            }
            else
            {
                // The second instance starts from what the first saved: its spend and the warning already fired.
                var status = guard.GetStatus("n").Nodes.Single();
                Assert.That((status.Usd.Spent, status.WarningsFired), Is.EqualTo((2m, new[] { "usd:1" })));
            }
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100 && !await condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.That(await condition(), Is.True, "the guard's fail-open write reached the server");
    }
}
