namespace CageNet.TestFixtures;

/// <summary>A fixture whose every test gets a new, empty schema on the test server (<see cref="TestPostgres"/>), dropped afterwards.</summary>
public abstract class PostgresSchemaTests
{
    /// <summary>The connection string of the test's schema.</summary>
    protected string ConnectionString { get; private set; } = "";

    [SetUp]
    public async Task CreateSchema() => ConnectionString = await TestPostgres.NewSchemaAsync();

    [TearDown]
    public async Task DropSchema() => await TestPostgres.DropSchemaAsync(ConnectionString);
}
