using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Tests.Budgets;

public sealed class SqliteBudgetStoreTests
{
    [Test]
    public async Task SaveAsync_ThenLoadInANewLedgerInstance_RoundTrips()
    {
        using var test = TestLedger.Create();
        var at = new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);
        var store = new SqliteBudgetStore(test.Ledger);
        await store.SaveAsync(new BudgetNodeState("org", DateTimeOffset.MinValue, null, ["usd:50%"], at));
        await store.SaveAsync(new BudgetNodeState("org/alice", at.Date, at, [], at));
        await store.SaveAsync(new BudgetNodeState("org", DateTimeOffset.MinValue, null, ["usd:50%", "usd:100%"], at.AddMinutes(1)));

        var loaded = await new SqliteBudgetStore(test.Reopen()).LoadAsync();

        Assert.That(loaded, Has.Count.EqualTo(2));
        Assert.That(loaded[0].Node, Is.EqualTo("org"));
        Assert.That(loaded[0].PeriodStart, Is.EqualTo(DateTimeOffset.MinValue));
        Assert.That(loaded[0].WarningsFired, Is.EqualTo(new[] { "usd:50%", "usd:100%" }));
        Assert.That(loaded[0].UpdatedAt, Is.EqualTo(at.AddMinutes(1)));
        Assert.That(loaded[1].ResetAt, Is.EqualTo(at));
        Assert.That(loaded[1].PeriodStart, Is.EqualTo(new DateTimeOffset(at.Date, TimeSpan.Zero)));
    }

    [Test]
    public async Task AddSqliteLedger_RegistersTheStoreInTheLedgerFileWhicheverOrder()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        foreach (var budgetsFirst in new[] { true, false })
        {
            var services = new ServiceCollection();
            var builder = services.AddCage(o => o.Metering.SetAsStaticDefault = false);
            if (budgetsFirst) builder.AddBudgets(o => o.Node("n").WarnAt(usd: 1m)).AddSqliteLedger(o => o.Path = test.Path);
            else builder.AddSqliteLedger(o => o.Path = test.Path).AddBudgets(o => o.Node("n").WarnAt(usd: 1m));
            await using var provider = services.BuildServiceProvider();

            Assert.That(provider.GetRequiredService<IBudgetStore>(), Is.InstanceOf<SqliteBudgetStore>());
            provider.GetRequiredService<BudgetGuard>().Charge(new BudgetScope(), 2m, 0);
            Assert.That((await provider.GetRequiredService<IBudgetStore>().LoadAsync()).Single().WarningsFired, Is.EqualTo(new[] { "usd:1" }));
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}

public sealed class LedgerSchemaBudgetMigrationTests
{
    [Test]
    public async Task Open_Version3Ledger_MigratesToTheLatestKeepingItsCalls()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        File.Delete(test.Path);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            LedgerSchema.Migrate(connection, test.Path, 3); // a genuine version-3 file (before budgets)
            using var command = connection.CreateCommand();
            command.CommandText =
                """
                INSERT INTO calls (id, ts_ms, provider, model, input, cache_read, cache_write_5m, cache_write_1h, output,
                                   cost_source, usage_status, latency_ms, ok, retries, attempt)
                VALUES ('c_v1', 1767225600000, 'anthropic', 'claude-opus-4-8', 10, 0, 0, 0, 5, 'catalog', 'reported', 1, 1, 0, 1);
                """;
            command.ExecuteNonQuery();
        }

        var reopened = test.Reopen();

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(await reopened.FindCallAsync("c_v1"), Is.Not.Null);
        Assert.That(await new SqliteBudgetStore(reopened).LoadAsync(), Is.Empty);
    }
}
