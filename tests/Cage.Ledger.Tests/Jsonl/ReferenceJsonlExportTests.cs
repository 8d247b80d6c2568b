using System.Text.Json;
using CageNet.Ledger;
using CageNet.Pricing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Jsonl;

public sealed class ReferenceJsonlExportTests
{
    private static readonly string[] ReferenceCallFields =
        ["id", "ts", "session", "task", "agent", "route", "provider", "model", "tokens_in", "tokens_out", "cached_in", "est_cost_usd", "latency_ms", "ok", "retries"];

    private static readonly string[] ReferenceReceiptFields =
        ["id", "ts", "call", "task", "tool", "unit", "raw_alternative", "actual", "saved", "method", "confidence", "meta"];

    private TestLedger _test = null!;

    [SetUp]
    public void SetUp() => _test = TestLedger.Create();

    [TearDown]
    public void TearDown() => _test.Dispose();

    [Test]
    public async Task ExportAsync_WorkedExample_WritesTheReferenceShape()
    {
        await ReferenceJsonl.ImportAsync(_test.Ledger, SharedFixtures.WorkedExampleInput, PriceCatalog.BuiltIn);
        var folder = Path.Combine(_test.Folder, "out", "ledger");

        var result = await ReferenceJsonl.ExportAsync(_test.Ledger, folder);

        Assert.That(result.Calls, Is.EqualTo(1));
        Assert.That(result.Receipts, Is.EqualTo(3));
        Assert.That(result.CallsFile, Is.EqualTo(Path.Combine(folder, "calls.jsonl")));
        Assert.That(result.ReceiptsFile, Is.EqualTo(Path.Combine(folder, "receipts.jsonl")));
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "calls.jsonl", "receipts.jsonl" }));

        var callLines = File.ReadAllLines(result.CallsFile);
        Assert.That(callLines, Has.Length.EqualTo(1));
        using var call = JsonDocument.Parse(callLines[0]);
        var names = call.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.That(names.Take(15), Is.EqualTo(ReferenceCallFields));
        Assert.That(names.Skip(15), Is.EqualTo(new[]
        {
            "input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning", "cost_usd", "cost_source", "price_key",
            "usage_status", "category", "user", "attempt", "request_id", "error", "tags",
        }));
        var root = call.RootElement;
        Assert.That(root.GetProperty("ts").GetString(), Is.EqualTo("2026-06-20T10:00:00Z"));
        Assert.That(root.GetProperty("tokens_in").GetRawText(), Is.EqualTo("8600"));
        Assert.That(root.GetProperty("tokens_out").GetRawText(), Is.EqualTo("1500"));
        Assert.That(root.GetProperty("cached_in").GetRawText(), Is.EqualTo("0"));
        Assert.That(root.GetProperty("est_cost_usd").GetRawText(), Is.EqualTo("0.0483"));
        Assert.That(root.GetProperty("cost_usd").GetRawText(), Is.EqualTo("0.0483"));
        Assert.That(root.GetProperty("cost_source").GetString(), Is.EqualTo("catalog"));

        var receiptLines = File.ReadAllLines(result.ReceiptsFile);
        Assert.That(receiptLines, Has.Length.EqualTo(3));
        using var receipt = JsonDocument.Parse(receiptLines.Single(l => l.Contains("graphify", StringComparison.Ordinal)));
        Assert.That(receipt.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(ReferenceReceiptFields));
        Assert.That(receipt.RootElement.GetProperty("raw_alternative").GetRawText(), Is.EqualTo("30000.0"));
        Assert.That(receipt.RootElement.GetProperty("actual").GetRawText(), Is.EqualTo("3000.0"));
        Assert.That(receipt.RootElement.GetProperty("saved").GetRawText(), Is.EqualTo("27000.0"));
        Assert.That(receipt.RootElement.GetProperty("call").GetString(), Is.EqualTo("c_s1call000001"));
        Assert.That(receipt.RootElement.GetProperty("method").GetString(), Is.EqualTo("modeled"));
    }

    [Test]
    public async Task ExportAsync_Money_IsWrittenAsExactJsonNumbers()
    {
        await _test.Ledger.AppendAsync(Batch(
            Call("c_small", "2026-03-01T10:00:00.120Z", cost: 0.0000280m),
            Call("c_unpriced", "2026-03-01T10:00:01Z", cost: null, source: CostSource.Unpriced),
            Call("c_big", "2026-03-01T10:00:02Z", cost: 123456.1000000001m)));

        var result = await ReferenceJsonl.ExportAsync(_test.Ledger, Path.Combine(_test.Folder, "out"));

        var lines = File.ReadAllLines(result.CallsFile).Select(l => JsonDocument.Parse(l)).ToArray();
        Assert.That(lines[0].RootElement.GetProperty("est_cost_usd").GetRawText(), Is.EqualTo("0.000028"));
        Assert.That(lines[0].RootElement.GetProperty("ts").GetString(), Is.EqualTo("2026-03-01T10:00:00.120Z"));
        Assert.That(lines[1].RootElement.GetProperty("est_cost_usd").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(lines[1].RootElement.GetProperty("cost_source").GetString(), Is.EqualTo("unpriced"));
        Assert.That(lines[2].RootElement.GetProperty("est_cost_usd").GetRawText(), Is.EqualTo("123456.1000000001"));
        foreach (var line in lines)
        {
            line.Dispose();
        }
    }

    [Test]
    public async Task ExportAsync_ThenImportIntoAFreshLedger_IsLossless()
    {
        var calls = new[]
        {
            new CallRecord
            {
                Id = "c_full",
                Timestamp = At("2026-03-01T10:00:00.123Z"),
                Session = "s1", Task = "t1", Agent = "a1", Route = "code-edit", Category = "delegate", User = "tenant-7",
                Provider = "openrouter", Model = "anthropic/claude-opus-4-8",
                Usage = new TokenUsage(1200, 300, 40, 5, 700, 250),
                CostUsd = 0.0123456789m, CostSource = CostSource.Provider, PriceKey = "openrouter/anthropic/claude-opus-4-8",
                UsageStatus = UsageStatus.Estimated, LatencyMs = 1534, Ok = false, Retries = 2, Attempt = 3,
                RequestId = "gen-123", Error = "HTTP 529 overloaded",
                Tags = new Dictionary<string, string> { ["env"] = "prod", ["note"] = "é \\ back\\slash\t<b> & ü", ["n"] = "42" },
            },
            new CallRecord
            {
                Id = "c_bare", Timestamp = At("2026-03-01T11:00:00Z"), Provider = "acme", Model = "mystery",
                Usage = new TokenUsage(10), CostUsd = null, CostSource = CostSource.Unpriced, UsageStatus = UsageStatus.Missing,
            },
            new CallRecord
            {
                Id = "c_local", Timestamp = At("2026-03-01T12:00:00.001Z"), Provider = "ollama", Model = "llama3", Route = "probe",
                Usage = new TokenUsage(5, Output: 1), CostUsd = 0m, CostSource = CostSource.Local, PriceKey = "ollama/*",
            },
        };
        var receipts = new[]
        {
            SavingsReceipt.Create("r_tokens", At("2026-03-01T10:00:00.500Z"), "graphify", 30000.0m, 3000.0m, "c_full", "t1",
                SavingsUnit.Tokens, SavingsMethod.Modeled, 0.8,
                new Dictionary<string, string> { ["tool_cost_usd"] = "0.002", ["label"] = "a b", ["flag"] = "true", ["version"] = "1.10" }),
            SavingsReceipt.Create("r_usd", At("2026-03-01T10:00:01Z"), "response-cache", 0.0483m, 0m, null, "t1",
                SavingsUnit.Usd, SavingsMethod.Measured),
            SavingsReceipt.Create("r_worse", At("2026-03-01T10:00:02Z"), "compressor", 100m, 120m, "c_full", null,
                SavingsUnit.Ms, SavingsMethod.Estimated, 0.25),
        };
        await _test.Ledger.AppendAsync(new LedgerBatch(calls, receipts));
        var folder = Path.Combine(_test.Folder, "export");
        await ReferenceJsonl.ExportAsync(_test.Ledger, folder);

        using var fresh = SqliteLedger.Open(Path.Combine(_test.Folder, "fresh.db"));
        // An empty catalog: every exported line carries its own cost_source, so nothing is re-priced.
        var imported = await ReferenceJsonl.ImportAsync(fresh, folder, PriceCatalog.Empty);

        Assert.That(imported.Errors, Is.Empty);
        Assert.That(imported.Appended, Is.EqualTo(new AppendResult(3, 0, 3, 0)));
        foreach (var expected in calls)
        {
            var actual = await fresh.FindCallAsync(expected.Id);
            Assert.That(actual, Is.Not.Null);
            Assert.Multiple(() =>
            {
                Assert.That(actual!.Timestamp, Is.EqualTo(expected.Timestamp), expected.Id);
                Assert.That(actual.Session, Is.EqualTo(expected.Session), expected.Id);
                Assert.That(actual.Task, Is.EqualTo(expected.Task), expected.Id);
                Assert.That(actual.Agent, Is.EqualTo(expected.Agent), expected.Id);
                Assert.That(actual.Route, Is.EqualTo(expected.Route), expected.Id);
                Assert.That(actual.Category, Is.EqualTo(expected.Category), expected.Id);
                Assert.That(actual.User, Is.EqualTo(expected.User), expected.Id);
                Assert.That(actual.Provider, Is.EqualTo(expected.Provider), expected.Id);
                Assert.That(actual.Model, Is.EqualTo(expected.Model), expected.Id);
                Assert.That(actual.Usage, Is.EqualTo(expected.Usage), expected.Id);
                Assert.That(actual.CostUsd, Is.EqualTo(expected.CostUsd), expected.Id);
                Assert.That(actual.CostSource, Is.EqualTo(expected.CostSource), expected.Id);
                Assert.That(actual.PriceKey, Is.EqualTo(expected.PriceKey), expected.Id);
                Assert.That(actual.UsageStatus, Is.EqualTo(expected.UsageStatus), expected.Id);
                Assert.That(actual.LatencyMs, Is.EqualTo(expected.LatencyMs), expected.Id);
                Assert.That(actual.Ok, Is.EqualTo(expected.Ok), expected.Id);
                Assert.That(actual.Retries, Is.EqualTo(expected.Retries), expected.Id);
                Assert.That(actual.Attempt, Is.EqualTo(expected.Attempt), expected.Id);
                Assert.That(actual.RequestId, Is.EqualTo(expected.RequestId), expected.Id);
                Assert.That(actual.Error, Is.EqualTo(expected.Error), expected.Id);
                Assert.That(actual.Tags, Is.EqualTo(expected.Tags).Using<IReadOnlyDictionary<string, string>>(SameMap), expected.Id);
            });
        }

        var stored = new List<SavingsReceipt>();
        await foreach (var receipt in fresh.ReadReceiptsAsync(TimeWindow.All))
        {
            stored.Add(receipt);
        }

        Assert.That(stored.Select(r => r.Id), Is.EqualTo(receipts.Select(r => r.Id)));
        foreach (var (expected, actual) in receipts.Zip(stored))
        {
            Assert.Multiple(() =>
            {
                Assert.That(actual.Timestamp, Is.EqualTo(expected.Timestamp), expected.Id);
                Assert.That(actual.CallId, Is.EqualTo(expected.CallId), expected.Id);
                Assert.That(actual.Task, Is.EqualTo(expected.Task), expected.Id);
                Assert.That(actual.Tool, Is.EqualTo(expected.Tool), expected.Id);
                Assert.That(actual.Unit, Is.EqualTo(expected.Unit), expected.Id);
                Assert.That(actual.RawAlternative, Is.EqualTo(expected.RawAlternative), expected.Id);
                Assert.That(actual.RawAlternative.Scale, Is.EqualTo(expected.RawAlternative.Scale), expected.Id);
                Assert.That(actual.Actual, Is.EqualTo(expected.Actual), expected.Id);
                Assert.That(actual.Saved, Is.EqualTo(expected.Saved), expected.Id);
                Assert.That(actual.Method, Is.EqualTo(expected.Method), expected.Id);
                Assert.That(actual.Confidence, Is.EqualTo(expected.Confidence), expected.Id);
                Assert.That(actual.Meta, Is.EquivalentTo(expected.Meta), expected.Id);
            });
        }

        // And the second export is byte-identical to the first (deterministic output).
        var again = await ReferenceJsonl.ExportAsync(fresh, Path.Combine(_test.Folder, "export-2"));
        Assert.That(File.ReadAllBytes(again.CallsFile), Is.EqualTo(File.ReadAllBytes(Path.Combine(folder, "calls.jsonl"))));
        Assert.That(File.ReadAllBytes(again.ReceiptsFile), Is.EqualTo(File.ReadAllBytes(Path.Combine(folder, "receipts.jsonl"))));
    }

    [Test]
    public async Task ExportAsync_EmptyLedger_WritesEmptyFiles()
    {
        var result = await ReferenceJsonl.ExportAsync(_test.Ledger, Path.Combine(_test.Folder, "empty"));

        Assert.That((result.Calls, result.Receipts), Is.EqualTo((0, 0)));
        Assert.That(File.ReadAllText(result.CallsFile), Is.Empty);
        Assert.That(File.ReadAllText(result.ReceiptsFile), Is.Empty);
    }

    private static bool SameMap(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out var value) && value == pair.Value);
}
