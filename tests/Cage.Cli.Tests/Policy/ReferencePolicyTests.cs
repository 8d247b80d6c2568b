using System.Text.Json.Nodes;
using CageNet.Cli.Policy;

namespace CageNet.Cli.Tests.Policy;

[TestFixture]
public sealed class ReferencePolicyTests
{
    private static ReferencePolicy Map(string toml) => ReferencePolicy.From(PolicyToml.Parse(toml, "policy.toml"), "policy.toml");

    [Test]
    public void From_ToolsOrder_IsRead()
    {
        var policy = Map("[tools]\norder = [\"graphify\", \"fux\", \"compressor\"]\n");

        Assert.That(policy.ToolsOrder, Is.EqualTo(new[] { "graphify", "fux", "compressor" }));
        Assert.That(policy.Warnings, Is.Empty);
    }

    [TestCase("input = 3\noutput = 15", 3, 15)]
    [TestCase("in = 3\nout = 15", 3, 15)]
    [TestCase("input_per_mtok = 3\noutput_per_mtok = 15", 3, 15)]
    [TestCase("input_usd_per_mtok = 3\noutput_usd_per_mtok = 15", 3, 15)]
    [TestCase("input_cost_per_token = 0.000003\noutput_cost_per_token = 0.000015", 3, 15)]
    [TestCase("input_per_1k = 0.003\noutput_per_1k = 0.015", 3, 15)]
    [TestCase("input_price = \"3\"\noutput_price = \"$15\"", 3, 15)]
    public void From_PriceTable_BecomesAnOverridePerMillionTokens(string body, int input, int output)
    {
        var policy = Map($"[prices.anthropic.claude-opus-4-8]\n{body}\n");

        Assert.That(policy.Overrides, Has.Count.EqualTo(1));
        var (key, _, prices) = policy.Overrides[0];
        Assert.That(key, Is.EqualTo("anthropic/claude-opus-4-8"));
        Assert.That(prices[ReferencePolicy.PriceField.Input], Is.EqualTo((decimal)input));
        Assert.That(prices[ReferencePolicy.PriceField.Output], Is.EqualTo((decimal)output));
        Assert.That(policy.Warnings, Is.Empty);
    }

    [Test]
    public void From_InlineModelTablesAndCachePrices_AreRead()
    {
        var policy = Map("""
            [pricing.openai]
            "gpt-4o" = { input = 2.5, output = 10, cache_read = 1.25 }
            [pricing.anthropic.claude-sonnet-4-5]
            input = 3
            output = 15
            cache_read_input_token_cost = 0.0000003
            cache_write_1h = 6
            provider = "anthropic"
            """);

        Assert.That(policy.Overrides.Select(o => o.Key), Is.EqualTo(new[] { "openai/gpt-4o", "anthropic/claude-sonnet-4-5" }));
        Assert.That(policy.Overrides[0].Prices[ReferencePolicy.PriceField.CacheRead], Is.EqualTo(1.25m));
        Assert.That(policy.Overrides[1].Prices[ReferencePolicy.PriceField.CacheRead], Is.EqualTo(0.3m));
        Assert.That(policy.Overrides[1].Prices[ReferencePolicy.PriceField.CacheWrite1h], Is.EqualTo(6m));
        Assert.That(policy.Overrides[1].Provider, Is.EqualTo("anthropic"));
    }

    [Test]
    public void From_LocalModelsAliasesAndBudgets_AreRead()
    {
        var policy = Map("""
            local_models = ["ollama/*"]
            [pricing]
            local = ["lmstudio/*"]
            [pricing.aliases]
            opus = "anthropic/claude-opus-4-8"
            [budgets]
            session_usd = 2.0
            [budgets.day]
            usd = 25
            """);

        Assert.That(policy.LocalModels, Is.EqualTo(new[] { "ollama/*", "lmstudio/*" }));
        Assert.That(policy.Aliases, Is.EqualTo(new[] { ("opus", "anthropic/claude-opus-4-8") }));
        Assert.That(policy.Budgets!["Nodes"]!["session/{session}"]!["Usd"]!.GetValue<decimal>(), Is.EqualTo(2m));
        Assert.That(policy.Budgets!["Nodes"]!["day"]!["Usd"]!.GetValue<decimal>(), Is.EqualTo(25m));
        Assert.That(policy.Budgets!["Nodes"]!["day"]!["Period"]!.GetValue<string>(), Is.EqualTo("day"));
    }

    [Test]
    public void From_FlatBudgetKeys_AreFoldedOntoTheSchema()
    {
        var policy = Map("[budget]\non_exceed = \"block\"\nsession_usd = 2.5\nmonth_tokens = 1000000\nalert_at = 0.8\n");

        Assert.That(policy.Budgets!.ToJsonString(), Is.EqualTo("""{"OnExceed":"block","Nodes":{"session/{session}":{"Usd":2.5},"month":{"Tokens":1000000,"Period":"month"}}}"""));
        Assert.That(policy.Warnings, Has.Some.Contains("'budget.alert_at' is not understood"));
    }

    [Test]
    public void From_UnknownKeys_AreWarningsWithFileAndLine()
    {
        var policy = Map("""
            version = 2
            [tools]
            order = ["a"]
            enabled = true
            [prices.acme.model-x]
            input = 1
            output = 2
            colour = "blue"
            """);

        Assert.That(policy.Warnings, Has.Count.EqualTo(3));
        Assert.That(policy.Warnings[0], Does.StartWith("policy.toml:1: 'version'"));
        Assert.That(policy.Warnings[1], Does.StartWith("policy.toml:4: 'tools.enabled'"));
        Assert.That(policy.Warnings[2], Does.StartWith("policy.toml:8: 'prices.acme.model-x.colour'"));
        Assert.That(policy.Overrides, Has.Count.EqualTo(1));
    }

    [Test]
    public void From_NegativePrice_IsAWarningNotAnOverride()
    {
        var policy = Map("[prices.acme.m]\ninput = -1\noutput = 2\n");

        Assert.That(policy.Warnings, Has.One.Contains("non-negative"));
        Assert.That(policy.Overrides[0].Prices.ContainsKey(ReferencePolicy.PriceField.Input), Is.False);
    }

    [TestCase("[tools]\norder = \"graphify\"\n", "2:9", "'tools.order' must be a list of tool names, not a string")]
    [TestCase("tools = 3\n", "1:9", "'tools' must be a table or a list of tool names, not an integer")]
    [TestCase("[tools]\norder = [\"a\", 2]\n", "2:9", "'tools.order' must be a list of tool names, not a list")]
    [TestCase("[prices.acme.m]\ninput = true\noutput = 2\n", "2:9", "'prices.acme.m.input' must be a price")]
    [TestCase("[prices.acme.m]\ninput = \"three\"\n", "2:9", "'prices.acme.m.input' must be a price")]
    [TestCase("[prices.acme.m]\ninput = 1\nprovider = 7\n", "3:12", "'prices.acme.m.provider' must be a provider name")]
    [TestCase("prices = [1]\n", "1:10", "'prices' must be a table of model prices, not a list")]
    [TestCase("local_models = 5\n", "1:16", "'local_models' must be a model pattern or a list of them")]
    [TestCase("[pricing.aliases]\nopus = 4\n", "2:8", "'pricing.aliases.opus' must be a catalog key (a string), not an integer")]
    [TestCase("aliases = \"opus\"\n", "1:11", "'aliases' must be a table")]
    [TestCase("[budget]\non_exceed = false\n", "2:13", "'budget.on_exceed' must be an action")]
    [TestCase("[budget]\nday_usd = \"lots\"\n", "2:11", "'budget.day_usd' must be an amount in dollars")]
    [TestCase("[budget.day]\ntokens = [1]\n", "2:10", "'budget.day.tokens' must be a number of tokens, not a list")]
    [TestCase("[budget]\nday = 25\n", "2:7", "'budget.day' must be a table of ceilings (usd, tokens), not an integer")]
    [TestCase("budget = 25\n", "1:10", "'budget' must be a table of budget ceilings, not an integer")]
    public void From_KnownSettingOfTheWrongType_IsAnErrorNamingFileLineAndColumn(string toml, string at, string what)
    {
        var ex = Assert.Throws<PolicyTomlException>(() => Map(toml));

        Assert.That(ex!.Message, Does.StartWith($"policy.toml:{at}: {what}"));
    }

    [Test]
    public void From_NegativeCeilingAndEmptyAlias_AreWarningsNotErrors()
    {
        var policy = Map("[budget]\nday_usd = -1\n[budget.week]\ntokens = -5\n[aliases]\nopus = \"\"\n");

        Assert.That(policy.Warnings, Has.Count.EqualTo(3));
        Assert.That(policy.Warnings[0], Does.StartWith("policy.toml:2: 'budget.day_usd' is not a non-negative ceiling"));
        Assert.That(policy.Warnings[1], Does.StartWith("policy.toml:4: 'budget.week.tokens' is not a non-negative ceiling"));
        Assert.That(policy.Warnings[2], Does.StartWith("policy.toml:6: 'aliases.opus' is an empty catalog key"));
        Assert.That(policy.Aliases, Is.Empty);
    }

    [Test]
    public void From_DecimalPrices_StayExact()
    {
        var policy = Map("[prices.acme.m]\ninput = 0.1\noutput_cost_per_token = 0.0000001\ncache_read = 0.30000000000000004\n");

        var prices = policy.Overrides[0].Prices;
        Assert.That(prices[ReferencePolicy.PriceField.Input], Is.EqualTo(0.1m));
        Assert.That(prices[ReferencePolicy.PriceField.Output], Is.EqualTo(0.1m));
        Assert.That(prices[ReferencePolicy.PriceField.CacheRead], Is.EqualTo(0.30000000000000004m));
    }

    [Test]
    public void MergeInto_ExistingPolicy_MergesPerModelAndPerField()
    {
        var document = JsonNode.Parse("""
            {
              "Cage": {
                "Tools": { "Order": [ "graphify", "fux" ] },
                "Pricing": {
                  "Overrides": { "acme/m": { "Input": 1, "Output": 2 }, "acme/other": { "Input": 9 } },
                  "LocalModels": [ "ollama/*" ]
                },
                "Budgets": { "OnExceed": "warn", "Nodes": { "day": { "Usd": 25, "Period": "day" } } }
              }
            }
            """)!.AsObject();
        var policy = Map("""
            [tools]
            order = ["fux", "cache"]
            [prices.acme.m]
            output = 3
            [pricing]
            local = ["ollama/*", "vllm/*"]
            [budget]
            on_exceed = "block"
            [budget.day]
            tokens = 100000
            """);

        var changes = policy.MergeInto(document);

        var cage = document["Cage"]!;
        Assert.That(cage["Tools"]!["Order"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "fux", "cache", "graphify" }));
        Assert.That(cage["Pricing"]!["Overrides"]!["acme/m"]!["Input"]!.GetValue<decimal>(), Is.EqualTo(1m));
        Assert.That(cage["Pricing"]!["Overrides"]!["acme/m"]!["Output"]!.GetValue<decimal>(), Is.EqualTo(3m));
        Assert.That(cage["Pricing"]!["Overrides"]!["acme/other"]!["Input"]!.GetValue<decimal>(), Is.EqualTo(9m));
        Assert.That(cage["Pricing"]!["LocalModels"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "ollama/*", "vllm/*" }));
        Assert.That(cage["Budgets"]!["OnExceed"]!.GetValue<string>(), Is.EqualTo("block"));
        Assert.That(cage["Budgets"]!.AsObject().Select(p => p.Key), Is.EqualTo(new[] { "OnExceed", "Nodes" }));
        Assert.That(cage["Budgets"]!["Nodes"]!["day"]!["Usd"]!.GetValue<decimal>(), Is.EqualTo(25m));
        Assert.That(cage["Budgets"]!["Nodes"]!["day"]!["Tokens"]!.GetValue<decimal>(), Is.EqualTo(100000m));
        Assert.That(changes, Has.Count.EqualTo(4));
    }

    [Test]
    public void MergeInto_SamePolicyTwice_ChangesNothingTheSecondTime()
    {
        var document = new JsonObject();
        var policy = Map("[tools]\norder = [\"a\", \"b\"]\n[pricing]\nlocal = [\"ollama/*\"]\n");
        policy.MergeInto(document);
        var first = document.ToJsonString();

        var changes = policy.MergeInto(document);

        Assert.That(changes, Is.Empty);
        Assert.That(document.ToJsonString(), Is.EqualTo(first));
    }

    [Test]
    public void Locate_ImportFolderWithDotCage_FindsThePolicy()
    {
        var root = Path.Combine(Path.GetTempPath(), "cage-cli-tests", Guid.NewGuid().ToString("N"));
        var ledger = Path.Combine(root, ".cage", "ledger");
        Directory.CreateDirectory(ledger);
        var toml = Path.Combine(root, ".cage", "policy.toml");
        File.WriteAllText(toml, "");
        try
        {
            Assert.That(ReferencePolicy.Locate(root), Is.EqualTo(toml));
            Assert.That(ReferencePolicy.Locate(Path.Combine(root, ".cage")), Is.EqualTo(toml));
            Assert.That(ReferencePolicy.Locate(ledger), Is.EqualTo(toml));
            Assert.That(ReferencePolicy.Locate(Path.Combine(ledger, "calls.jsonl")), Is.EqualTo(toml));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
