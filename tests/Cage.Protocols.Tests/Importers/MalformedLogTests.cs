using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Importers;

/// <summary>Bad agent-log input: each bad line is reported with its file, line and field; the good lines still import.</summary>
public sealed class MalformedLogTests
{
    private const string ClaudeLine = """{"parentUuid":null,"isSidechain":false,"sessionId":"s1","type":"assistant","message":{"model":"claude-opus-4-6","id":"msg_{ID}","type":"message","role":"assistant","usage":{USAGE}},"requestId":"req_{ID}","uuid":"u-{ID}","timestamp":"2026-03-11T02:40:21.204Z"}""";

    private static string Claude(string id, string usage) => ClaudeLine.Replace("{ID}", id, StringComparison.Ordinal).Replace("{USAGE}", usage, StringComparison.Ordinal);

    private static string CodexLine(string total) =>
        "{\"timestamp\":\"2026-04-16T10:00:09.000Z\",\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":{\"total_token_usage\":" + total + "}}}";

    [TestCase("{\"input_tokens\":-3,\"output_tokens\":1}", "message.usage.input_tokens is negative (-3)")]
    [TestCase("{\"input_tokens\":1,\"output_tokens\":1e400}", "message.usage.output_tokens")]
    [TestCase("{\"input_tokens\":99999999999999999999999,\"output_tokens\":1}", "overflows a 64-bit count")]
    [TestCase("{\"input_tokens\":\"many\",\"output_tokens\":1}", "is not a number (found a string)")]
    [TestCase("{\"input_tokens\":1,\"output_tokens\":1,\"cache_creation\":{\"ephemeral_1h_input_tokens\":-1}}", "ephemeral_1h_input_tokens is negative")]
    public void Read_ClaudeCodeBadCount_ReportsFileLineAndFieldAndImportsTheRest(string usage, string expect)
    {
        using var folder = new TempFolder();
        var file = folder.Write("s.jsonl", Claude("good1", "{\"input_tokens\":1,\"output_tokens\":2}") + "\n" + Claude("bad", usage) + "\n" + Claude("good2", "{\"input_tokens\":3,\"output_tokens\":4}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_good1", "msg_good2" }));
        var problem = result.Problems.Single();
        Assert.That((problem.File, problem.Line, problem.Field), Is.EqualTo((file, 2, "message.usage")));
        Assert.That(problem.Message, Does.Contain(expect));
    }

    [Test]
    public void Read_ClaudeCodeTruncatedAndBinaryLines_AreReportedNotFatal()
    {
        using var folder = new TempFolder();
        var good = Claude("good", "{\"input_tokens\":1,\"output_tokens\":2}");
        var bytes = new List<byte>();
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(good[..(good.IndexOf("\"usage\"", StringComparison.Ordinal) + 12)] + "\n"));
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes("{\"usage\":\"x\"" + "\n"));
        var binary = new byte[4096];
        new Random(1).NextBytes(binary);
        bytes.AddRange(binary);
        bytes.Add((byte)'\n');
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(good + "\n"));
        var file = folder.Write("s.jsonl", bytes.ToArray());

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_good" }));
        Assert.That(result.Problems.Select(p => p.Line), Does.Contain(1).And.Contain(2));
        Assert.That(result.Problems, Has.All.Matches<ImportProblem>(p => p.Message.Contains("malformed JSON", StringComparison.Ordinal)));
    }

    [Test]
    public void Read_ClaudeCodeTenMegabyteLine_IsReadAndItsUsageCounted()
    {
        using var folder = new TempFolder();
        var huge = Claude("huge", "{\"input_tokens\":1,\"output_tokens\":2}").Replace("\"role\":\"assistant\"", "\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"" + new string('x', 10 * 1024 * 1024) + "\"}]", StringComparison.Ordinal);
        var file = folder.Write("s.jsonl", huge + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Single().Usage, Is.EqualTo(new TokenUsage(1, Output: 2)));
    }

    [Test]
    public void Read_LineOverTheCap_IsReportedAndSkipped()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "s.jsonl");
        using (var stream = File.Create(file))
        {
            var header = System.Text.Encoding.UTF8.GetBytes("{\"sessionId\":\"s\",\"parentUuid\":null,\"x\":\"");
            stream.Write(header);
            var block = new byte[1024 * 1024];
            block.AsSpan().Fill((byte)'y');
            for (var i = 0; i < 33; i++) stream.Write(block);
            stream.Write("\"}\n"u8);
            stream.Write(System.Text.Encoding.UTF8.GetBytes(Claude("after", "{\"input_tokens\":1,\"output_tokens\":2}") + "\n"));
        }

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_after" }));
        Assert.That(result.Problems.Single().Message, Does.Contain("longer than"));
    }

    [TestCase("{\"input_tokens\":-1,\"cached_input_tokens\":0,\"output_tokens\":1}", "input_tokens is not a non-negative 64-bit integer (-1)")]
    [TestCase("{\"input_tokens\":\"10\",\"cached_input_tokens\":0,\"output_tokens\":1}", "input_tokens is not a non-negative 64-bit integer (string)")]
    [TestCase("{\"input_tokens\":1e99,\"cached_input_tokens\":0,\"output_tokens\":1}", "input_tokens is not a non-negative 64-bit integer (1e99)")]
    [TestCase("{\"input_tokens\":10,\"cached_input_tokens\":20,\"output_tokens\":1}", "cached_input_tokens exceeds input_tokens")]
    public void Read_CodexBadTotals_ReportsTheField(string total, string expect)
    {
        using var folder = new TempFolder();
        var file = folder.Write("rollout-x.jsonl", CodexLine(total) + "\n" + CodexLine("{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":5}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        var problem = result.Problems.Single();
        Assert.That((problem.Line, problem.Field), Is.EqualTo((1, "payload.info.total_token_usage")));
        Assert.That(problem.Message, Does.Contain(expect));
        Assert.That(result.Calls, Has.Count.EqualTo(1));
    }

    [Test]
    public void Read_CodexTotalsGoingDown_AreFlaggedAndCountedAsAFreshStart()
    {
        using var folder = new TempFolder();
        var file = folder.Write("rollout-x.jsonl",
            CodexLine("{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":5}") + "\n" +
            CodexLine("{\"input_tokens\":40,\"cached_input_tokens\":0,\"output_tokens\":2}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.Usage.Input), Is.EqualTo(new[] { 100L, 40L }));
        Assert.That(result.Problems.Single().Message, Does.Contain("went down"));
    }

    [Test]
    public void Read_BinaryFileGivenDirectly_IsAClearProblem()
    {
        using var folder = new TempFolder();
        var bytes = new byte[100_000];
        new Random(2).NextBytes(bytes);
        var file = folder.Write("capture.json", bytes);

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls, Is.Empty);
        Assert.That(result.Problems.Single().File, Is.EqualTo(file));
    }

    [Test]
    public void Read_TruncatedCapturedResponse_IsAProblemNamingTheByte()
    {
        using var folder = new TempFolder();
        var full = Fixtures.SharedBytes("openai_chat_nonstream.json");
        var file = folder.Write("capture.json", full.AsSpan(0, full.Length / 2).ToArray());

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls, Is.Empty);
        Assert.That(result.Problems.Single().Message, Does.Contain("byte"));
    }

    [Test]
    public void Read_CutCapturedStream_IsImportedFlaggedMissing()
    {
        using var folder = new TempFolder();
        var file = folder.Write("cut.sse", File.ReadAllBytes(Path.Combine(Fixtures.Own, "wire", "anthropic_messages_stream_interrupted.sse")));

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        var call = result.Calls.Single();
        Assert.That((call.UsageStatus, call.Ok, call.RequestId), Is.EqualTo((UsageStatus.Missing, false, "msg_own_cut_002")));
        Assert.That(call.CostUsd, Is.GreaterThan(0m), "the input reported before the cut is still priced: never a free call");
        Assert.That(result.Problems.Single().Message, Does.StartWith("flagged:"));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, claude-code-import / captured-import): "usage": {} became a reported
    // call of zero tokens priced at $0.
    [TestCase("{}")]
    [TestCase("{\"service_tier\":\"standard\"}")]
    [TestCase("{\"input_tokens\":null,\"output_tokens\":null}")]
    public void Read_ClaudeCodeUsageWithoutCounts_IsRejectedNotAFreeCall(string usage)
    {
        using var folder = new TempFolder();
        var file = folder.Write("s.jsonl", Claude("good", "{\"input_tokens\":1,\"output_tokens\":2}") + "\n" + Claude("empty", usage) + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_good" }));
        var problem = result.Problems.Single();
        Assert.That((problem.Line, problem.Field, problem.IsWarning), Is.EqualTo((2, "message.usage", false)));
        Assert.That(problem.Message, Does.Contain("no token counts"));
    }

    [Test]
    public void Read_CapturedResponseWithEmptyUsage_IsFlaggedMissingWithAnUnknownCost()
    {
        using var folder = new TempFolder();
        var file = folder.Write("r.json", """{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{}}""");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        var call = result.Calls.Single();
        Assert.That((call.UsageStatus, call.CostUsd, call.Ok), Is.EqualTo((UsageStatus.Missing, (decimal?)null, false)));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, claude-code-import): an output of 2^62 tokens became a record priced
    // at $115 trillion that the ledger then refuses; it is rejected at the line instead.
    [Test]
    public void Read_ClaudeCodeCountAboveWhatACallCanHold_IsRejected()
    {
        using var folder = new TempFolder();
        var file = folder.Write("s.jsonl", Claude("huge", "{\"input_tokens\":1,\"output_tokens\":4611686018427387904}") + "\n" + Claude("good", "{\"input_tokens\":1,\"output_tokens\":2}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_good" }));
        var problem = result.Problems.Single();
        Assert.That((problem.Line, problem.Field), Is.EqualTo((1, "message.usage")));
        Assert.That(problem.Message, Does.Contain("above the 1,000,000,000 tokens one call can hold"));
    }

    [Test]
    public void Read_CodexSnapshotAboveWhatACallCanHold_IsRejectedAndTheNextCountedFromTheLastGoodOne()
    {
        using var folder = new TempFolder();
        var file = folder.Write("rollout-x.jsonl",
            CodexLine("{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":5}") + "\n" +
            CodexLine("{\"input_tokens\":4611686018427387904,\"cached_input_tokens\":0,\"output_tokens\":5}") + "\n" +
            CodexLine("{\"input_tokens\":250,\"cached_input_tokens\":0,\"output_tokens\":9}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => (c.Usage.Input, c.Usage.Output)), Is.EqualTo(new[] { (100L, 5L), (150L, 4L) }));
        var problem = result.Problems.Single();
        Assert.That((problem.Line, problem.IsWarning), Is.EqualTo((2, false)));
        Assert.That(problem.Message, Does.Contain("more tokens than one call can hold"));
    }

    [Test]
    public void Parse_CountAboveWhatACallCanHold_IsRejected()
    {
        var ex = Assert.Throws<CageNet.Protocols.WireFormatException>(() => WireParser.Parse("""{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{"input_tokens":9223372036854775807,"output_tokens":9223372036854775807}}"""u8));

        Assert.That(ex!.Message, Does.Contain("above the 1,000,000,000 tokens one call can hold"));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, codex-import, with the "nudge" mutation): a snapshot that differs from
    // the last only in total_tokens added a call of zero tokens, reported and priced at $0.
    [Test]
    public void Read_CodexSnapshotThatOnlyChangesTheTotal_AddsNoCall()
    {
        using var folder = new TempFolder();
        var file = folder.Write("rollout-x.jsonl",
            CodexLine("{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":5,\"total_tokens\":105}") + "\n" +
            CodexLine("{\"input_tokens\":100,\"cached_input_tokens\":0,\"output_tokens\":5,\"total_tokens\":1000000001}") + "\n" +
            CodexLine("{\"input_tokens\":150,\"cached_input_tokens\":0,\"output_tokens\":9}") + "\n");

        var result = AgentLogImporter.Read(file, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => (c.Usage.Input, c.Usage.Output)), Is.EqualTo(new[] { (100L, 5L), (50L, 4L) }));
        Assert.That(result.DuplicateLines, Is.EqualTo(1));
    }
}
