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

    private sealed class TestCageBuilder(IServiceCollection services) : ICageBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
