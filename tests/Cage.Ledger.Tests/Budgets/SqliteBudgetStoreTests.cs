using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Tests.Budgets;

public sealed class SqliteBudgetStoreTests
{
    // Saves, charges and the estimator round trip in the shared contract (Contract/BudgetStoreContractTests.cs).

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

    [Test]
    public async Task Open_Version8Ledger_MigratesToTheEstimatorTable_WhichStartsEmpty()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        File.Delete(test.Path);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            LedgerSchema.Migrate(connection, test.Path, 8); // the file before the estimator's state was stored
        }

        var reopened = test.Reopen();
        var store = new SqliteBudgetStore(reopened);
        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(await store.LoadEstimatorAsync(), Is.Null);
        await store.SaveEstimatorAsync("{\"windows\":{}}", DateTimeOffset.UnixEpoch);
        await store.SaveEstimatorAsync("{\"windows\":{\"5h\":null}}", DateTimeOffset.UnixEpoch.AddSeconds(1));
        Assert.That(await store.LoadEstimatorAsync(), Is.EqualTo("{\"windows\":{\"5h\":null}}"), "one row, replaced");
    }

    [Test]
    public async Task Open_Version6Ledger_MigratesToBudgetChargesKeepingItsBudgetState()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        File.Delete(test.Path);
        var day = new DateTimeOffset(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            LedgerSchema.Migrate(connection, test.Path, 6); // the file before spend without a ledger call was stored
            using var command = connection.CreateCommand();
            command.CommandText = $"INSERT INTO budget_state VALUES ('org', {day.ToUnixTimeMilliseconds()}, NULL, '[\"usd:1\"]', {day.ToUnixTimeMilliseconds()});";
            command.ExecuteNonQuery();
        }

        var reopened = test.Reopen();
        var store = new SqliteBudgetStore(reopened);

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That((await store.LoadAsync()).Single().WarningsFired, Is.EqualTo(new[] { "usd:1" }));
        Assert.That(await store.LoadChargesAsync(null), Is.Empty);
        await store.AddChargesAsync([new BudgetCharge("b_1", "org", day, null, day, 1m, 1, false)]);
        Assert.That(await store.LoadChargesAsync(day), Has.Count.EqualTo(1));
    }
}
