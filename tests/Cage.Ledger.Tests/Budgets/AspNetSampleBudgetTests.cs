using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace CageNet.Tests.Budgets;

/// <summary>The ASP.NET sample enforces its per-user daily cap ($0.001, users/{user}) through DI, over real HTTP on loopback.</summary>
[NonParallelizable]
public sealed class AspNetSampleBudgetTests
{
    [Test]
    [CancelAfter(120_000)]
    public async Task Chat_UserPastTheirCap_IsRefusedBeforeTheCallWhileOthersGoOn(CancellationToken cancellationToken)
    {
        var folder = TestLedger.NewFolder();
        var sample = typeof(AspNetSampleBudgetTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "AspNetSampleAssembly").Value!;
        var port = FreePort();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(sample)!,
        };
        foreach (var arg in new[] { sample, "--urls", $"http://127.0.0.1:{port}", "--Cage:LedgerPath", Path.Combine(folder, "ledger.db") })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitUntilUpAsync(http, cancellationToken);

            // gpt-4o-mini, 1,200 in + 250 out = $0.00033 a call: three calls are $0.00099, the 4th crosses $0.001.
            for (var n = 0; n < 4; n++)
            {
                var ok = await http.PostAsync("/chat?user=alice", null, cancellationToken);
                Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"call {n + 1}");
            }

            var refused = await http.PostAsync("/chat?user=alice", null, cancellationToken);
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            var body = await refused.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            Assert.That(body.GetProperty("stop_reason").GetString(), Is.EqualTo("budget_exceeded"));
            Assert.That(body.GetProperty("node").GetString(), Is.EqualTo("users/alice"));
            Assert.That(body.GetProperty("spent").GetDecimal(), Is.EqualTo(0.00132m));
            Assert.That(body.GetProperty("cap").GetDecimal(), Is.EqualTo(0.001m));

            Assert.That((await http.PostAsync("/chat?user=bob", null, cancellationToken)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var status = await http.GetFromJsonAsync<JsonElement>("/budget?user=alice", cancellationToken);
            Assert.That(status.GetProperty("proceed").GetBoolean(), Is.False);
            Assert.That(status.GetProperty("nodes")[0].GetProperty("spent").GetDecimal(), Is.EqualTo(0.00165m), "users: alice's 4 calls and bob's");

            // The host queries attribution in-process: 800 tokens spared at gpt-4o-mini's $0.15 / 1M input = $0.00012.
            Assert.That((await http.PostAsync("/chat?user=carol&task=t1&compressed=800", null, cancellationToken)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var savings = await http.GetFromJsonAsync<JsonElement>("/savings?task=t1", cancellationToken);
            var tool = savings.GetProperty("tools")[0];
            Assert.That(tool.GetProperty("tool").GetString(), Is.EqualTo("compressor"));
            Assert.That(tool.GetProperty("saved").GetDecimal(), Is.EqualTo(800m));
            Assert.That(tool.GetProperty("saved_usd").GetDecimal(), Is.EqualTo(0.00012m));
            Assert.That(savings.GetProperty("total_saved_usd").GetDecimal(), Is.EqualTo(0.00012m));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitUntilUpAsync(HttpClient http, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            try
            {
                using var response = await http.GetAsync("/budget?user=probe", cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, cancellationToken);
        }

        Assert.Fail("the ASP.NET sample did not start");
    }
}
