using System.Text.Json;

namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class InitCommandTests
{
    [Test]
    public async Task Init_FreshFolder_CreatesPolicyGitignoreAndLedger()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("init");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain($"created {cli.PolicyPath}"));
        Assert.That(run.Out, Does.Contain($"created {cli.LedgerPath}"));
        Assert.That(File.Exists(cli.LedgerPath), Is.True);
        Assert.That(await File.ReadAllTextAsync(cli.PathOf(".cage", ".gitignore")), Does.Contain("ledger.db*"));
    }

    [Test]
    public async Task Init_Policy_BindsToCageOptions()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        var options = PolicyBinding.Bind(cli.PolicyPath);

        Assert.That(options.Tools.Order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
        Assert.That(options.Pricing.LocalModels, Is.EqualTo(new[] { "ollama/*", "lmstudio/*" }));
        Assert.That(options.Pricing.Overrides, Is.Empty);
        Assert.That(options.Pricing.MapFile, Is.Null.Or.Empty);
    }

    [Test]
    public async Task Init_Policy_HasTheReferenceBudgetDefaults()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        using var policy = JsonDocument.Parse(await File.ReadAllTextAsync(cli.PolicyPath));

        var budgets = policy.RootElement.GetProperty("Cage").GetProperty("Budgets");
        Assert.That(budgets.GetProperty("OnExceed").GetString(), Is.EqualTo("warn"));
        var nodes = budgets.GetProperty("Nodes");
        Assert.That(nodes.GetProperty("session/{session}").GetProperty("Usd").GetDecimal(), Is.EqualTo(2.0m));
        Assert.That(nodes.GetProperty("day").GetProperty("Usd").GetDecimal(), Is.EqualTo(25.0m));
        Assert.That(nodes.GetProperty("day").GetProperty("Period").GetString(), Is.EqualTo("day"));
    }

    [Test]
    public async Task Init_Twice_KeepsAnEditedPolicyWithoutForce()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        const string edited = """{ "Cage": { "Tools": { "Order": [ "mine" ] } } }""";
        await File.WriteAllTextAsync(cli.PolicyPath, edited);

        var run = await cli.RunAsync("init");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("kept").And.Contain("--force"));
        Assert.That(await File.ReadAllTextAsync(cli.PolicyPath), Is.EqualTo(edited));
    }

    [Test]
    public async Task Init_Force_OverwritesThePolicy()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { } }""");

        var run = await cli.RunAsync("init", "--force");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(PolicyBinding.Bind(cli.PolicyPath).Tools.Order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
    }

    [Test]
    public async Task Init_ThenDemo_UsesTheSameLedger()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        var demo = await cli.RunAsync("demo");

        Assert.That(demo.Out, Does.Contain(cli.LedgerPath));
        Assert.That(demo.Out, Does.Not.Contain("created"));
    }

    [Test]
    public async Task AnyCommand_MalformedPolicy_Exits2NamingTheFile()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, "{ \"Cage\": { \"Tools\": ");

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PolicyPath));
    }

    [Test]
    public async Task AnyCommand_PolicyValueOfTheWrongType_Exits2NamingTheFile()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { "Pricing": { "Overrides": { "anthropic/claude-opus-4-8": { "Input": "cheap" } } } } }""");

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PolicyPath).And.Contain("Input"));
    }

    [Test]
    public async Task Demo_PolicyOverride_PricesTheCall()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { "Pricing": { "Overrides": { "anthropic/claude-opus-4-8": { "Input": 1, "Output": 5 } } } } }""");

        await cli.RunAsync("demo");
        var report = await cli.RunAsync("report", "--json");

        // 8,600 × $1/1M + 1,500 × $5/1M
        Assert.That(report.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(0.0161m));
    }
}
