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
    public async Task AddChargesAsync_ThenLoadChargesInANewLedgerInstance_RoundTripsIdempotently()
    {
        using var test = TestLedger.Create();
        var at = new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);
        var day = new DateTimeOffset(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);
        var store = new SqliteBudgetStore(test.Ledger);
        BudgetCharge[] charge =
        [
            new("b_1", "org", DateTimeOffset.MinValue, null, at, 0.0000000001m, 0, false),
            new("b_1", "org/alice", day, at.AddMinutes(-5), at, 1.25m, 300, true),
        ];
        await store.AddChargesAsync(charge);
        await store.AddChargesAsync(charge); // a retried write is a no-op
        await store.AddChargesAsync([new("b_2", "org/alice", day.AddDays(-1), null, at.AddDays(-1), 9m, 9, false)]);

        var reopened = new SqliteBudgetStore(test.Reopen());
        var current = await reopened.LoadChargesAsync(day);
        var all = await reopened.LoadChargesAsync(null);

        Assert.That(current, Is.EqualTo(charge), "lifetime rows always, others from their period start on");
        Assert.That(all.Select(c => c.Id), Is.EqualTo(new[] { "b_1", "b_2", "b_1" }));
        Assert.ThrowsAsync<CageValidationException>(async () => await reopened.AddChargesAsync([new("b_3", "org", day, null, at, -1m, 0, false)]));
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
