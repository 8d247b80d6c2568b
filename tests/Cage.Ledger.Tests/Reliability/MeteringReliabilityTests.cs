using System.Diagnostics;
using System.Reflection;
using System.Text;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CageNet.Tests.Reliability;

/// <summary>SPEC 10 end to end: the app's calls survive ledger faults, shutdown drains, and no prompt text is ever stored.</summary>
[NonParallelizable]
public sealed class MeteringReliabilityTests
{
    private const string Canary = "CANARY-PROMPT-5d1e9b";
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = TestLedger.NewFolder();

    [TearDown]
    public void TearDown()
    {
        Cage.Use(null);
        TestLedger.DeleteFolder(_folder);
    }

    [Test]
    public async Task Meter_UnwritableLedgerPath_CallerUnaffectedFaultCountedAndMeteringResumesWhenFixed()
    {
        var blocker = Path.Combine(_folder, "not-a-folder");
        await File.WriteAllTextAsync(blocker, "a regular file where the ledger's folder should be");
        var path = Path.Combine(blocker, "ledger.db");
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.MaxRetries = 0).AddSqliteLedger(o => o.Path = path);
        await using var provider = services.BuildServiceProvider();

        var meter = provider.GetRequiredService<ICageMeter>();
        Assert.DoesNotThrow(() =>
        {
            using var m = meter.Meter("chat", task: "t");
            m.Usage("openai", "gpt-4o", input: 100, output: 10);
        });
        await meter.FlushAsync();
        Assert.That(meter.Statistics.Faults, Is.GreaterThanOrEqualTo(1));
        Assert.That(meter.Statistics.Dropped, Is.EqualTo(1));

        // The fault clears: the folder becomes writable, and the next records land.
        File.Delete(blocker);
        Directory.CreateDirectory(blocker);
        using (var m = meter.Meter("chat", task: "t"))
        {
            m.Usage("openai", "gpt-4o", input: 200, output: 20);
        }

        await meter.FlushAsync();
        var reader = provider.GetRequiredService<ILedgerReader>();
        var calls = await reader.CallsForTaskAsync("t");
        Assert.That(calls.Select(c => c.Usage.Input), Is.EqualTo(new long[] { 200 }));
    }

    [Test]
    public async Task Meter_TightLoopFasterThanTheSqliteWriter_DefaultOptionsLoseNothing()
    {
        // A producer metering as fast as it can outruns the SQLite writer, so the default 65,536-record queue fills up:
        // the producer waits for room (the ledger is healthy, only behind) instead of dropping.
        const int Calls = 300_000;
        var path = Path.Combine(_folder, "tight.db");
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path);
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            var peakQueued = 0L;
            for (var i = 0; i < Calls; i++)
            {
                using (var m = meter.Meter("chat", task: "t" + (i % 100)))
                {
                    m.Usage("openai", "gpt-4o", input: 100 + (i % 7), output: 10);
                }

                if ((i & 4095) == 0 && meter.Statistics is var s)
                {
                    peakQueued = Math.Max(peakQueued, s.Enqueued - s.Written - s.Dropped);
                }
            }

            var flushed = await meter.FlushAsync();
            Assert.That(flushed.Dropped, Is.EqualTo(0), "a healthy ledger that is only behind loses nothing");
            Assert.That(meter.Statistics.Dropped, Is.EqualTo(0));
            Assert.That(meter.Statistics.Written, Is.EqualTo(Calls));
            TestContext.Out.WriteLine($"peak queued: {peakQueued:N0}");
        }

        await using var ledger = SqliteLedger.Open(path);
        var report = await ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));
        Assert.That(report.Total.Calls, Is.EqualTo(Calls), "every call is in the ledger file");
    }

    [Test]
    public async Task Record_ReceiptTheLedgerRefuses_OnlyThatRecordIsDroppedAndNamed()
    {
        // A hand-made receipt with a default (year 1) timestamp lies outside the SQLite ledger's key range. It used
        // to fail its whole batch: the pipeline retried, then dropped every record that shared the batch.
        var path = Path.Combine(_folder, "refused.db");
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path);
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            using (var m = meter.Meter("chat", task: "t"))
            {
                m.Usage("openai", "gpt-4o", input: 100, output: 10);
                m.RecordReceipt("tool-a", 50, 20);
            }

            meter.Record(SavingsReceipt.Create("r_bad", default, "tool-b", 9, 1, callId: null, task: "t"));
            using (var m = meter.Meter("chat", task: "t"))
            {
                m.Usage("openai", "gpt-4o", input: 200, output: 20);
            }

            await meter.FlushAsync();
            Assert.That(meter.Statistics.Dropped, Is.EqualTo(1), "only the refused receipt is dropped");
            Assert.That(meter.Statistics.Written, Is.EqualTo(3));
        }

        using var ledger = SqliteLedger.Open(path);
        var calls = await ledger.CallsForTaskAsync("t");
        Assert.That(calls.Select(c => c.Usage.Input), Is.EqualTo(new long[] { 100, 200 }));
        var receipts = await ledger.ReceiptsForTaskAsync("t");
        Assert.That(receipts.Select(r => r.Tool), Is.EqualTo(new[] { "tool-a" }));
        Assert.That(logs.Lines.Count(l => l.Contains("refused (ts)", StringComparison.Ordinal)), Is.EqualTo(1), string.Join("\n", logs.Lines));
        Assert.That(logs.Lines.Any(l => l.Contains("retrying", StringComparison.Ordinal)), Is.False, "a refused record is not retried");
    }

    [Test]
    public async Task DisposeProvider_MeterResolvedBeforeFirstWrite_DrainsEveryRecordIntoSqlite()
    {
        var path = Path.Combine(_folder, "ledger.db");
        var services = new ServiceCollection();
        services.AddCage().AddSqliteLedger(o => o.Path = path);
        var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();
        for (var i = 0; i < 5000; i++)
        {
            using var m = meter.Meter("chat");
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        await provider.DisposeAsync(); // no FlushAsync: disposal must drain before the ledger closes

        using var ledger = SqliteLedger.Open(path);
        var report = await ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Total.Calls, Is.EqualTo(5000));
    }

    [Test]
    public async Task HostStop_FlushesMeterBeforeLedgerCloses()
    {
        var path = Path.Combine(_folder, "host.db");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddCage().AddSqliteLedger(o => o.Path = path);
        using (var host = builder.Build())
        {
            await host.StartAsync();
            var meter = host.Services.GetRequiredService<ICageMeter>();
            for (var i = 0; i < 2000; i++)
            {
                using var m = meter.Meter("chat", user: "u" + (i % 7));
                m.Usage("anthropic", "claude-opus-4-8", input: 10, output: 1);
            }

            await host.StopAsync();
        }

        using var ledger = SqliteLedger.Open(path);
        var report = await ledger.ReportAsync(new ReportQuery(ReportDimension.User, TimeWindow.All));
        Assert.That(report.Total.Calls, Is.EqualTo(2000));
        Assert.That(report.Groups, Has.Count.EqualTo(7));
    }

    [Test]
    public async Task CanaryPrompt_NeverAppearsInLedgerFilesLogsOrExport()
    {
        var path = Path.Combine(_folder, "pii.db");
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddCage().AddSqliteLedger(o => o.Path = path);
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            var prompt = $"Summarize the contract. {Canary} Keep it short.";

            // An ordinary metered call: the prompt lives in the app, only counts reach Cage.
            using (var m = meter.Meter("summarize", task: "contract-42"))
            {
                var (inTokens, outTokens) = FakeModel.Complete(prompt);
                m.Usage("anthropic", "claude-opus-4-8", input: inTokens, output: outTokens, requestId: "msg_01");
            }

            // A failing call whose provider error echoes the prompt (quoted) and a key, passed to Cage as the error.
            using (var m = meter.Meter("summarize", task: "contract-42"))
            {
                try
                {
                    throw new HttpRequestException($"400 Bad Request: '{prompt}' (key sk-live-{Canary})");
                }
                catch (HttpRequestException ex)
                {
                    m.Usage("acme", "unknown-model", new TokenUsage(5), ok: false, error: ex.Message);
                }
            }

            await meter.FlushAsync();
            var export = Path.Combine(_folder, "export");
            await ReferenceJsonl.ExportAsync(provider.GetRequiredService<ILedgerReader>(), export);
            foreach (var file in Directory.GetFiles(export))
            {
                Assert.That(await File.ReadAllTextAsync(file), Does.Not.Contain(Canary), file);
            }
        }

        foreach (var file in Directory.GetFiles(_folder, "pii.db*"))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.That(Encoding.UTF8.GetString(bytes), Does.Not.Contain(Canary), file);
            Assert.That(Encoding.Unicode.GetString(bytes), Does.Not.Contain(Canary), file);
        }

        Assert.That(logs.Lines, Is.Not.Empty, "the unpriced model was logged");
        Assert.That(logs.Lines, Has.None.Contains(Canary));
    }

    [Test]
    public async Task StaticFacade_NothingConfigured_WritesToEmbeddedSqliteLedgerInDotCage()
    {
        var sample = typeof(MeteringReliabilityTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "ConsoleSampleAssembly")?.Value;
        Assert.That(sample, Is.Not.Null.And.Not.Empty, "the test project records where samples/Cage.Samples.Console was built");
        var work = Path.Combine(_folder, "project", "src");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(Path.Combine(_folder, "project", ".cage")); // the nearest .cage/ above the working directory

        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(sample!);
        start.Environment.Remove(LedgerLocation.EnvironmentVariable);
        start.Environment.Remove("CAGE_PRICES");
        using var process = Process.Start(start)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        Assert.That(process.WaitForExit(60_000), Is.True);
        Assert.That(process.ExitCode, Is.EqualTo(0), stderr);

        var expected = Path.Combine(_folder, "project", ".cage", "ledger.db");
        Assert.That(stdout, Does.Contain(expected));
        using var ledger = SqliteLedger.Open(expected);
        var report = await ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Total.Calls, Is.EqualTo(2));
        Assert.That(report.Groups.Single().Key, Is.EqualTo("code-edit"));
        var call = (await ledger.CallsForTaskAsync("fix-bug")).Single();
        Assert.That(call.CostUsd, Is.EqualTo(0.0483m));
        Assert.That((await ledger.ReceiptsForCallAsync(call.Id)).Single().Tool, Is.EqualTo("compressor"));
    }

    [Test]
    public async Task StaticFacade_BrokenDefaultConfiguration_FallsBackToMemoryAndNeverThrows()
    {
        var sample = typeof(MeteringReliabilityTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ConsoleSampleAssembly").Value!;
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(sample);
        start.Environment.Remove(LedgerLocation.EnvironmentVariable);
        start.Environment["CAGE_PRICES"] = Path.Combine(_folder, "no-such-prices.json");
        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await stdoutTask;
        Assert.That(process.WaitForExit(60_000), Is.True);
        Assert.That(process.ExitCode, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("no-such-prices.json").And.Contain("metering in memory"));
    }

    [Test]
    public async Task AddInMemoryLedger_AfterAddSqliteLedger_ReplacesSinkAndReaderToo()
    {
        var path = Path.Combine(_folder, "never.db");
        var memory = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage().AddSqliteLedger(o => o.Path = path).AddInMemoryLedger(memory);
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", input: 1, output: 1);
            }

            await meter.FlushAsync();
            Assert.That(provider.GetRequiredService<ILedgerReader>(), Is.SameAs(memory));
        }

        Assert.That(memory.Calls, Has.Count.EqualTo(1));
        Assert.That(File.Exists(path), Is.False);
    }

    private static class FakeModel
    {
        public static (long Input, long Output) Complete(string prompt) => (prompt.Length * 3, 42);
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner._lines)
                {
                    owner._lines.Add($"{logLevel} {eventId} {formatter(state, exception)} {exception}");
                }
            }
        }
    }
}
