using System.Diagnostics;
using System.Globalization;
using CageNet.AspNetCore;
using CageNet.Attribution;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace CageNet.Benchmarks;

/// <summary>
/// The dashboard at ledger scale (SPEC 9, issue 15): a 1M-call, 3M-receipt SQLite ledger (the scale harness's traffic,
/// generated once into --dir), the dashboard mapped in a Kestrel host on loopback, and each JSON endpoint the pages
/// read timed over real HTTP (median of 15 after a warm-up); then, when Debian's chromium is installed, the overview's
/// first contentful paint and the time until its chart is drawn, in headless Chromium.
/// </summary>
internal static class DashboardLoad
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 1_000_000;
        var dir = Path.Combine(Path.GetTempPath(), "cage-dashboard");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[++i]; break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
            }
        }

        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"dashboard-{calls}.db");
        if (!File.Exists(path))
        {
            var sw = Stopwatch.StartNew();
            await using (var writer = SqliteLedger.Open(path + ".tmp"))
            {
                await foreach (var (c, r) in LedgerScale.GenerateAhead(calls, Start, PriceCatalog.BuiltIn, receipts: true))
                {
                    await writer.AppendAsync(new LedgerBatch(c, r));
                }
            }

            File.Move(path + ".tmp", path);
            Console.WriteLine($"generated {path}: {calls:N0} calls + {3L * calls:N0} receipts in {sw.Elapsed.TotalSeconds:F1} s");
        }

        // The clock stands at the end of the generated 90 days, so "the last 7 days" and "the last 48 hours" hold calls.
        var clock = new FixedClock(Start.AddDays(90));
        Console.WriteLine($"# dashboard over {calls:N0} calls + {3L * calls:N0} receipts ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription})");
        var ledger = SqliteLedger.Open(path);
        await using (ledger)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Services.AddSingleton<TimeProvider>(clock);
            builder.Services.AddSingleton<ILedgerReader>(ledger);
            builder.Services.AddSingleton<IAttributionService>(new AttributionService(ledger, PriceCatalog.BuiltIn, ["graphify", "fux", "compressor", "cache", "router"], clock));
            var app = builder.Build();
            app.MapCageDashboard("/");
            await app.StartAsync();
            await using (app)
            {
                var baseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
                using var http = new HttpClient { BaseAddress = baseAddress };
                var callId = (await ledger.CallsForTaskAsync("task-12345"))[0].Id;
                string[] endpoints =
                [
                    "api/report?by=model", "api/report?by=route", "api/report?by=agent", "api/report?by=user", "api/report?by=session",
                    "api/report?by=task", "api/report?by=task&top=100", "api/report?by=task&top=100&offset=10000", "api/report?by=task&top=100&offset=19900",
                    "api/report?by=task&top=250&offset=19750", "api/report?by=session&top=100", "api/report?by=task&top=100&since=7d",
                    "api/report?by=model&since=7d",
                    "api/series?bucket=day&by=model", "api/series?bucket=day&by=route&since=30d", "api/series?bucket=day&by=agent&since=7d",
                    "api/series?bucket=hour&by=model", "api/series?bucket=hour&by=model&since=24h", "api/series?bucket=hour&by=route&since=7d",
                    "api/series?bucket=hour&by=agent&since=14d", "api/series?bucket=hour&by=user&since=48h",
                    "api/series?bucket=hour&by=session&since=48h", "api/series?bucket=day&by=session&since=7d", "api/series?bucket=day&by=task&since=7d",
                    "api/calls?limit=100", $"api/why/{callId}", "api/attrib?task=task-12345", "api/matrix?task=task-12345", "api/attrib",
                    "api/roi?since=7d", "api/roi", "api/forecast", "api/budget", "",
                ];
                Console.WriteLine($"{"endpoint",-46} {"median",9} {"p90",9} {"bytes",9}");
                foreach (var endpoint in endpoints)
                {
                    var times = new List<double>();
                    long bytes = 0;
                    for (var run = 0; run < 16; run++)
                    {
                        var sw = Stopwatch.StartNew();
                        using var response = await http.GetAsync(endpoint);
                        var body = await response.Content.ReadAsByteArrayAsync();
                        sw.Stop();
                        if (!response.IsSuccessStatusCode)
                        {
                            Console.Error.WriteLine($"{endpoint}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
                            return 1;
                        }

                        bytes = body.Length;
                        if (run > 0)
                        {
                            times.Add(sw.Elapsed.TotalMilliseconds);
                        }
                    }

                    times.Sort();
                    Console.WriteLine($"{"/" + endpoint,-46} {times[times.Count / 2],6:F1} ms {times[(int)(times.Count * 0.9)],6:F1} ms {bytes,9:N0}");
                }

                FirstPaint(baseAddress);
            }
        }

        return 0;
    }

    /// <summary>Loads the overview six times in headless Chromium (the first warms up): first contentful paint and the page's own mark of its first render with data, medians.</summary>
    private static void FirstPaint(Uri address)
    {
        if (!File.Exists("/usr/bin/chromium") || !File.Exists("/usr/bin/chromedriver"))
        {
            Console.WriteLine("first paint: not measured (no /usr/bin/chromium and /usr/bin/chromedriver)");
            return;
        }

        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        var profile = Directory.CreateTempSubdirectory("cage-bench-chromium-");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir=" + profile.FullName);
        using var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        using var driver = new ChromeDriver(service, options);
        var paints = new List<double>();
        var charts = new List<double>();
        for (var run = 0; run < 6; run++)
        {
            driver.Navigate().GoToUrl("about:blank");
            driver.Navigate().GoToUrl(address.AbsoluteUri);
            var sw = Stopwatch.StartNew();
            while (driver.FindElements(By.CssSelector("#spend-chart rect.seg")).Count == 0 && sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(5);
            }

            var paint = Convert.ToDouble(driver.ExecuteScript("const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : -1;"), CultureInfo.InvariantCulture);
            var drawn = Convert.ToDouble(driver.ExecuteScript("const m = performance.getEntriesByName('cage:rendered')[0]; return m ? m.startTime : -1;"), CultureInfo.InvariantCulture);
            if (run > 0)
            {
                paints.Add(paint);
                charts.Add(drawn);
            }
        }

        var resources = driver.ExecuteScript("return performance.getEntriesByType('resource').map(e => e.name.replace(location.origin, '') + ' ' + Math.round(e.startTime) + '→' + Math.round(e.responseEnd) + ' ms').join('; ');");
        Console.WriteLine($"  requests of the last load (start→end after navigation): {resources}");
        driver.Quit();
        paints.Sort();
        charts.Sort();
        Console.WriteLine($"overview in headless Chromium: first contentful paint {paints[paints.Count / 2]:F0} ms, page with its chart rendered at {charts[charts.Count / 2]:F0} ms after navigation (medians of 5)");
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
