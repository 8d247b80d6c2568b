using System.Net.Http.Json;
using CageNet.Budgets;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Http.Tests;

public sealed class BudgetTests : HttpMeteringTestBase
{
    // anthropic_messages_nonstream.json costs $0.124218 with the fixtures' price sample (expected_normalized.json).
    private const decimal Cap = 0.2m;

    private protected override void Configure(IServiceCollection services) =>
        new TestCageBuilder(services).AddBudgets(o => o.Node("org").CapUsd(Cap).Every(BudgetPeriod.Day).Block());

    private static StringContent Sonnet() => Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}""");

    [Test]
    public async Task SendAsync_CapCrossed_NextRequestIsRefusedBeforeItIsSent()
    {
        var client = Client();
        using (var first = await client.PostAsync("v1/messages", Sonnet())) { await first.Content.ReadAsByteArrayAsync(); }
        using (var second = await client.PostAsync("v1/messages", Sonnet())) { await second.Content.ReadAsByteArrayAsync(); } // 0.248436: crosses the cap

        var ex = Assert.ThrowsAsync<BudgetExceededException>(() => client.PostAsync("v1/messages", Sonnet()));

        Assert.Multiple(() =>
        {
            Assert.That(Server.RequestBodies, Has.Count.EqualTo(2), "the refused request never reached the server");
            Assert.That(Services.GetRequiredService<BudgetGuard>().OpenReservations, Is.Zero, "the refused request holds nothing");
            Assert.That(ex!.Refusal.Node, Is.EqualTo("org"));
            Assert.That(ex.Refusal.Spent, Is.EqualTo(2 * 0.124218m));
            Assert.That(ex.Refusal.Cap, Is.EqualTo(Cap));
        });
    }

    [Test]
    public async Task SendAsync_StreamSettlesTheReservationWithTheActualCost()
    {
        var guard = Services.GetRequiredService<BudgetGuard>();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = Json("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""") };
        using var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(guard.OpenReservations, Is.EqualTo(1), "reserved while the stream is open");
        await response.Content.ReadAsStringAsync();

        var org = guard.GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(guard.OpenReservations, Is.Zero);
            Assert.That(org.Usd.Spent, Is.EqualTo(WireFixtures.Expected("openai_chat_stream_include_usage.sse").Cost));
            Assert.That(org.Usd.Reserved, Is.Zero);
        });
    }

    [Test]
    public async Task SendAsync_UnifiedUtilizationHeaders_FeedTheSubscriptionEstimator()
    {
        var guard = Services.GetRequiredService<BudgetGuard>();

        using (var response = await Client().PostAsync("v1/messages", Sonnet())) { await response.Content.ReadAsByteArrayAsync(); }

        Assert.Multiple(() =>
        {
            Assert.That(guard.Estimator.Latest("5h")?.Utilization, Is.EqualTo(0.21));
            Assert.That(guard.Estimator.Latest("7d")?.Utilization, Is.EqualTo(0.68));
        });
    }

    [Test]
    public async Task SendAsync_ServerError_ReleasesTheReservation()
    {
        var guard = Services.GetRequiredService<BudgetGuard>();

        using (var response = await Client().PostAsync("limited/v1/messages", Sonnet())) { await response.Content.ReadAsByteArrayAsync(); }

        var org = guard.GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(guard.OpenReservations, Is.Zero);
            Assert.That(org.Usd.Spent, Is.Zero);
            Assert.That(org.Usd.Reserved, Is.Zero);
        });
    }

    [Test]
    public async Task PostAsJsonAsync_Stream_SettlesTheReservationWithTheReportedCost()
    {
        var guard = Services.GetRequiredService<BudgetGuard>();
        using (var response = await Client().PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", stream = true, messages = Array.Empty<object>() }))
        {
            await response.Content.ReadAsStringAsync();
        }

        var org = guard.GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(org.Usd.Spent, Is.EqualTo(0.0003369m), "86 input, 1920 cache-read, 300 output tokens of gpt-4o-mini-2024-07-18");
            Assert.That(org.Tokens.Spent, Is.EqualTo(2306));
            Assert.That(org.Usd.Reserved, Is.Zero);
        });
    }

    [Test]
    public async Task SendAsync_StreamWithoutUsage_SettlesFromTheServedModelAndWhatWasSeen()
    {
        // 92 request bytes -> 23 input tokens; "" + "Hello" + "!" = 6 text bytes -> 2 output tokens;
        // at gpt-4o-mini-2024-07-18 prices: 23 x 0.00000015 + 2 x 0.0000006 = 0.00000465.
        var body = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":false},"messages":[]}""";
        using (var response = await Client().PostAsync("v1/chat/completions", Json(body)))
        {
            await response.Content.ReadAsStringAsync();
        }

        var guard = Services.GetRequiredService<BudgetGuard>();
        var org = guard.GetStatus("org").Nodes.Single();
        var call = (await CallsAsync()).Single();
        Assert.Multiple(() =>
        {
            Assert.That(org.Usd.Spent, Is.EqualTo(0.00000465m));
            Assert.That(org.Tokens.Spent, Is.EqualTo(25));
            Assert.That(org.Usd.Reserved, Is.Zero);
            Assert.That(guard.OpenReservations, Is.Zero);
            Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing), "the ledger record stays honest: usage missing");
            Assert.That(call.CostUsd, Is.Null);
        });
    }

    private sealed class TestCageBuilder(IServiceCollection services) : ICageBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}

public sealed class HandlerBudgetTests : HttpMeteringTestBase
{
    [Test]
    public async Task SendAsync_GuardGivenToTheHandlerAndMeterNotWired_ChargesTheCallsCost()
    {
        var options = new BudgetOptions();
        options.Node("org").CapUsd(1m).Block();
        using var guard = new BudgetGuard(options);
        var services = new ServiceCollection();
        services.AddCage(o => { o.Metering.SetAsStaticDefault = false; o.Pricing.MapFile = WireFixtures.PathOf("litellm_prices_sample.json"); });
        await using var sp = services.BuildServiceProvider();
        using var handler = new CageMeteringHandler(sp.GetRequiredService<ICageMeter>(), budget: guard) { InnerHandler = new HttpClientHandler() };
        using var client = new HttpClient(handler) { BaseAddress = Server.BaseAddress };

        using (var response = await client.PostAsync("v1/messages", Json("""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[]}""")))
        {
            await response.Content.ReadAsByteArrayAsync();
        }

        var org = guard.GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            Assert.That(org.Usd.Spent, Is.EqualTo(0.124218m), "anthropic_messages_nonstream.json at the sample's claude-sonnet-4-6 prices");
            Assert.That(org.Usd.Reserved, Is.Zero);
            Assert.That(guard.OpenReservations, Is.Zero);
        });
    }
}

public sealed class TinyCapBudgetTests : HttpMeteringTestBase
{
    private protected override void Configure(IServiceCollection services) =>
        new Builder(services).AddBudgets(o => o.Node("org").CapUsd(0.000001m).Block());

    [Test]
    public async Task PostAsJsonAsync_StreamsUnderATinyBlockCap_AreRefusedBeforeTheyAreSent()
    {
        var refused = 0;
        for (var i = 0; i < 5; i++)
        {
            try
            {
                using var response = await Client().PostAsJsonAsync("v1/chat/completions", new { model = "gpt-4o-mini", stream = true, messages = Array.Empty<object>() });
                await response.Content.ReadAsStringAsync();
            }
            catch (BudgetExceededException)
            {
                refused++;
            }
        }

        var org = Services.GetRequiredService<BudgetGuard>().GetStatus("org").Nodes.Single();
        Assert.Multiple(() =>
        {
            // The body is read: model gpt-4o-mini, 52 bytes -> 13 input tokens, 1024 output tokens by default, an
            // estimate of 13 x 0.00000015 + 1024 x 0.0000006 = 0.00061635 > the 0.000001 cap: nothing is sent.
            Assert.That(refused, Is.EqualTo(5));
            Assert.That(Server.RequestBodies, Is.Empty);
            Assert.That(org.Usd.Spent, Is.Zero);
            Assert.That(org.Usd.Reserved, Is.Zero);
        });
    }

    private sealed class Builder(IServiceCollection services) : ICageBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
