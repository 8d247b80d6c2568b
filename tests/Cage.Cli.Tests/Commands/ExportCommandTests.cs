namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class ExportCommandTests
{
    [Test]
    public async Task ExportThenImport_IntoAFreshLedger_GivesTheSameReport()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var before = await cli.RunAsync("report", "--by", "model", "--json");

        var export = await cli.RunAsync("export", "out");
        var fresh = cli.PathOf("fresh", "ledger.db");
        var import = await cli.RunAsync("import", cli.PathOf("out"), "--ledger", fresh);
        var after = await cli.RunAsync("report", "--by", "model", "--json", "--ledger", fresh);

        Assert.That(export.ExitCode, Is.EqualTo(0), export.Err);
        Assert.That(export.Out, Does.Contain("1 call").And.Contain("3 receipts"));
        Assert.That(File.Exists(cli.PathOf("out", "calls.jsonl")), Is.True);
        Assert.That(File.Exists(cli.PathOf("out", "receipts.jsonl")), Is.True);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
        Assert.That(after.Out, Is.EqualTo(before.Out));
    }

    [Test]
    public async Task ExportThenImport_IntoAFreshLedger_KeepsTheReceipts()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var before = await cli.RunAsync("why", "c_s1call000001", "--json");

        await cli.RunAsync("export", "out");
        var fresh = cli.PathOf("fresh", "ledger.db");
        await cli.RunAsync("import", cli.PathOf("out"), "--ledger", fresh);
        var after = await cli.RunAsync("why", "c_s1call000001", "--json", "--ledger", fresh);

        Assert.That(after.Out, Is.EqualTo(before.Out));
    }

    [Test]
    public async Task ExportJson_ReportsFilesAndCounts()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("export", "out", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Json().GetProperty("calls").GetInt32(), Is.EqualTo(1));
        Assert.That(run.Json().GetProperty("receipts").GetInt32(), Is.EqualTo(3));
        Assert.That(run.Json().GetProperty("calls_file").GetString(), Is.EqualTo(cli.PathOf("out", "calls.jsonl")));
    }

    [Test]
    public async Task Export_TargetIsAFile_Exits2()
    {
        using var cli = new CliHarness();
        await File.WriteAllTextAsync(cli.PathOf("file.txt"), "x");

        var run = await cli.RunAsync("export", "file.txt");

        Assert.That(run.ExitCode, Is.EqualTo(2));
    }
}
