using System.Text.Json;
using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Importers;

public sealed class AgentLogImporterTests
{
    private static PriceCatalog Prices => PriceCatalog.LoadPriceMap(Path.Combine(Fixtures.SharedWire, "litellm_prices_sample.json"));

    private static JsonElement Expected(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures.SharedWire, "expected_normalized.json")));
        return doc.RootElement.GetProperty(file).Clone();
    }

    private static string SharedLines(string file) => File.ReadAllText(Path.Combine(Fixtures.SharedWire, file));

    [Test]
    public void Detect_SharedFixtures_RecognizesEachKind()
    {
        Assert.Multiple(() =>
        {
            Assert.That(AgentLogImporter.Detect(Path.Combine(Fixtures.SharedWire, "claude_code_session.jsonl")), Is.EqualTo(AgentLogKind.ClaudeCode));
            Assert.That(AgentLogImporter.Detect(Path.Combine(Fixtures.SharedWire, "codex_rollout.jsonl")), Is.EqualTo(AgentLogKind.Codex));
            Assert.That(AgentLogImporter.Detect(Path.Combine(Fixtures.SharedWire, "openai_chat_nonstream.json")), Is.EqualTo(AgentLogKind.CapturedResponse));
            Assert.That(AgentLogImporter.Detect(Path.Combine(Fixtures.SharedWire, "anthropic_messages_stream.sse")), Is.EqualTo(AgentLogKind.CapturedResponse));
            Assert.That(AgentLogImporter.Detect(Path.Combine(Fixtures.SharedWire, "litellm_prices_sample.json")), Is.EqualTo(AgentLogKind.Unknown));
        });
    }

    [Test]
    public void Read_ClaudeCodeTranscript_DeduplicatesKeepingMaxOutputAndMatchesExpected()
    {
        var result = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "claude_code_session.jsonl"), Prices);

        var expected = Expected("claude_code_session.jsonl");
        var calls = expected.GetProperty("buckets").GetProperty("calls").EnumerateArray().ToArray();
        Assert.That(result.Calls, Has.Count.EqualTo(calls.Length));
        for (var i = 0; i < calls.Length; i++)
        {
            var e = calls[i];
            var call = result.Calls[i];
            Assert.That(call.RequestId, Is.EqualTo(e.GetProperty("key").GetString()!.Split('|')[0]));
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(
                e.GetProperty("input_uncached").GetInt64(), e.GetProperty("cache_read").GetInt64(), e.GetProperty("cache_write_5m").GetInt64(),
                e.GetProperty("cache_write_1h").GetInt64(), e.GetProperty("output").GetInt64())));
            Assert.That((call.Provider, call.Model, call.Session, call.Agent, call.CostSource), Is.EqualTo(("anthropic", "claude-opus-4-6", "11111111-2222-4333-8444-555555555555", "claude-code", CostSource.Catalog)));
        }

        Assert.That(result.Calls.Sum(c => c.CostUsd), Is.EqualTo(decimal.Parse(expected.GetProperty("expected_cost_usd").GetString()!, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That((result.DuplicateLines, result.SkippedLines, result.Problems.Count), Is.EqualTo((3L, 1L, 0)));
        Assert.That(result.Calls[0].Timestamp, Is.EqualTo(DateTimeOffset.Parse("2026-03-11T02:40:21.204Z", System.Globalization.CultureInfo.InvariantCulture)), "the response's first line");
    }

    [Test]
    public void Read_TranscriptFolderWithForkAndSubagent_CountsEachResponseOnce()
    {
        using var folder = new TempFolder();
        var session = SharedLines("claude_code_session.jsonl");
        folder.Write("proj/11111111-2222-4333-8444-555555555555.jsonl", session);
        // A fork (resumed session) repeats a-0003 byte for byte, then adds a response of its own.
        var a0003 = session.Split('\n').Single(l => l.Contains("\"uuid\":\"a-0003\"", StringComparison.Ordinal));
        var fresh = a0003.Replace("msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01CCCCCCCCCCCCCCCCCCCCCC", StringComparison.Ordinal)
            .Replace("req_011AAAAAAAAAAAAAAAAAAAAA", "req_011CCCCCCCCCCCCCCCCCCCCC", StringComparison.Ordinal)
            .Replace("\"uuid\":\"a-0003\"", "\"uuid\":\"f-0001\"", StringComparison.Ordinal);
        folder.Write("proj/22222222-2222-4333-8444-555555555555.jsonl", a0003 + "\n" + fresh + "\n");
        var sub = fresh.Replace("msg_01CCCCCCCCCCCCCCCCCCCCCC", "msg_01DDDDDDDDDDDDDDDDDDDDDD", StringComparison.Ordinal)
            .Replace("req_011CCCCCCCCCCCCCCCCCCCCC", "req_011DDDDDDDDDDDDDDDDDDDDD", StringComparison.Ordinal)
            .Replace("\"isSidechain\":false", "\"isSidechain\":true", StringComparison.Ordinal);
        folder.Write("proj/11111111-2222-4333-8444-555555555555/subagents/agent-1.jsonl", sub + "\n");

        var result = AgentLogImporter.Read(folder.Path, Prices);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EquivalentTo(new[]
        {
            "msg_01AAAAAAAAAAAAAAAAAAAAAA", "msg_01BBBBBBBBBBBBBBBBBBBBBB", "msg_01CCCCCCCCCCCCCCCCCCCCCC", "msg_01DDDDDDDDDDDDDDDDDDDDDD",
        }));
        Assert.That(result.Calls.Single(c => c.RequestId == "msg_01DDDDDDDDDDDDDDDDDDDDDD").Category, Is.EqualTo("delegate"));
        Assert.That(result.Calls.Single(c => c.RequestId == "msg_01AAAAAAAAAAAAAAAAAAAAAA").Usage.Output, Is.EqualTo(184));
        Assert.That(result.FilesRead, Is.EqualTo(3));
    }

    [Test]
    public void Read_SameFolderTwice_GivesIdenticalIds()
    {
        var first = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "claude_code_session.jsonl"), Prices);
        var second = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "claude_code_session.jsonl"), Prices);
        Assert.That(second.Calls.Select(c => c.Id), Is.EqualTo(first.Calls.Select(c => c.Id)));
        Assert.That(first.Calls.Select(c => c.Id), Has.All.Match("^c_[0-9A-HJKMNP-TV-Z]{26}$"));
    }

    [Test]
    public void Read_CodexRollout_DeltasOfDistinctCumulativeSnapshots()
    {
        var result = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "codex_rollout.jsonl"), Prices);

        var expected = Expected("codex_rollout.jsonl").GetProperty("buckets");
        var deltas = expected.GetProperty("turn_deltas").EnumerateArray().Where(d => d.TryGetProperty("input_uncached", out _)).ToArray();
        Assert.That(result.Calls, Has.Count.EqualTo(deltas.Length));
        for (var i = 0; i < deltas.Length; i++)
        {
            var d = deltas[i];
            Assert.That(result.Calls[i].Usage, Is.EqualTo(new TokenUsage(d.GetProperty("input_uncached").GetInt64(), d.GetProperty("cache_read").GetInt64(),
                Output: d.GetProperty("output").GetInt64(), Reasoning: d.GetProperty("reasoning_subset").GetInt64())));
            Assert.That((result.Calls[i].Provider, result.Calls[i].Model, result.Calls[i].Session), Is.EqualTo(("openai", "gpt-5-codex", "019d9845-45f6-70d2-86e8-53d8a44a830f")));
        }

        var total = expected.GetProperty("session_total");
        Assert.That(result.Calls.Sum(c => c.Usage.Input), Is.EqualTo(total.GetProperty("input_uncached").GetInt64()));
        Assert.That(result.Calls.Sum(c => c.Usage.CacheRead), Is.EqualTo(total.GetProperty("cache_read").GetInt64()));
        Assert.That(result.Calls.Sum(c => c.Usage.Output), Is.EqualTo(total.GetProperty("output").GetInt64()));
        Assert.That(result.Calls.Sum(c => c.Usage.Reasoning), Is.EqualTo(total.GetProperty("reasoning_subset").GetInt64()));
        Assert.That(result.Calls[0].CostSource, Is.EqualTo(CostSource.Unpriced), "gpt-5-codex is not in the sample map: unpriced, never $0");
        Assert.That(result.Calls[0].CostUsd, Is.Null);
        Assert.That((result.DuplicateLines, result.SkippedLines), Is.EqualTo((1L, 1L)));
    }

    [Test]
    public void Read_CodexRollout_ExposesRateLimitSamples()
    {
        var result = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "codex_rollout.jsonl"), Prices);
        var last = Expected("codex_rollout.jsonl").GetProperty("buckets").GetProperty("rate_limits_last");

        Assert.That(result.RateLimits, Has.Count.EqualTo(8), "4 token_count events × primary and secondary");
        var primary = result.RateLimits.Last(s => s.Window == "primary");
        var secondary = result.RateLimits.Last(s => s.Window == "secondary");
        Assert.That((primary.UsedPercent, primary.WindowMinutes), Is.EqualTo((last.GetProperty("primary").GetProperty("used_percent").GetDouble(), last.GetProperty("primary").GetProperty("window_minutes").GetInt32())));
        Assert.That((secondary.UsedPercent, secondary.WindowMinutes), Is.EqualTo((last.GetProperty("secondary").GetProperty("used_percent").GetDouble(), last.GetProperty("secondary").GetProperty("window_minutes").GetInt32())));
        Assert.That((primary.ResetsAt, primary.PlanType), Is.EqualTo(((DateTimeOffset?)DateTimeOffset.FromUnixTimeSeconds(1763483205), "pro")));
    }

    [Test]
    public void Calibrate_CodexRollout_CreditsTheUtilizationMoveToTheTokensSpentBetweenSamples()
    {
        var result = AgentLogImporter.Read(Path.Combine(Fixtures.SharedWire, "codex_rollout.jsonl"), Prices);
        var estimator = new CageNet.Budgets.Subscription.SubscriptionEstimator();
        var modelClass = estimator.ClassOf(result.Calls[0].Model);

        var snapshots = result.Calibrate(estimator);

        // primary: 7% at the first reading, still 7% after the first call (23,569 tokens), 9% after the second
        // (27,331): one snapshot of 50,900 tokens for 2 points. secondary stays at 77%: nothing to credit.
        Assert.That(snapshots, Is.EqualTo(1));
        Assert.That(estimator.SnapshotCount(modelClass, "5h"), Is.EqualTo(1));
        Assert.That(estimator.SnapshotCount(modelClass, "7d"), Is.Zero);
        Assert.That(estimator.Latest("5h")!.Percent, Is.EqualTo(9.0).Within(1e-9));
        Assert.That(estimator.Latest("7d")!.Percent, Is.EqualTo(77.0).Within(1e-9));
    }

    [TestCase("primary", 0, "5h")]
    [TestCase("secondary", 0, "7d")]
    [TestCase("primary", 300, "5h")]
    [TestCase("secondary", 10080, "7d")]
    [TestCase("primary", 1440, "1d")]
    public void ToSubscriptionSample_WindowByLengthElseByCodexName(string window, int minutes, string expected)
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(1_763_480_000);
        var sample = new RateLimitSample(at, window, 12.5, minutes, at.AddHours(2), "s", "pro").ToSubscriptionSample();

        Assert.That((sample.Window, sample.Percent, sample.ObservedAt, sample.ResetsAt), Is.EqualTo((expected, 12.5, at, (DateTimeOffset?)at.AddHours(2))));
    }

    [Test]
    public void Read_FolderOfCapturedResponses_OneCallEachKeyedByResponseId()
    {
        using var folder = new TempFolder();
        foreach (var file in new[] { "openai_chat_nonstream.json", "anthropic_messages_stream.sse", "openrouter_chat_usage.json", "gemini_generate_content_thinking.json" })
        {
            folder.Write("captures/" + file, Fixtures.SharedBytes(file));
        }

        folder.Write("captures/copy-of-chat.json", Fixtures.SharedBytes("openai_chat_nonstream.json"));
        folder.Write("captures/notes.txt", "not a response");

        var result = AgentLogImporter.Read(folder.Path, Prices);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EquivalentTo(new[]
        {
            "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "gen-fixture-001", "fixture-gemini-thinking-001",
        }));
        Assert.That(result.Calls.Single(c => c.RequestId == "gen-fixture-001").CostSource, Is.EqualTo(CostSource.Provider));
        Assert.That(result.Problems, Is.Empty);
    }

    [Test]
    public void Read_ReferenceLedgerInFolder_IsListedForTheReferenceImporter()
    {
        using var folder = new TempFolder();
        var calls = folder.Write("ledger/calls.jsonl", "{\"id\":\"c1\",\"ts\":\"2026-01-01T00:00:00Z\",\"model\":\"x\",\"tokens_in\":1,\"tokens_out\":1}\n");
        var result = AgentLogImporter.Read(folder.Path, Prices);
        Assert.That(result.ReferenceLedgerFiles, Is.EqualTo(new[] { calls }));
        Assert.That(result.Calls, Is.Empty);
    }

    [Test]
    public void Read_MissingPath_Throws() =>
        Assert.That(() => AgentLogImporter.Read("/nonexistent/cage/path", Prices), Throws.InstanceOf<FileNotFoundException>());

    [Test]
    public void Read_LargeFolder_ReportsProgressPerFile()
    {
        using var folder = new TempFolder();
        for (var i = 0; i < 25; i++)
        {
            folder.Write($"s/{i:D2}.jsonl", SharedLines("claude_code_session.jsonl"));
        }

        var reports = new List<ImportProgress>();
        var result = AgentLogImporter.Read(folder.Path, Prices, new SynchronousProgress(reports));

        Assert.That(reports, Has.Count.EqualTo(25));
        Assert.That(reports[^1], Is.EqualTo(new ImportProgress(25, 25, result.LinesRead)));
        Assert.That(result.Calls, Has.Count.EqualTo(2), "25 copies of one session are one session");
    }

    private sealed class SynchronousProgress(List<ImportProgress> reports) : IProgress<ImportProgress>
    {
        public void Report(ImportProgress value) => reports.Add(value);
    }

    private const string RestartingCodexRollout = """
        {"timestamp":"2026-04-16T10:00:00.000Z","type":"session_meta","payload":{"id":"s1"}}
        {"timestamp":"2026-04-16T10:00:00.100Z","type":"turn_context","payload":{"model":"gpt-5-codex"}}
        {"timestamp":"2026-04-16T10:00:01.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}}
        {"timestamp":"2026-04-16T10:00:02.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":50,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0,"total_tokens":55}}}}
        {"timestamp":"2026-04-16T10:00:03.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}}
        {"timestamp":"2026-04-16T10:00:04.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":200,"cached_input_tokens":50,"output_tokens":20,"reasoning_output_tokens":0,"total_tokens":220}}}}
        {"timestamp":"2026-04-16T10:00:05.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":200,"cached_input_tokens":40,"output_tokens":20,"reasoning_output_tokens":0,"total_tokens":220}}}}
        """;

    [Test]
    public void Read_CodexTotalsRestartOrOnlyCachedCountChanges_EverySnapshotIsItsOwnCall()
    {
        using var folder = new TempFolder();
        var file = folder.Write("rollout.jsonl", RestartingCodexRollout + "\n");

        var first = AgentLogImporter.Read(file, Prices);
        var again = AgentLogImporter.Read(file, Prices);

        // Lines 4 and 7 go down (a restart, a smaller cached count): each counts from itself as a fresh start.
        Assert.That(first.Calls.Select(c => c.Usage), Is.EqualTo(new[]
        {
            new TokenUsage(100, 0, Output: 10, Reasoning: 0),
            new TokenUsage(50, 0, Output: 5, Reasoning: 0),
            new TokenUsage(50, 0, Output: 5, Reasoning: 0),
            new TokenUsage(50, 50, Output: 10, Reasoning: 0),
            new TokenUsage(160, 40, Output: 20, Reasoning: 0),
        }));
        Assert.Multiple(() =>
        {
            Assert.That(first.Calls.Select(c => c.RequestId), Is.Unique);
            Assert.That(first.Calls[0].RequestId, Is.EqualTo("codex:s1:3:100-0-10-0-110"));
            Assert.That(first.Calls[4].RequestId, Is.EqualTo("codex:s1:7:200-40-20-0-220"));
            Assert.That(again.Calls.Select(c => c.RequestId), Is.EqualTo(first.Calls.Select(c => c.RequestId)), "the same file gives the same ids");
        });
    }
}
