using System.Text;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace CageNet.Http.Tests;

/// <summary>An Authorization header and a prompt sent through the meter never reach the ledger file or the logs.</summary>
public sealed class CanaryTests
{
    private const string KeyCanary = "sk-canary-7f3a9c1e5b2d4f6a8c0e";
    private const string PromptCanary = "CANARY-PROMPT-please-never-store-this-9e8d7c";

    [Test]
    public async Task MeteredCalls_NeverWriteKeysOrPromptsToTheLedgerFileOrLogs()
    {
        var folder = Directory.CreateTempSubdirectory("cage-canary-").FullName;
        try
        {
            await using var server = await ReplayServer.StartAsync();
            server.ReleaseGate.SetResult();
            var services = new ServiceCollection();
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace)).AddFakeLogging();
            services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = Path.Combine(folder, "ledger.db"));
            services.AddHttpClient("llm", c => c.BaseAddress = server.BaseAddress).AddCageMetering();
            var provider = services.BuildServiceProvider();
            await using (provider)
            {
                var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("llm");
                client.DefaultRequestHeaders.Add("Authorization", $"Bearer {KeyCanary}");
                client.DefaultRequestHeaders.Add("x-api-key", KeyCanary);
                foreach (var (path, body) in new[]
                {
                    ("v1/chat/completions", $$"""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"{{PromptCanary}}"}]}"""),
                    ("v1/messages", $$"""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"{{PromptCanary}}"}]}"""),
                    ("limited/v1/messages", $$"""{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"{{PromptCanary}}"}]}"""),
                })
                {
                    using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
                    await response.Content.ReadAsStringAsync();
                }

                await provider.GetRequiredService<ICageMeter>().FlushAsync();
                var logs = provider.GetFakeLogCollector().GetSnapshot();
                Assert.That(server.RequestBodies.All(b => b.Contains(PromptCanary, StringComparison.Ordinal)), Is.True, "the prompt did reach the provider");
                Assert.That(logs.Select(l => l.Message + l.Exception), Has.None.Contains(KeyCanary).And.None.Contains(PromptCanary));
            }

            var stored = Directory.EnumerateFiles(folder).Select(f => Encoding.UTF8.GetString(File.ReadAllBytes(f))).ToList();
            Assert.Multiple(() =>
            {
                Assert.That(stored, Is.Not.Empty);
                Assert.That(stored.Any(s => s.Contains("gpt-4o-mini-2024-07-18", StringComparison.Ordinal)), Is.True, "the calls were written");
                Assert.That(stored, Has.None.Contains(KeyCanary));
                Assert.That(stored, Has.None.Contains(PromptCanary));
                Assert.That(stored, Has.None.Contains("Bearer"));
            });
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
