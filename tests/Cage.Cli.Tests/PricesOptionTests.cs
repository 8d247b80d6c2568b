namespace CageNet.Cli.Tests;

[TestFixture]
public sealed class PricesOptionTests
{
    // $1 in / $5 out per 1M tokens: the worked example's call costs 8,600 × 1e-6 + 1,500 × 5e-6 = $0.0161.
    private const string CheapMap = """
        {
          "anthropic/claude-opus-4-8": {
            "litellm_provider": "anthropic",
            "input_cost_per_token": 0.000001,
            "output_cost_per_token": 0.000005
          }
        }
        """;

    private static async Task<string> WriteMap(CliHarness cli, string name = "prices.json", string content = CheapMap)
    {
        var path = cli.PathOf(name);
        await File.WriteAllTextAsync(path, content);
        return path;
    }

    private static async Task<decimal> TotalUsd(CliHarness cli)
    {
        var report = await cli.RunAsync("report", "--json");
        return report.Json().GetProperty("total").GetProperty("usd").GetDecimal();
    }

    [Test]
    public async Task Demo_PricesOption_PricesWithTheMap()
    {
        using var cli = new CliHarness();
        await WriteMap(cli);

        var run = await cli.RunAsync("demo", "--prices", "prices.json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await TotalUsd(cli), Is.EqualTo(0.0161m));
    }

    [Test]
    public async Task Demo_CagePricesVariable_PricesWithTheMap()
    {
        using var cli = new CliHarness();
        cli.Environment["CAGE_PRICES"] = await WriteMap(cli);

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await TotalUsd(cli), Is.EqualTo(0.0161m));
    }

    [Test]
    public async Task Demo_PricesOption_WinsOverTheVariable()
    {
        using var cli = new CliHarness();
        cli.Environment["CAGE_PRICES"] = cli.PathOf("missing.json");
        var map = await WriteMap(cli);

        var run = await cli.RunAsync("demo", "--prices", map);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        cli.Environment.Remove("CAGE_PRICES"); // a missing map in CAGE_PRICES fails every command that does not override it
        Assert.That(await TotalUsd(cli), Is.EqualTo(0.0161m));
    }

    [Test]
    public async Task Import_PricesOption_PricesReferenceLinesWithTheMap()
    {
        using var cli = new CliHarness();
        var map = await WriteMap(cli);

        var run = await cli.RunAsync("import", Path.Combine(Fixtures.WorkedExample, "input"), "--prices", map);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await TotalUsd(cli), Is.EqualTo(0.0161m));
    }

    [Test]
    public async Task Demo_PolicyMapFile_PricesWithTheMap()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.PathOf(".cage"));
        await File.WriteAllTextAsync(cli.PolicyPath, """{ "Cage": { "Pricing": { "MapFile": "map.json" } } }""");
        await WriteMap(cli, Path.Combine(".cage", "map.json"));

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(await TotalUsd(cli), Is.EqualTo(0.0161m));
    }

    [Test]
    public async Task Demo_MalformedMap_Exits2NamingTheFile()
    {
        using var cli = new CliHarness();
        var map = await WriteMap(cli, "bad.json", "{ \"anthropic/claude-opus-4-8\": { \"input_cost_per_token\": ");

        var run = await cli.RunAsync("demo", "--prices", map);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(map));
        Assert.That(File.Exists(cli.LedgerPath), Is.False, "nothing is seeded with a bad map");
    }

    [Test]
    public async Task Demo_BadPriceValue_Exits2NamingTheFile()
    {
        using var cli = new CliHarness();
        var map = await WriteMap(cli, "negative.json", """{ "anthropic/claude-opus-4-8": { "input_cost_per_token": "lots", "output_cost_per_token": 0.00001 } }""");

        var run = await cli.RunAsync("demo", "--prices", map);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(map));
    }

    [Test]
    public async Task Demo_MissingMap_Exits2NamingTheFileAndWhereItCameFrom()
    {
        using var cli = new CliHarness();
        cli.Environment["CAGE_PRICES"] = "nowhere.json";

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("CAGE_PRICES").And.Contain("nowhere.json"));
    }
}
