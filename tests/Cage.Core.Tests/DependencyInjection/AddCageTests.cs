using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.DependencyInjection;

public class AddCageTests
{
    [TearDown]
    public void ResetFacade() => Cage.Use(null);

    [Test]
    public async Task AddCage_TestFixture_AssertsSpendWithInMemoryLedgerAndFakeClock()
    {
        // The README's test-fixture example.
        var ledger = new InMemoryLedger();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCage().AddInMemoryLedger(ledger);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();

        using (var m = meter.Meter("code-edit", task: "fix-bug"))
        {
            clock.Advance(TimeSpan.FromSeconds(2));
            m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
        }

        await meter.FlushAsync();
        Assert.That(ledger.IsLowerBound, Is.False);                     // an unpriced call would make the total a lower bound
        Assert.That(ledger.TotalCostUsd, Is.LessThanOrEqualTo(0.05m));
        Assert.That(ledger.UnpricedCalls, Is.Zero);
        Assert.That(ledger.TotalCostUsd, Is.EqualTo(0.0483m));
        Assert.That(ledger.Calls.Single().LatencyMs, Is.EqualTo(2000));
    }

    [Test]
    public void AddCage_CalledTwice_RegistersOneMeter()
    {
        var services = new ServiceCollection();
        services.AddCage();
        services.AddCage();
        Assert.That(services.Count(d => d.ServiceType == typeof(ICageMeter)), Is.EqualTo(1));
        Assert.That(services.Count(d => d.ServiceType == typeof(IValidateOptions<CageOptions>)), Is.EqualTo(1));
    }

    [Test]
    public async Task AddCage_BoundFromConfigurationSection_UsesToolsOrderAndPriceOverrides()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cage:Tools:Order:0"] = "graphify",
            ["Cage:Tools:Order:1"] = "fux",
            ["Cage:Pricing:Overrides:acme/house-model:Input"] = "2",
            ["Cage:Pricing:Overrides:acme/house-model:Output"] = "8",
            ["Cage:Pricing:LocalModels:0"] = "ollama/*",
        }).Build();
        var services = new ServiceCollection();
        services.AddCage(config.GetSection(CageOptions.SectionName)).AddInMemoryLedger();
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<CageOptions>>().Value;
        Assert.That(options.Tools.Order, Is.EqualTo(new[] { "graphify", "fux" }));
        var catalog = provider.GetRequiredService<PriceCatalog>();
        var quote = catalog.Price("acme", "house-model", new TokenUsage(1_000_000, Output: 1_000_000));
        Assert.That(quote.CostUsd, Is.EqualTo(10m));
        Assert.That(catalog.Price("ollama", "llama3", new TokenUsage(100)).Source, Is.EqualTo(CostSource.Local));
        // The override added a model without un-pricing the built-in ones.
        Assert.That(catalog.Price("anthropic", "claude-opus-4-8", new TokenUsage(8600, Output: 1500)).CostUsd, Is.EqualTo(0.0483m));
    }

    [Test]
    public async Task AddCage_InvalidOptions_FailValidationWithClearMessages()
    {
        var services = new ServiceCollection();
        services.AddCage(o =>
        {
            o.Metering.QueueCapacity = 2;
            o.Metering.FullQueueWait = TimeSpan.FromSeconds(-1);
            o.Tools.Order.AddRange(["fux", "fux"]);
            o.Pricing.Overrides["acme/x"] = new ModelPriceOverride { Input = -1, Output = 1 };
            o.Pricing.MapFile = "/no/such/prices.json";
        });
        await using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => _ = provider.GetRequiredService<IOptions<CageOptions>>().Value);
        var message = string.Join("\n", ex!.Failures);
        Assert.That(message, Does.Contain("Cage:Metering:QueueCapacity"));
        Assert.That(message, Does.Contain("Cage:Metering:FullQueueWait must be between 00:00:00 and 00:10:00 (got -00:00:01)"));
        Assert.That(message, Does.Contain("'fux' twice"));
        Assert.That(message, Does.Contain("Cage:Pricing:Overrides:acme/x:Input"));
        Assert.That(message, Does.Contain("/no/such/prices.json"));
    }

    [Test]
    public async Task AddCage_ResolvedMeter_BecomesTheStaticFacadeInstance()
    {
        var ledger = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage().AddInMemoryLedger(ledger);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        Assert.That(Cage.Instance, Is.SameAs(meter));

        using (var m = Cage.Meter("code-edit"))
        {
            m.Usage("openai", "gpt-4o", input: 100, output: 10);
        }

        await Cage.FlushAsync();
        Assert.That(ledger.Calls.Single().Route, Is.EqualTo("code-edit"));
    }

    [Test]
    public async Task DisposeProvider_DrainsPendingRecords()
    {
        var ledger = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage().AddInMemoryLedger(ledger);
        var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        for (var i = 0; i < 1000; i++)
        {
            using var m = meter.Meter("chat");
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        await provider.DisposeAsync();
        Assert.That(ledger.Calls, Has.Count.EqualTo(1000));
    }
}
