using CageNet.Budgets;
using Microsoft.Extensions.Configuration;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// Issue 12 D: <c>cage budget --config appsettings.json</c> reports a host's budget tree (its <c>Cage:Budgets</c>
/// section, the one <c>AddBudgets</c> binds) over the ledger; a missing or invalid file is exit 2 naming it.
/// </summary>
[TestFixture]
public sealed class BudgetConfigTests
{
    // An ASP.NET appsettings.json: logging, other sections, a comment and a trailing comma, as the JSON provider allows.
    private const string AppSettings = """
        {
          "Logging": { "LogLevel": { "Default": "Information" } },
          "AllowedHosts": "*",
          // The app's budgets, as services.AddCage().AddBudgets() binds them.
          "Cage": {
            "Budgets": {
              "OnExceed": "block",
              "TimeZone": "UTC",
              "Nodes": {
                "day": { "Usd": 0.04, "Period": "day" },
                "session/{session}": { "Usd": 1 },
              }
            }
          }
        }
        """;

    private static async Task<(CliHarness Cli, string Config)> SetUpAsync(string content = AppSettings)
    {
        var cli = new CliHarness();
        Assert.That((await cli.RunAsync("demo")).ExitCode, Is.EqualTo(0));
        var config = cli.PathOf("app", "appsettings.json");
        Directory.CreateDirectory(Path.GetDirectoryName(config)!);
        await File.WriteAllTextAsync(config, content);
        return (cli, config);
    }

    [Test]
    public async Task Budget_Config_ReportsTheHostsTreeOverTheLedger()
    {
        var (cli, config) = await SetUpAsync();
        using var _ = cli;

        var json = await cli.RunAsync("budget", "--config", config, "--session", "demo", "--json");
        var text = await cli.RunAsync("budget", "--config", Path.Combine("app", "appsettings.json"), "--session", "demo");

        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        var root = json.Json();
        Assert.That(root.GetProperty("on_exceed").GetString(), Is.EqualTo("block"), "the host's, not the policy's warn");
        var day = root.GetProperty("scopes").GetProperty("day");
        Assert.That(day.GetProperty("cap").GetDecimal(), Is.EqualTo(0.04m));
        Assert.That(day.GetProperty("used").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(day.GetProperty("over").GetBoolean(), Is.True);
        Assert.That(root.GetProperty("scopes").GetProperty("session/demo").GetProperty("cap").GetDecimal(), Is.EqualTo(1m));
        Assert.That(root.GetProperty("proceed").GetBoolean(), Is.False);
        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.StartWith("Budget (block on exceed)").And.Contain("$0.0400").And.Contain("$1.00"));
        Assert.That(text.Out, Does.Not.Contain("$25.00"), "the policy's day budget is not used");
    }

    [Test]
    public async Task Budget_Config_ReadsWhatAddBudgetsReads()
    {
        var (cli, config) = await SetUpAsync();
        using var _ = cli;
        var host = BudgetConfiguration.Read(new ConfigurationBuilder().AddJsonFile(config).Build().GetSection(BudgetConfiguration.SectionPath));

        var json = (await cli.RunAsync("budget", "--config", config, "--json")).Json();

        var templates = json.GetProperty("scopes").EnumerateObject().Select(p => p.Value.GetProperty("template").GetString()).Distinct().ToArray();
        Assert.That(templates, Is.EquivalentTo(host.Nodes.Keys), "every configured node, plus the instances of templated ones that the ledger has spend for");
        Assert.That(json.GetProperty("on_exceed").GetString(), Is.EqualTo(host.OnExceed == BudgetExceedAction.Block ? "block" : "warn"));
    }

    [Test]
    public async Task Budget_MissingConfig_Exits2NamingIt()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("budget", "--config", "nowhere/appsettings.json");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PathOf("nowhere", "appsettings.json")).And.Contain("--config"));
        NoSilentWrongAnswersTests.AssertPlainError(run);
    }

    [Test]
    public async Task Budget_ConfigIsAFolder_Exits2NamingIt()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        Directory.CreateDirectory(cli.PathOf("settings"));

        var run = await cli.RunAsync("budget", "--config", "settings");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PathOf("settings")));
    }

    [Test]
    public async Task Budget_MalformedConfig_Exits2NamingIt()
    {
        var (cli, config) = await SetUpAsync("{ \"Cage\": { \"Budgets\": ");
        using var _ = cli;

        var run = await cli.RunAsync("budget", "--config", config);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(config).And.Contain("malformed"));
        NoSilentWrongAnswersTests.AssertPlainError(run);
    }

    [Test]
    public async Task Budget_ConfigWithoutABudgetSection_Exits2NamingTheFileAndTheSection()
    {
        var (cli, config) = await SetUpAsync("""{ "Logging": { "LogLevel": { "Default": "Warning" } } }""");
        using var _ = cli;

        var run = await cli.RunAsync("budget", "--config", config);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(config).And.Contain("Cage:Budgets"));
    }

    [Test]
    public async Task Budget_ConfigWithABadSetting_Exits2NamingTheFileAndTheSetting()
    {
        var (cli, config) = await SetUpAsync("""{ "Cage": { "Budgets": { "Nodes": { "day": { "Usd": "lots", "Period": "day" } } } } }""");
        using var _ = cli;

        var run = await cli.RunAsync("budget", "--config", config);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(config).And.Contain("day"));
        NoSilentWrongAnswersTests.AssertPlainError(run);
    }

    [Test]
    public async Task Budget_ConfigWithAnEmptyTree_SaysNoBudgetsNamingTheFile()
    {
        var (cli, config) = await SetUpAsync("""{ "Cage": { "Budgets": { "OnExceed": "warn" } } }""");
        using var _ = cli;

        var run = await cli.RunAsync("budget", "--config", config);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("No budgets configured").And.Contain(config));
    }

    [Test]
    public async Task Budget_ConfigButNoLedger_Exits2NamingTheLedger()
    {
        using var cli = new CliHarness();
        var config = cli.PathOf("appsettings.json");
        await File.WriteAllTextAsync(config, AppSettings);

        var run = await cli.RunAsync("budget", "--config", config);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.LedgerPath));
    }
}
