using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CageNet.Cli;
using CageNet.Http.Tests;

namespace CageNet.Proxy.Tests;

/// <summary><c>cage proxy</c> as the command line runs it: a real port, a real upstream, the workspace's SQLite ledger.</summary>
[TestFixture]
public sealed class ProxyCommandTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("cage-proxy-cli-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<int> Run(TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken, params string[] args) =>
        CageCli.RunAsync(args, stdout, stderr, TimeProvider.System, _folder, new Dictionary<string, string?>(), cancellationToken: cancellationToken);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port, Task running)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !running.IsCompleted)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Fail(running.IsCompleted ? $"cage proxy exited with {await (Task<int>)running}" : "cage proxy did not start listening");
    }

    [Test]
    public async Task Proxy_MetersIntoTheWorkspaceLedger_AndStopsCleanlyOnCancel()
    {
        await using var upstream = await ReplayServer.StartAsync();
        var port = FreePort();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var stop = new CancellationTokenSource();
        var running = Run(TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), stop.Token,
            "proxy", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--upstream", $"openai={upstream.BaseAddress}");
        await WaitForPortAsync(port, running);

        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/openai/") })
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[]}""", Encoding.UTF8, "application/json"),
        })
        {
            request.Headers.Add("X-Cage-Task", "fix-bug");
            using var response = await client.SendAsync(request);
            Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("[DONE]"));
        }

        stop.Cancel();
        var exit = await running.WaitAsync(TimeSpan.FromSeconds(30));
        using var reportOut = new StringWriter();
        using var reportErr = new StringWriter();
        var report = await Run(reportOut, reportErr, CancellationToken.None, "report", "--by", "task", "--json");

        Assert.That(exit, Is.Zero, stderr.ToString());
        Assert.That(stdout.ToString(), Does.Contain($"cage proxy listening on http://127.0.0.1:{port}/")
            .And.Contain($"OPENAI_BASE_URL=http://127.0.0.1:{port}/openai/v1")
            .And.Contain("cage proxy stopped: 1 call written"));
        Assert.That(report, Is.Zero, reportErr.ToString());
        var group = JsonDocument.Parse(reportOut.ToString()).RootElement.GetProperty("groups").GetProperty("fix-bug");
        Assert.That(group.GetProperty("calls").GetInt32(), Is.EqualTo(1));
        Assert.That(group.GetProperty("output").GetInt64(), Is.EqualTo(WireFixtures.Expected("openai_chat_stream_include_usage.sse").Usage.Output));
    }

    [TestCase("--upstream", "azure=http://x", "provider one of openai, anthropic, gemini, openrouter")]
    [TestCase("--upstream", "openai=ftp://x", "absolute http:// or https://")]
    [TestCase("--listen", "not-an-ip", "is not an IP address")]
    [TestCase("--port", "70000", "is not a TCP port")]
    public async Task Proxy_BadOption_IsExit2NamingIt(string option, string value, string message)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var exit = await Run(stdout, stderr, CancellationToken.None, "proxy", option, value);

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr.ToString(), Does.StartWith("cage: " + option).And.Contain(message));
    }
}
