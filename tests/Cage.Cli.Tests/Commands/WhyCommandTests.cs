namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class WhyCommandTests
{
    [Test]
    public async Task WhyJson_WorkedExampleCall_MatchesTheFixtureOnEveryField()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("why", "c_s1call000001", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        JsonAssert.ContainsFixture(Fixtures.OutputJson("why_c_s1call000001.json"), run.Json());
    }

    [Test]
    public async Task WhyJson_WorkedExampleCall_ResidualIsPromptMinusReceiptActuals()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("why", "c_s1call000001", "--json");

        var residual = run.Json().GetProperty("residual");
        Assert.That(residual.GetProperty("prompt_tokens").GetInt64(), Is.EqualTo(8600));
        Assert.That(residual.GetProperty("receipts_actual").GetDecimal(), Is.EqualTo(6600m));
        Assert.That(residual.GetProperty("tokens").GetDecimal(), Is.EqualTo(2000m));
        Assert.That(residual.GetProperty("over_claim").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Why_WorkedExampleCall_ShowsTheReferenceViewThenTheResidual()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("why", "c_s1call000001");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var reference = Fixtures.Output("why_c_s1call000001.txt").Split('\n');
        var ours = run.Out.Split('\n');
        Assert.That(ours.Take(5), Is.EqualTo(reference.Take(5)), "the reference's call lines come first, unchanged");
        var receipts = Array.IndexOf(reference, "Receipts");
        Assert.That(ours, Is.SupersetOf(reference.Skip(receipts).Where(l => l.Length > 0)));
        Assert.That(run.Out, Does.Contain("Residual  2,000 tokens = 8,600 prompt-side - 6,600 actual (token receipts)"));
        Assert.That(run.Out, Does.Not.Contain("OVER-CLAIM"));
    }

    [Test]
    public async Task Why_ReceiptsClaimMoreThanThePrompt_IsFlaggedAsOverClaim()
    {
        using var cli = new CliHarness();
        var folder = cli.PathOf("overclaim");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "calls.jsonl"),
            """{"id": "c_small", "ts": "2026-06-20T10:00:00Z", "task": "t", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 1000, "tokens_out": 100}""" + "\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "receipts.jsonl"),
            """{"id": "r_a", "ts": "2026-06-20T10:00:00Z", "call": "c_small", "task": "t", "tool": "compressor", "unit": "tokens", "raw_alternative": 5000, "actual": 800, "method": "measured"}""" + "\n" +
            """{"id": "r_b", "ts": "2026-06-20T10:00:00Z", "call": "c_small", "task": "t", "tool": "graphify", "unit": "tokens", "raw_alternative": 4000, "actual": 700, "method": "modeled"}""" + "\n" +
            """{"id": "r_c", "ts": "2026-06-20T10:00:00Z", "call": "c_small", "task": "t", "tool": "router", "unit": "ms", "raw_alternative": 900, "actual": 100000, "method": "modeled"}""" + "\n");
        var import = await cli.RunAsync("import", folder);
        Assert.That(import.ExitCode, Is.EqualTo(0), import.Err);

        var json = await cli.RunAsync("why", "c_small", "--json");
        var text = await cli.RunAsync("why", "c_small");

        var residual = json.Json().GetProperty("residual");
        Assert.That(residual.GetProperty("tokens").GetDecimal(), Is.EqualTo(-500m), "ms receipts are not tokens");
        Assert.That(residual.GetProperty("token_receipts").GetInt32(), Is.EqualTo(2));
        Assert.That(residual.GetProperty("over_claim").GetBoolean(), Is.True);
        Assert.That(text.Out, Does.Contain("OVER-CLAIM").And.Contain("500 more prompt tokens"));
    }

    [Test]
    public async Task Why_UnknownId_Exits2()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("why", "c_nope");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("no call with id 'c_nope'"));
    }

    [Test]
    public async Task Why_NoArgument_Exits2()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("why");

        Assert.That(run.ExitCode, Is.EqualTo(2));
    }

    [Test]
    public async Task Why_CallWithoutReceipts_SaysNoneAndHasNoOverClaim()
    {
        using var cli = new CliHarness();
        var calls = cli.PathOf("calls.jsonl");
        await File.WriteAllTextAsync(calls,
            """{"id": "c_alone", "ts": "2026-06-20T10:00:00Z", "provider": "anthropic", "model": "claude-opus-4-8", "tokens_in": 10, "tokens_out": 1}""" + "\n");
        await cli.RunAsync("import", calls);

        var text = await cli.RunAsync("why", "c_alone");
        var json = await cli.RunAsync("why", "c_alone", "--json");

        Assert.That(text.ExitCode, Is.EqualTo(0), text.Err);
        Assert.That(text.Out, Does.EndWith("Receipts\n(none)\n"));
        Assert.That(json.Json().GetProperty("receipts").GetArrayLength(), Is.EqualTo(0));
        Assert.That(json.Json().GetProperty("residual").GetProperty("tokens").GetDecimal(), Is.EqualTo(10m));
        Assert.That(json.Json().GetProperty("residual").GetProperty("over_claim").GetBoolean(), Is.False);
    }
}
