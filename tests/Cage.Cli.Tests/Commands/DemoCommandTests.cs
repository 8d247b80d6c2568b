using System.Text.Json;

namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class DemoCommandTests
{
    [Test]
    public async Task Demo_FreshFolder_SeedsTheExampleAndShowsReportAndWhy()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Is.Empty);
        Assert.That(run.Out, Does.Contain("1 call and 3 receipts added"));
        Assert.That(run.Out, Does.Contain(Fixtures.Output("report.txt")));
        Assert.That(run.Out, Does.Contain("c_s1call000001  ·  2026-06-20T10:00:00Z"));
        Assert.That(run.Out, Does.Contain("compressor  tokens   10,000   2,000   8,000  measured"));
        Assert.That(run.Out, Does.Contain("Residual  2,000 tokens"));
        Assert.That(run.Out, Does.Contain("graphify    tokens   30,000   3,000  27,000  $0.0810  modeled"));
        Assert.That(run.Out, Does.Contain("TOTAL       tokens                   41,400  $0.1242"));

        // The matrix is the reference tool's table, character for character.
        Assert.That(run.Out, Does.Contain(Fixtures.Output("matrix.txt")));
        Assert.That(File.Exists(cli.LedgerPath), Is.True);
    }

    [Test]
    public async Task Demo_NoPolicy_WritesPolicyWithTheExampleToolsOrder()
    {
        using var cli = new CliHarness();

        await cli.RunAsync("demo");

        var options = PolicyBinding.Bind(cli.PolicyPath);
        Assert.That(options.Tools.Order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
    }

    [Test]
    public async Task Demo_ExistingPolicy_LeavesItUntouched()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(Path.GetDirectoryName(cli.PolicyPath)!);
        const string policy = """{ "Cage": { "Tools": { "Order": [ "cache" ] } } }""";
        await File.WriteAllTextAsync(cli.PolicyPath, policy);

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await File.ReadAllTextAsync(cli.PolicyPath), Is.EqualTo(policy));
    }

    [Test]
    public async Task Demo_Twice_SecondRunAddsNothingAndSaysSo()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var second = await cli.RunAsync("demo");
        var report = await cli.RunAsync("report", "--json");

        Assert.That(second.ExitCode, Is.EqualTo(0), second.Err);
        Assert.That(second.Out, Does.Contain("already in").And.Contain("nothing added"));
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(1));
        Assert.That(report.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(0.0483m));
    }

    [Test]
    public async Task DemoThenReportJson_WorkedExample_MatchesTheFixture()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var group = run.Json().GetProperty("groups").GetProperty("code-edit");
        Assert.That(group.GetProperty("calls").GetInt64(), Is.EqualTo(1));
        Assert.That(group.GetProperty("tokens_in").GetInt64(), Is.EqualTo(8600));
        Assert.That(group.GetProperty("tokens_out").GetInt64(), Is.EqualTo(1500));
        Assert.That(group.GetProperty("cached_in").GetInt64(), Is.EqualTo(0));
        Assert.That(group.GetProperty("usd").GetDecimal(), Is.EqualTo(0.0483m));
        JsonAssert.ContainsFixture(Fixtures.OutputJson("report.json"), run.Json());
    }

    [Test]
    public async Task DemoThenReportJson_Money_IsWrittenWithoutFloatNoise()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--json");

        Assert.That(run.Out, Does.Contain("\"usd\": 0.0483,"));
        Assert.That(run.Out, Does.Not.Contain("0.04830"));
    }

    [Test]
    public async Task DemoThenReport_Table_EqualsTheFixtureExactly()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Is.EqualTo(Fixtures.Output("report.txt")));
    }

    [TestCase("model")]
    [TestCase("provider")]
    [TestCase("day")]
    [TestCase("agent")]
    [TestCase("task")]
    public async Task DemoThenReportBy_Dimension_MatchesTheFixtures(string dimension)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var json = await cli.RunAsync("report", "--by", dimension, "--json");
        var text = await cli.RunAsync("report", "--by", dimension);

        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson($"report_by_{dimension}.json"), json.Json());
        Assert.That(text.Out, Is.EqualTo(Fixtures.Output($"report_by_{dimension}.txt")));
    }

    [Test]
    public async Task DemoThenReportSince7d_AtFixtureTime_MatchesTheFixture()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var json = await cli.RunAsync("report", "--since", "7d", "--json");
        var text = await cli.RunAsync("report", "--since", "7d");

        JsonAssert.ContainsFixture(Fixtures.OutputJson("report_since_7d.json"), json.Json());
        Assert.That(text.Out, Is.EqualTo(Fixtures.Output("report_since_7d.txt")));
    }

    [Test]
    public async Task DemoThenReportJson_SameLedger_IsByteIdenticalAcrossRuns()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var first = await cli.RunAsync("report", "--by", "model", "--json");
        var second = await cli.RunAsync("report", "--by", "model", "--json");

        Assert.That(second.Out, Is.EqualTo(first.Out));
    }

    [Test]
    public async Task Demo_LedgerOption_SeedsTheGivenFile()
    {
        using var cli = new CliHarness();
        var ledger = cli.PathOf("elsewhere", "my.db");

        var run = await cli.RunAsync("demo", "--ledger", ledger);
        var report = await cli.RunAsync("report", "--json", "--ledger", ledger);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(ledger), Is.True);
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public async Task Demo_CageLedgerVariable_SeedsThatFile()
    {
        using var cli = new CliHarness();
        var ledger = cli.PathOf("from-env.db");
        cli.Environment["CAGE_LEDGER"] = ledger;

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(ledger), Is.True);
        Assert.That(run.Out, Does.Contain(ledger));
    }

    [Test]
    public async Task Demo_JsonReportAfterwards_IsValidJson()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("report", "--by", "session", "--json");

        Assert.That(() => JsonDocument.Parse(run.Out), Throws.Nothing);
        Assert.That(run.Json().GetProperty("dim").GetString(), Is.EqualTo("session"));
        Assert.That(run.Json().GetProperty("groups").TryGetProperty("demo", out _), Is.True);
    }
}
