using CageNet.Ledger;
using CageNet.TestFixtures;

namespace CageNet.Tests.Contract;

/// <summary>The ledger contract on a SQLite file in a temporary folder.</summary>
public sealed class SqliteLedgerContractTests : LedgerContractTests
{
    private readonly Dictionary<ILedgerStore, TestLedger> _files = [];

    protected override Task<ILedgerStore> OpenAsync()
    {
        var test = TestLedger.Create();
        _files[test.Ledger] = test;
        return Task.FromResult<ILedgerStore>(test.Ledger);
    }

    protected override Task CloseAsync(ILedgerStore ledger)
    {
        if (_files.Remove(ledger, out var test))
        {
            test.Dispose();
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// The ledger contract on a real PostgreSQL server: the throwaway cluster of the test run (or <c>CAGE_TEST_POSTGRES</c>),
/// a new schema per test. When no server can be started the tests fail, saying why.
/// </summary>
public sealed class PostgresLedgerContractTests : LedgerContractTests
{
    private readonly Dictionary<ILedgerStore, string> _schemas = [];

    protected override async Task<ILedgerStore> OpenAsync()
    {
        var connectionString = await TestPostgres.NewSchemaAsync();
        var ledger = await PostgresLedger.OpenAsync(connectionString);
        _schemas[ledger] = connectionString;
        return ledger;
    }

    protected override async Task CloseAsync(ILedgerStore ledger)
    {
        await ((PostgresLedger)ledger).DisposeAsync();
        if (_schemas.Remove(ledger, out var connectionString))
        {
            await TestPostgres.DropSchemaAsync(connectionString);
        }
    }
}
