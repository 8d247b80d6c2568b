using System.Text.Json;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// Issue 12 B: <c>cage import</c> of a reference project folder is complete without a prior <c>cage init</c>: with no
/// <c>policy.toml</c> the reference tool's bundled policy applies (tools order graphify → fux → compressor, its
/// budgets), and <c>outcomes.json</c> is imported, so every read command answers as the reference tool did.
/// </summary>
[TestFixture]
public sealed class ReferenceImportTests
{
    private static string FixtureInput => Path.Combine(Fixtures.WorkedExample, "input");

    private static async Task<CliHarness> ImportedAsync()
    {
        var cli = new CliHarness();
        var run = await cli.RunAsync("import", FixtureInput);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        return cli;
    }

    [Test]
    public void Fixture_HasNoPolicyTomlButHasOutcomes()
    {
        // What the tests below rely on: the worked example's input is the reference tool's defaults plus a label.
        Assert.That(File.Exists(Path.Combine(FixtureInput, ".cage", "policy.toml")), Is.False);
        Assert.That(File.Exists(Path.Combine(FixtureInput, ".cage", "outcomes.json")), Is.True);
    }

    [Test]
    public async Task Import_NoPolicyToml_MatrixMatchesTheReferenceWithoutInit()
    {
        using var cli = await ImportedAsync();

        var text = await cli.RunAsync("matrix");
        var json = await cli.RunAsync("matrix", "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Is.EqualTo(Fixtures.Output("matrix.txt")));
        JsonAssert.ContainsFixture(Fixtures.OutputJson("matrix.json"), json.Json());
    }

    [Test]
    public async Task Import_NoPolicyToml_AttribMatchesTheReferenceWithoutInit()
    {
        using var cli = await ImportedAsync();

        var text = await cli.RunAsync("attrib");
        var json = await cli.RunAsync("attrib", "--json");

        JsonAssert.ContainsFixture(Fixtures.OutputJson("attrib.json"), json.Json());
        var order = json.Json().GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("tool").GetString()).ToArray();
        Assert.That(order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
        Assert.That(text.Out, Does.Match(@"graphify[^\n]*\n[^\n]*fux[^\n]*\n[^\n]*compressor"), "the bundled order, not alphabetical");
    }

    [Test]
    public async Task Import_NoPolicyToml_WritesTheBundledPolicyAndSaysSo()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("import", FixtureInput);

        Assert.That(run.Out, Does.Contain(cli.PolicyPath).And.Contain("graphify → fux → compressor").And.Contain("no policy.toml"));
        Assert.That(PolicyBinding.Bind(cli.PolicyPath).Tools.Order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
    }

    [Test]
    public async Task Import_NoPolicyToml_BudgetIsTheReferenceBudget()
    {
        using var cli = await ImportedAsync();

        var json = await cli.RunAsync("budget", "--session", "demo", "--json");
        var forecast = await cli.RunAsync("forecast", "--json");

        Assert.That(json.ExitCode, Is.EqualTo(0), json.Err);
        var reference = Fixtures.OutputJson("budget_session_demo.json").GetProperty("scopes");
        var scopes = json.Json().GetProperty("scopes");
        Assert.That(json.Json().GetProperty("on_exceed").GetString(), Is.EqualTo("warn"));
        foreach (var (ours, theirs) in new[] { ("session/demo", "session"), ("day", "day") })
        {
            Assert.That(scopes.GetProperty(ours).GetProperty("cap").GetDecimal(), Is.EqualTo(reference.GetProperty(theirs).GetProperty("cap").GetDecimal()), ours);
            Assert.That(scopes.GetProperty(ours).GetProperty("used").GetDecimal(), Is.EqualTo(reference.GetProperty(theirs).GetProperty("used").GetDecimal()), ours);
        }

        Assert.That(forecast.Json().GetProperty("monthly_cap").GetDecimal(), Is.EqualTo(750m), "$25 a day × 30 days of June");
    }

    [Test]
    public async Task Import_ExistingPolicyWithAnOrder_KeepsThatOrder()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(Path.GetDirectoryName(cli.PolicyPath)!);
        const string policy = """{ "Cage": { "Tools": { "Order": [ "compressor", "fux", "graphify" ] } } }""";
        await File.WriteAllTextAsync(cli.PolicyPath, policy);

        var run = await cli.RunAsync("import", FixtureInput);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await File.ReadAllTextAsync(cli.PolicyPath), Is.EqualTo(policy));
    }

    [Test]
    public async Task Import_ExistingPolicyWithoutAnOrder_GetsTheBundledOrderOnly()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(Path.GetDirectoryName(cli.PolicyPath)!);
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { "Budgets": { "Nodes": { "day": { "Usd": 5, "Period": "day" } } } } }""");

        var run = await cli.RunAsync("import", FixtureInput);
        var matrix = await cli.RunAsync("matrix");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(PolicyBinding.Bind(cli.PolicyPath).Tools.Order, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
        Assert.That(await File.ReadAllTextAsync(cli.PolicyPath), Does.Contain("\"Usd\": 5"), "the budgets are kept");
        Assert.That(matrix.Out, Is.EqualTo(Fixtures.Output("matrix.txt")));
    }

    [Test]
    public async Task Import_OutcomesJson_QualityCountsTheLabelledTask()
    {
        using var cli = await ImportedAsync();

        var quality = await cli.RunAsync("quality", "--json");

        Assert.That(quality.ExitCode, Is.EqualTo(0), quality.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("quality.json"), quality.Json());
        Assert.That(quality.Json().GetProperty("ok").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Import_OutcomesJson_IsReportedAndIdempotent()
    {
        using var cli = new CliHarness();

        var first = await cli.RunAsync("import", FixtureInput, "--json");
        var second = await cli.RunAsync("import", FixtureInput, "--json");

        Assert.That(first.Json().GetProperty("outcomes_added").GetInt32(), Is.EqualTo(1));
        Assert.That(first.Json().GetProperty("outcomes_file").GetString(), Is.EqualTo(Path.Combine(FixtureInput, ".cage", "outcomes.json")));
        Assert.That(second.Json().GetProperty("outcomes_added").GetInt32(), Is.EqualTo(0));
        Assert.That(second.Json().GetProperty("outcomes_skipped").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Import_OutcomesJson_KeepsALabelTheLedgerAlreadyHas()
    {
        using var cli = await ImportedAsync();
        await cli.RunAsync("outcome", "fix-handover-bug", "--redo");

        var again = await cli.RunAsync("import", FixtureInput);
        var quality = await cli.RunAsync("quality", "--json");

        Assert.That(again.ExitCode, Is.EqualTo(0), again.Err);
        Assert.That(again.Err, Does.Contain("fix-handover-bug").And.Contain("kept"));
        Assert.That(quality.Json().GetProperty("redo").GetInt32(), Is.EqualTo(1));
    }

    private static string CopyFixture(CliHarness cli)
    {
        var target = cli.PathOf("reference");
        foreach (var file in Directory.EnumerateFiles(FixtureInput, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(FixtureInput, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    [Test]
    public async Task Import_BadOutcomeValue_Exits2NamingTheFileAndTaskAndKeepsTheRest()
    {
        using var cli = new CliHarness();
        var source = CopyFixture(cli);
        var outcomes = Path.Combine(source, ".cage", "outcomes.json");
        await File.WriteAllTextAsync(outcomes, """{ "fix-handover-bug": "ok", "other": "maybe" }""");

        var run = await cli.RunAsync("import", source);
        var quality = await cli.RunAsync("quality", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(outcomes).And.Contain("'other'").And.Contain("maybe"));
        Assert.That(quality.Json().GetProperty("ok").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Import_MalformedOutcomesJson_Exits2AndImportsNothing()
    {
        using var cli = new CliHarness();
        var source = CopyFixture(cli);
        var outcomes = Path.Combine(source, ".cage", "outcomes.json");
        await File.WriteAllTextAsync(outcomes, "{ \"fix-handover-bug\": ");

        var run = await cli.RunAsync("import", source);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(outcomes));
        NoSilentWrongAnswersTests.AssertPlainError(run);
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
    }

    [Test]
    public async Task Import_OutcomeAsAnObject_IsRead()
    {
        using var cli = new CliHarness();
        var source = CopyFixture(cli);
        await File.WriteAllTextAsync(Path.Combine(source, ".cage", "outcomes.json"), """{ "fix-handover-bug": { "outcome": "failed", "ts": "2026-06-20T11:00:00Z" } }""");

        await cli.RunAsync("import", source);
        var quality = await cli.RunAsync("quality", "--json");

        Assert.That(quality.Json().GetProperty("ok").GetInt32(), Is.EqualTo(0));
        Assert.That(quality.Json().TryGetProperty("failed", out var failed) ? failed.GetInt32() : -1, Is.EqualTo(1));
    }
}
