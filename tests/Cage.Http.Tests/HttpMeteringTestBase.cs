using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Http.Tests;

/// <summary>A replay server plus a DI container with Cage (in-memory ledger, the fixtures' price sample) and a metered HttpClient.</summary>
public abstract class HttpMeteringTestBase
{
    private protected ReplayServer Server { get; private set; } = null!;

    private protected ServiceProvider Services { get; private set; } = null!;

    private protected InMemoryLedger Ledger { get; private set; } = null!;

    private protected ICageMeter Meter => Services.GetRequiredService<ICageMeter>();

    [SetUp]
    public async Task StartAsync()
    {
        Server = await ReplayServer.StartAsync();
        Ledger = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage(o =>
        {
            o.Metering.SetAsStaticDefault = false;
            o.Pricing.MapFile = WireFixtures.PathOf("litellm_prices_sample.json");
        }).AddInMemoryLedger(Ledger);
        services.AddHttpClient("llm", c => c.BaseAddress = Server.BaseAddress).AddCageMetering(ConfigureMetering);
        services.AddHttpClient("raw", c => c.BaseAddress = Server.BaseAddress);
        Configure(services);
        Services = services.BuildServiceProvider();
    }

    [TearDown]
    public async Task StopAsync()
    {
        await Services.DisposeAsync();
        await Server.DisposeAsync();
    }

    private protected virtual void ConfigureMetering(CageHttpMeteringOptions options)
    {
    }

    private protected virtual void Configure(IServiceCollection services)
    {
    }

    private protected HttpClient Client(string name = "llm") => Services.GetRequiredService<IHttpClientFactory>().CreateClient(name);

    private protected async Task<IReadOnlyList<CallRecord>> CallsAsync()
    {
        await Meter.FlushAsync();
        return Ledger.Calls;
    }

    private protected static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
