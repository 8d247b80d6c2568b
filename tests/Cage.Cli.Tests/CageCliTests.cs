namespace CageNet.Cli.Tests;

[TestFixture]
public sealed class CageCliTests
{
    [Test]
    public async Task Run_UnknownCommand_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("frobnicate");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("frobnicate"));
    }

    [Test]
    public async Task Run_UnknownOption_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("report", "--colour");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("--colour"));
    }

    [Test]
    public async Task Run_NoCommand_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync();

        Assert.That(run.ExitCode, Is.EqualTo(2));
    }

    [TestCase]
    [TestCase("init")]
    [TestCase("demo")]
    [TestCase("report")]
    [TestCase("why")]
    [TestCase("import")]
    [TestCase("export")]
    public async Task Run_Help_Exits0AndPrintsUsage(params string[] command)
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync([.. command, "--help"]);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out, Does.Contain("Usage:"));
        Assert.That(Directory.Exists(cli.PathOf(".cage")), Is.False, "help touches nothing");
    }

    [Test]
    public async Task Run_Version_Exits0AndPrintsTheVersion()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("--version");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Out.Trim(), Does.Match(@"^\d+\.\d+\.\d+"));
    }

    [Test]
    public async Task Run_GlobalOptionsBeforeTheCommand_AreAccepted()
    {
        using var cli = new CliHarness();
        var ledger = cli.PathOf("x.db");

        var run = await cli.RunAsync("--ledger", ledger, "demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(File.Exists(ledger), Is.True);
    }

    [Test]
    public async Task Run_LedgerInAnAncestor_IsFoundFromASubfolder()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var sub = cli.PathOf("src", "deep");
        Directory.CreateDirectory(sub);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await CageCli.RunAsync(["report"], stdout, stderr, cli.Time, sub, cli.Environment);

        Assert.That(code, Is.EqualTo(0), stderr.ToString());
        Assert.That(stdout.ToString(), Is.EqualTo(Fixtures.Output("report.txt")));
    }
}
