namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class ImportCommandTests
{
    private static string FixtureInput => Path.Combine(Fixtures.WorkedExample, "input");

    [Test]
    public async Task Import_WorkedExampleInput_GivesTheFixtureTotals()
    {
        using var cli = new CliHarness();

        var import = await cli.RunAsync("import", FixtureInput);
        var report = await cli.RunAsync("report", "--json");

        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);
        Assert.That(import.Out, Does.Contain("1 added").And.Contain("3 added"));
        JsonAssert.ContainsFixture(Fixtures.OutputJson("report.json"), report.Json());
        Assert.That(report.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(0.0483m));
    }

    [Test]
    public async Task Import_WorkedExampleInput_WhyMatchesTheFixture()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("import", FixtureInput);

        var run = await cli.RunAsync("why", "c_s1call000001", "--json");

        JsonAssert.ContainsFixture(Fixtures.OutputJson("why_c_s1call000001.json"), run.Json());
    }

    [Test]
    public async Task Import_Twice_SecondAddsNothing()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("import", FixtureInput);

        var second = await cli.RunAsync("import", FixtureInput, "--json");
        var report = await cli.RunAsync("report", "--json");

        Assert.That(second.ExitCode, Is.EqualTo(0), second.Err);
        var result = second.Json();
        Assert.That(result.GetProperty("calls_added").GetInt32(), Is.EqualTo(0));
        Assert.That(result.GetProperty("receipts_added").GetInt32(), Is.EqualTo(0));
        Assert.That(result.GetProperty("calls_skipped").GetInt32(), Is.EqualTo(1));
        Assert.That(result.GetProperty("receipts_skipped").GetInt32(), Is.EqualTo(3));
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(1));
    }

    [Test]
    public async Task Import_DemoThenFixture_AddsNothing()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var import = await cli.RunAsync("import", FixtureInput, "--json");

        Assert.That(import.Json().GetProperty("calls_added").GetInt32(), Is.EqualTo(0));
        Assert.That(import.Json().GetProperty("receipts_added").GetInt32(), Is.EqualTo(0));
    }

    [Test]
    public async Task Import_MalformedLines_Exits2NamingFileAndLineAndKeepsTheGoodLines()
    {
        using var cli = new CliHarness();
        var file = cli.PathOf("calls.jsonl");
        await File.WriteAllLinesAsync(file,
        [
            """{"id": "c_good1", "ts": "2026-06-20T10:00:00Z", "route": "r", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 1000, "tokens_out": 100}""",
            """{not json""",
            """{"id": "c_bad", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": -5, "tokens_out": 1}""",
            """{"id": "c_good2", "ts": "2026-06-20T11:00:00Z", "route": "r", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 1000, "tokens_out": 100}""",
        ]);

        var run = await cli.RunAsync("import", file);
        var report = await cli.RunAsync("report", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain($"{file}:2: "));
        Assert.That(run.Err, Does.Contain($"{file}:3: tokens_in: "));
        Assert.That(run.Out, Does.Contain("lines     4 read, 2 rejected"));
        Assert.That(report.Json().GetProperty("total").GetProperty("calls").GetInt64(), Is.EqualTo(2));
    }

    [Test]
    public async Task Import_MissingPath_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("import", "no-such-folder");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("no-such-folder"));
    }

    [Test]
    public async Task Import_ReferencePolicyToml_IsCarriedAcrossIntoCageJson()
    {
        using var cli = new CliHarness();
        var source = cli.PathOf("old-project");
        var ledgerFolder = Path.Combine(source, ".cage", "ledger");
        Directory.CreateDirectory(ledgerFolder);
        await File.WriteAllTextAsync(Path.Combine(ledgerFolder, "calls.jsonl"),
            """{"id": "c_old1", "ts": "2026-06-20T10:00:00Z", "route": "code-edit", "provider": "acme", "model": "house-model", "tokens_in": 1000000, "tokens_out": 1000000}""" + "\n");
        await File.WriteAllTextAsync(Path.Combine(source, ".cage", "policy.toml"), """
            # The reference tool's policy
            [tools]
            order = ["compressor", "graphify"]

            [prices."acme/house-model"]
            input = 2.5
            output = 10

            [prices.openai.gpt-4o]
            input_cost_per_token = 0.0000025
            output_cost_per_token = 0.00001

            [pricing]
            local = ["ollama/*", "vllm/*"]

            [budget]
            session_usd = 2.0
            day_usd = 25
            on_exceed = "block"

            [dashboard]
            port = 8787
            """);

        var run = await cli.RunAsync("import", source);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Err, Does.Contain("policy.toml:").And.Contain("'dashboard'"), "unknown keys are warnings");
        Assert.That(run.Out, Does.Contain("Carried"));
        var options = PolicyBinding.Bind(cli.PolicyPath);
        Assert.That(options.Tools.Order, Is.EqualTo(new[] { "compressor", "graphify" }));
        Assert.That(options.Pricing.Overrides["acme/house-model"].Input, Is.EqualTo(2.5m));
        Assert.That(options.Pricing.Overrides["acme/house-model"].Output, Is.EqualTo(10m));
        Assert.That(options.Pricing.Overrides["openai/gpt-4o"].Input, Is.EqualTo(2.5m));
        Assert.That(options.Pricing.Overrides["openai/gpt-4o"].Output, Is.EqualTo(10m));
        Assert.That(options.Pricing.LocalModels, Is.EquivalentTo(new[] { "ollama/*", "vllm/*" }));
        var policyText = await File.ReadAllTextAsync(cli.PolicyPath);
        using (var written = System.Text.Json.JsonDocument.Parse(policyText))
        {
            var budgets = written.RootElement.GetProperty("Cage").GetProperty("Budgets");
            Assert.That(budgets.GetProperty("OnExceed").GetString(), Is.EqualTo("block"));
            Assert.That(budgets.GetProperty("Nodes").GetProperty("session/{session}").GetProperty("Usd").GetDecimal(), Is.EqualTo(2m));
            Assert.That(budgets.GetProperty("Nodes").GetProperty("day").GetProperty("Usd").GetDecimal(), Is.EqualTo(25m));
        }

        var again = await cli.RunAsync("import", source);
        Assert.That(again.Out, Does.Not.Contain("Carried"), "a second import changes nothing in the policy");
        Assert.That(await File.ReadAllTextAsync(cli.PolicyPath), Is.EqualTo(policyText));

        // The carried override prices the imported call: 1M in × $2.5 + 1M out × $10.
        var report = await cli.RunAsync("report", "--json");
        Assert.That(report.Json().GetProperty("total").GetProperty("usd").GetDecimal(), Is.EqualTo(12.5m));
    }

    [Test]
    public async Task Import_ReferencePolicyToml_MergesWithAnExistingPolicy()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        var source = cli.PathOf("old");
        Directory.CreateDirectory(source);
        await File.WriteAllTextAsync(Path.Combine(source, "calls.jsonl"), "");
        await File.WriteAllTextAsync(Path.Combine(source, "policy.toml"), """
            [tools]
            order = ["cache", "fux"]
            [prices.anthropic.claude-opus-4-8]
            output = 20
            """);

        var run = await cli.RunAsync("import", source);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var options = PolicyBinding.Bind(cli.PolicyPath);
        Assert.That(options.Tools.Order, Is.EqualTo(new[] { "cache", "fux", "graphify", "compressor" }));
        Assert.That(options.Pricing.Overrides["anthropic/claude-opus-4-8"].Output, Is.EqualTo(20m));
        Assert.That(options.Pricing.Overrides["anthropic/claude-opus-4-8"].Input, Is.Null);
        Assert.That(options.Pricing.LocalModels, Is.EqualTo(new[] { "ollama/*", "lmstudio/*" }));
        var policyText = await File.ReadAllTextAsync(cli.PolicyPath);
        Assert.That(policyText, Does.Contain("\"OnExceed\": \"warn\""), "init's Budgets section is kept");
    }

    [TestCase("[tools]\norder = [\"graphify]\n", "2:20", "newline in a string", TestName = "Import_PolicyTomlUnterminatedString_Exits2")]
    [TestCase("[prices.acme.m]\ninput = 1\ninput = 2\n", "3:1", "The key `prices.acme.m.input` is already defined at (2,1)", TestName = "Import_PolicyTomlDuplicateKey_Exits2")]
    [TestCase("[tools]\norder = [\"a\"]\n[tools]\n", "3:1", "The key `tools` is already defined", TestName = "Import_PolicyTomlTableDefinedTwice_Exits2")]
    [TestCase("[tools\norder = [\"a\"]\n", "1:7", "expecting `]`", TestName = "Import_PolicyTomlBadTableHeader_Exits2")]
    [TestCase("[budget]\nday_usd = twenty\n", "2:11", "Unexpected token `twenty` for a value", TestName = "Import_PolicyTomlInvalidValue_Exits2")]
    [TestCase("[tools]\norder = \"graphify\"\n", "2:9", "'tools.order' must be a list of tool names, not a string", TestName = "Import_PolicyTomlToolsOrderNotAList_Exits2")]
    [TestCase("[prices.acme.m]\ninput = \"cheap\"\noutput = 2\n", "2:9", "'prices.acme.m.input' must be a price", TestName = "Import_PolicyTomlPriceNotANumber_Exits2")]
    [TestCase("[budget]\non_exceed = \"block\"\nsession_usd = 2.0\nnote = \"\"\"never closed\n", "4:8", "unterminated multi-line string", TestName = "Import_PolicyTomlUnterminatedMultilineString_Exits2")]
    [TestCase("[tools]\norder = " + "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "2:73", "maximum depth of 64",
        TestName = "Import_PolicyTomlNestedTooDeep_Exits2")] // found by the fuzzer: 20,000 levels overflowed the old reader's stack
    public async Task Import_MalformedPolicyToml_Exits2WithFileLineAndColumn(string toml, string at, string what)
    {
        using var cli = new CliHarness();
        var source = cli.PathOf("broken");
        Directory.CreateDirectory(source);
        await File.WriteAllTextAsync(Path.Combine(source, "calls.jsonl"),
            """{"id": "c_x", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 10, "tokens_out": 1}""" + "\n");
        var path = Path.Combine(source, "policy.toml");
        await File.WriteAllTextAsync(path, toml);

        var run = await cli.RunAsync("import", source);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.StartWith($"cage: {path}:{at}: ").And.Contain(what));
        Assert.That(run.Err, Does.Contain("(nothing was imported)").And.Not.Contain("unexpected error"));
        Assert.That(run.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line");
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
        Assert.That(File.Exists(cli.PolicyPath), Is.False);
    }

    [Test]
    public async Task Import_MalformedPolicyToml_Exits2NamingFileAndLineAndImportsNothing()
    {
        using var cli = new CliHarness();
        var source = cli.PathOf("broken");
        Directory.CreateDirectory(source);
        await File.WriteAllTextAsync(Path.Combine(source, "calls.jsonl"),
            """{"id": "c_x", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 10, "tokens_out": 1}""" + "\n");
        var toml = Path.Combine(source, "policy.toml");
        await File.WriteAllTextAsync(toml, "[tools]\norder = [\"a\", \"b\"\n");

        var run = await cli.RunAsync("import", source);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain($"{toml}:2:"));
        Assert.That(File.Exists(cli.LedgerPath), Is.False);
    }
}
