using CageNet.TestFixtures;

/// <summary>Once per test run: stops the throwaway PostgreSQL cluster, if a test started one.</summary>
[SetUpFixture]
public sealed class PostgresTestRun
{
    [OneTimeTearDown]
    public async Task StopPostgres() => await TestPostgres.StopAsync();
}
