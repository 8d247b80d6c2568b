using CageNet.TestFixtures;
using Npgsql;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// <c>cage migrate</c> and PostgreSQL ledgers in the CLI, against the test run's throwaway PostgreSQL cluster (or
/// <c>CAGE_TEST_POSTGRES</c>): the worked example goes SQLite → PostgreSQL → SQLite and every <c>--json</c> view reads the
/// same on all three; passwords never appear in output.
/// </summary>
[TestFixture]
public sealed class MigrateCommandTests : PostgresSchemaTests
{
    private const string Canary = "canary-Pa55word";

    private static readonly string[][] Views =
    [
        ["report", "--json"], ["report", "--by", "model", "--json"], ["report", "--by", "day", "--json"], ["report", "--by", "task", "--json"],
        ["report", "--by", "agent", "--json"], ["report", "--since", "7d", "--json"], ["why", "c_s1call000001", "--json"],
        ["attrib", "--json"], ["matrix", "--json"], ["roi", "--json"], ["recommend", "--json"], ["quality", "--json"],
        ["regression", "--json"], ["forecast", "--json"], ["budget", "--json"],
    ];

    [Test]
    public async Task Migrate_WorkedExampleToPostgresAndBack_EveryJsonViewIsIdentical_AndAgainAddsNothing()
    {
        using var cli = new CliHarness();
        var import = await cli.RunAsync("import", Path.Combine(Fixtures.WorkedExample, "input"));
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
        var url = Url(ConnectionString, password: null);

        var there = await cli.RunAsync("migrate", "--to", url, "--json");
        var again = await cli.RunAsync("migrate", "--to", url, "--json");
        var back = cli.PathOf("back", "ledger.db");
        var home = await cli.RunAsync("migrate", "--ledger", url, "--to", back, "--json");

        Assert.That(there.ExitCode, Is.EqualTo(0), there.Err);
        Assert.That((there.Json().GetProperty("calls_added").GetInt32(), there.Json().GetProperty("receipts_added").GetInt32()), Is.EqualTo((1, 3)));
        Assert.That(again.ExitCode, Is.EqualTo(0), again.Err);
        Assert.That((again.Json().GetProperty("calls_added").GetInt32(), again.Json().GetProperty("receipts_added").GetInt32(),
            again.Json().GetProperty("calls_skipped").GetInt32(), again.Json().GetProperty("receipts_skipped").GetInt32()), Is.EqualTo((0, 0, 1, 3)));
        Assert.That(home.ExitCode, Is.EqualTo(0), home.Err);
        Assert.That(home.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(1));
        foreach (var view in Views)
        {
            var sqlite = await cli.RunAsync(view);
            var postgres = await cli.RunAsync([.. view, "--ledger", url]);
            var roundTrip = await cli.RunAsync([.. view, "--ledger", back]);
            var name = string.Join(' ', view);
            Assert.That(sqlite.ExitCode, Is.EqualTo(0), $"{name}: {sqlite.Err}");
            Assert.That(postgres.Out, Is.EqualTo(sqlite.Out), $"{name} on PostgreSQL: {postgres.Err}");
            Assert.That(roundTrip.Out, Is.EqualTo(sqlite.Out), $"{name} after the round trip: {roundTrip.Err}");
        }
    }

    [Test]
    public async Task PostgresLedger_PasswordInTheUrlOrFromAFile_NeverPrinted()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var passwordFile = cli.PathOf("pg-password");
        await File.WriteAllTextAsync(passwordFile, Canary + "\n");
        cli.Environment["CAGE_POSTGRES_PASSWORD_FILE"] = passwordFile;
        var closed = Url(ConnectionString, password: Canary, port: ClosedPort());

        var migrated = await cli.RunAsync("migrate", "--to", Url(ConnectionString, password: Canary), "--json");
        cli.Environment["CAGE_LEDGER"] = Url(ConnectionString, password: null); // the password comes from the file
        var report = await cli.RunAsync("report", "--json");
        var text = await cli.RunAsync("report");
        var unreachable = await cli.RunAsync("report", "--json", "--ledger", closed);
        var malformed = await cli.RunAsync("report", "--ledger", $"postgres://cage:{Canary}@127.0.0.1/postgres?bogus=1");
        var write = await cli.RunAsync("demo");

        Assert.That(migrated.ExitCode, Is.EqualTo(0), migrated.Err);
        Assert.That(migrated.Json().GetProperty("to").GetString(), Does.StartWith("postgres://cage@127.0.0.1:"));
        Assert.That(report.ExitCode, Is.EqualTo(0), report.Err);
        Assert.That(unreachable.ExitCode, Is.EqualTo(1));
        Assert.That(unreachable.Err, Does.Contain("postgres://cage@127.0.0.1:"));
        Assert.That(malformed.ExitCode, Is.EqualTo(2));
        Assert.That(malformed.Err, Does.Contain("'bogus'"));
        Assert.That(write.ExitCode, Is.EqualTo(2));
        Assert.That(write.Err, Does.Contain("cage migrate --to"));
        foreach (var run in new[] { migrated, report, text, unreachable, malformed, write })
        {
            Assert.That(run.Out + run.Err, Does.Not.Contain(Canary));
        }
    }

    // The schema's connection string as a postgres:// URL (the schema as the search path).
    private static string Url(string connectionString, string? password, int? port = null)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var user = password is null ? b.Username : $"{b.Username}:{Uri.EscapeDataString(password)}";
        return $"postgres://{user}@{b.Host}:{port ?? b.Port}/{b.Database}?Search%20Path={b.SearchPath}";
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
