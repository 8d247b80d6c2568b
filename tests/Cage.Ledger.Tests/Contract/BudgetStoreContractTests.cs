using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.TestFixtures;

namespace CageNet.Tests.Contract;

/// <summary>
/// The budget store contract every ledger provider's <see cref="IBudgetStore"/> and <see cref="IBudgetEstimatorStore"/>
/// meets, as one suite: what one instance saves, another instance over the same ledger loads. Each fixture supplies a
/// fresh ledger per test and opens stores over it (<see cref="OpenStoreAsync"/>): <see cref="SqliteBudgetStoreContractTests"/>
/// a SQLite file reopened, <see cref="PostgresBudgetStoreContractTests"/> a new schema on a real PostgreSQL server with
/// a second <see cref="PostgresLedger"/> on it.
/// </summary>
public abstract class BudgetStoreContractTests
{
    protected static readonly DateTimeOffset At = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);
    protected static readonly DateTimeOffset Day = new(2026, 6, 20, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A store over the test's ledger: each call opens a new instance of the ledger (as a restarted or second process would).</summary>
    protected abstract Task<IBudgetStore> OpenStoreAsync();

    [Test]
    public async Task SaveAsync_ThenLoadInAnotherInstance_RoundTrips()
    {
        var store = await OpenStoreAsync();
        await store.SaveAsync(new BudgetNodeState("org", DateTimeOffset.MinValue, null, ["usd:50%"], At));
        await store.SaveAsync(new BudgetNodeState("org/alice", Day, At, [], At));
        await store.SaveAsync(new BudgetNodeState("org", DateTimeOffset.MinValue, null, ["usd:50%", "usd:100%"], At.AddMinutes(1)));

        var loaded = await (await OpenStoreAsync()).LoadAsync();

        Assert.That(loaded, Has.Count.EqualTo(2));
        Assert.That(loaded[0].Node, Is.EqualTo("org"));
        Assert.That(loaded[0].PeriodStart, Is.EqualTo(DateTimeOffset.MinValue));
        Assert.That(loaded[0].WarningsFired, Is.EqualTo(new[] { "usd:50%", "usd:100%" }));
        Assert.That(loaded[0].UpdatedAt, Is.EqualTo(At.AddMinutes(1)));
        Assert.That(loaded[1].ResetAt, Is.EqualTo(At));
        Assert.That(loaded[1].PeriodStart, Is.EqualTo(Day));
    }

    [Test]
    public async Task AddChargesAsync_ThenLoadChargesInAnotherInstance_RoundTripsIdempotently()
    {
        var store = await OpenStoreAsync();
        BudgetCharge[] charge =
        [
            new("b_1", "org", DateTimeOffset.MinValue, null, At, 0.0000000001m, 0, false),
            new("b_1", "org/alice", Day, At.AddMinutes(-5), At, 1.25m, 300, true),
        ];
        await store.AddChargesAsync(charge);
        await store.AddChargesAsync(charge); // a retried write is a no-op
        await store.AddChargesAsync([new("b_2", "org/alice", Day.AddDays(-1), null, At.AddDays(-1), 9m, 9, false)]);

        var other = await OpenStoreAsync();
        var current = await other.LoadChargesAsync(Day);
        var all = await other.LoadChargesAsync(null);

        Assert.That(current, Is.EqualTo(charge), "lifetime rows always, others from their period start on");
        Assert.That(all.Select(c => c.Id), Is.EqualTo(new[] { "b_1", "b_2", "b_1" }));
        Assert.ThrowsAsync<CageValidationException>(async () => await other.AddChargesAsync([new("b_3", "org", Day, null, At, -1m, 0, false)]));
        Assert.That(await other.LoadChargesAsync(null), Has.Count.EqualTo(3), "the refused charge wrote nothing");
    }

    [Test]
    public async Task SaveEstimatorAsync_ThenLoadInAnotherInstance_TheLastSaveWins()
    {
        var store = (IBudgetEstimatorStore)await OpenStoreAsync();
        Assert.That(await store.LoadEstimatorAsync(), Is.Null);

        await store.SaveEstimatorAsync("{\"windows\":{}}", At);
        await store.SaveEstimatorAsync("{\"windows\":{\"5h\":null}}", At.AddSeconds(1));

        Assert.That(await ((IBudgetEstimatorStore)await OpenStoreAsync()).LoadEstimatorAsync(), Is.EqualTo("{\"windows\":{\"5h\":null}}"));
    }
}

/// <summary>The budget store contract on a SQLite ledger file, reopened for each store.</summary>
public sealed class SqliteBudgetStoreContractTests : BudgetStoreContractTests
{
    private TestLedger? _test;

    [SetUp]
    public void CreateLedger() => _test = TestLedger.Create();

    [TearDown]
    public void DeleteLedger()
    {
        _test?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    protected override Task<IBudgetStore> OpenStoreAsync() => Task.FromResult<IBudgetStore>(new SqliteBudgetStore(_test!.Reopen()));
}

/// <summary>The budget store contract on a real PostgreSQL server: a new schema per test, a new <see cref="PostgresLedger"/> for each store.</summary>
[NonParallelizable]
public sealed class PostgresBudgetStoreContractTests : BudgetStoreContractTests
{
    private readonly List<PostgresLedger> _ledgers = [];
    private string _connectionString = "";

    [SetUp]
    public async Task CreateSchema() => _connectionString = await TestPostgres.NewSchemaAsync();

    [TearDown]
    public async Task DropSchema()
    {
        foreach (var ledger in _ledgers)
        {
            await ledger.DisposeAsync();
        }

        _ledgers.Clear();
        await TestPostgres.DropSchemaAsync(_connectionString);
    }

    protected override async Task<IBudgetStore> OpenStoreAsync()
    {
        var ledger = await PostgresLedger.OpenAsync(_connectionString);
        _ledgers.Add(ledger);
        return new PostgresBudgetStore(ledger);
    }
}
