using System.Diagnostics;
using System.Globalization;
using CageNet.Configuration;
using CageNet.Metering;
using CageNet.Pricing;
using CageNet.Proxy;

namespace CageNet.Benchmarks;

/// <summary>
/// <c>cage proxy</c> under load on loopback, against a direct connection in the same run (issue 14, item 7): the
/// latency it adds at p50 and p99 (JSON, and time to first byte of a stream), non-streaming requests per second with
/// 32 concurrent clients, and memory across 10,000 streamed requests with 200 in flight. The provider is the same
/// Kestrel server <see cref="HttpMeterBenchmarks"/> uses; the meter discards, so what is measured is the proxy.
/// </summary>
internal static class ProxyLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5_000;
        await using var provider = HttpMeterBenchmarks.StartProvider(out var upstream);
        await using var meter = new CageMeter(new HttpMeterBenchmarks.DiscardSink(), PriceCatalog.BuiltIn, TimeProvider.System, new MeteringOptions { QueueCapacity = 1 << 20 });
        var options = new CageProxyOptions();
        options.Upstreams["openai"] = upstream;
        await using var proxy = await CageProxy.StartAsync(meter, options);
        using var direct = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { BaseAddress = upstream };
        using var proxied = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512 }) { BaseAddress = proxy.BaseAddressFor("openai") };

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        for (var i = 0; i < 500; i++)
        {
            await HttpMeterBenchmarks.Json(direct);
            await HttpMeterBenchmarks.Json(proxied);
            await HttpMeterBenchmarks.Stream(proxied);
        }

        // Latency: the two paths interleaved request by request, so drift in the machine hits both alike.
        var directJson = new List<double>(requests);
        var proxyJson = new List<double>(requests);
        var directFirst = new List<double>(requests);
        var proxyFirst = new List<double>(requests);
        for (var i = 0; i < requests; i++)
        {
            directJson.Add(await TimeAsync(() => HttpMeterBenchmarks.Json(direct)));
            proxyJson.Add(await TimeAsync(() => HttpMeterBenchmarks.Json(proxied)));
            directFirst.Add(await FirstByteAsync(direct));
            proxyFirst.Add(await FirstByteAsync(proxied));
        }

        Report("JSON round trip", directJson, proxyJson);
        Report("stream, time to first byte", directFirst, proxyFirst);

        // Throughput: 32 concurrent clients for 10 seconds each way.
        var directRate = await RateAsync(direct, TimeSpan.FromSeconds(10));
        var proxyRate = await RateAsync(proxied, TimeSpan.FromSeconds(10));
        Console.WriteLine($"non-streaming requests/s, 32 concurrent: direct {directRate:N0}, proxy {proxyRate:N0} ({proxyRate / directRate:P0} of direct)");

        // Memory: 10,000 streamed requests through the proxy, 200 in flight, sampled every 1,000.
        var samples = new List<(int Done, long Managed, long WorkingSet)>();
        var done = 0;
        var next = 0;
        var gate = new object();
        async Task Worker()
        {
            while (Interlocked.Increment(ref next) <= 10_000)
            {
                await HttpMeterBenchmarks.Stream(proxied);
                var n = Interlocked.Increment(ref done);
                if (n % 1_000 == 0)
                {
                    lock (gate)
                    {
                        samples.Add((n, GC.GetTotalMemory(forceFullCollection: false), Environment.WorkingSet));
                    }
                }
            }
        }

        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(Worker)));
        Console.WriteLine($"10,000 streams, 200 concurrent: {clock.Elapsed.TotalSeconds:N1} s; managed heap / working set (MiB) every 1,000:");
        foreach (var (n, managed, ws) in samples.OrderBy(s => s.Done))
        {
            Console.WriteLine($"  {n,6:N0}  {managed / 1048576.0,7:N1}  {ws / 1048576.0,7:N1}");
        }

        var flushed = await meter.FlushAsync();
        Console.WriteLine($"metered: {flushed.Written:N0} calls written, {flushed.Dropped:N0} dropped");
        return 0;
    }

    private static async Task<double> TimeAsync(Func<Task<int>> call)
    {
        var start = Stopwatch.GetTimestamp();
        await call();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static async Task<double> FirstByteAsync(HttpClient client)
    {
        var start = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[4096];
        _ = await body.ReadAsync(buffer);
        var first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        while (await body.ReadAsync(buffer) > 0)
        {
        }

        return first;
    }

    private static async Task<double> RateAsync(HttpClient client, TimeSpan length)
    {
        var count = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < length)
            {
                await HttpMeterBenchmarks.Json(client);
                Interlocked.Increment(ref count);
            }
        })));
        return count / clock.Elapsed.TotalSeconds;
    }

    private static void Report(string what, List<double> direct, List<double> proxy)
    {
        double P(List<double> v, double q) => v.Order().ElementAt((int)Math.Min(v.Count - 1, Math.Round(q * (v.Count - 1))));
        Console.WriteLine($"{what} (ms, n={direct.Count:N0}): direct p50 {P(direct, 0.5):N3} p99 {P(direct, 0.99):N3}; " +
            $"proxy p50 {P(proxy, 0.5):N3} p99 {P(proxy, 0.99):N3}; added p50 {P(proxy, 0.5) - P(direct, 0.5):N3} p99 {P(proxy, 0.99) - P(direct, 0.99):N3}");
    }
}
