using System.Text;

namespace CageNet.Protocols.Tests.Wire;

/// <summary>
/// The malformed-input corpus (SPEC 10): truncated JSON, broken SSE framing, negative / overflowing / fractional /
/// non-numeric counts, 10 MB lines and binary garbage give a clear error naming the field or byte, or a flagged
/// record — never a crash, never a hang, never a silent reported $0.
/// </summary>
public sealed class MalformedInputTests
{
    private const string Structural = "{}[]\":,\n\r\\";

    private static readonly (WireProtocol Protocol, string Template)[] UsageTemplates =
    [
        (WireProtocol.OpenAIChat, """{"id":"chatcmpl-x","object":"chat.completion","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":{0},"completion_tokens":5}}"""),
        (WireProtocol.OpenRouter, """{"id":"gen-x","object":"chat.completion","model":"a/b","choices":[],"usage":{"prompt_tokens":{0},"completion_tokens":5,"cost":0.1}}"""),
        (WireProtocol.OpenAIResponses, """{"id":"resp_x","object":"response","model":"gpt-4.1","status":"completed","usage":{"input_tokens":{0},"output_tokens":5}}"""),
        (WireProtocol.AnthropicMessages, """{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{"input_tokens":{0},"output_tokens":5}}"""),
        (WireProtocol.Gemini, """{"candidates":[],"usageMetadata":{"promptTokenCount":{0},"candidatesTokenCount":5},"modelVersion":"gemini-2.5-pro"}"""),
    ];

    public static IEnumerable<TestCaseData> BadCounts()
    {
        var cases = new (string Value, string Expect)[]
        {
            ("-5", "is negative (-5)"),
            ("99999999999999999999", "overflows a 64-bit count"),
            ("1e30", "is not a whole number"),
            ("12.5", "is not a whole number"),
            ("\"12\"", "is not a number (found a string)"),
            ("true", "is not a number (found a boolean)"),
            ("[1]", "is not a number (found an array)"),
            ("{}", "is not a number (found an object)"),
        };
        foreach (var (protocol, template) in UsageTemplates)
        {
            foreach (var (value, expect) in cases)
            {
                yield return new TestCaseData(protocol, template.Replace("{0}", value, StringComparison.Ordinal), expect).SetName($"Parse_{protocol}_Count_{value}");
            }
        }
    }

    [TestCaseSource(nameof(BadCounts))]
    public void Parse_BadCount_ThrowsNamingTheField(WireProtocol protocol, string json, string expect)
    {
        var ex = Assert.Throws<WireFormatException>(() => WireParser.Parse(Encoding.UTF8.GetBytes(json), protocol));
        Assert.That(ex!.Message, Does.Contain(expect));
        Assert.That(ex.Message, Does.Contain("usage").IgnoreCase, "names the usage field");
        Assert.That(WireParser.TryParse(Encoding.UTF8.GetBytes(json), protocol, out var usage, out var error), Is.False);
        Assert.That((usage, error), Is.EqualTo(((WireUsage?)null, ex.Message)));
    }

    [TestCaseSource(nameof(BadCounts))]
    public void Observe_StreamWithBadCount_IsFlaggedMissingNotReported(WireProtocol protocol, string json, string expect)
    {
        using var observer = new WireStreamObserver(protocol);
        observer.Observe(Encoding.UTF8.GetBytes("data: " + json + "\n\n"));
        var usage = observer.Complete();
        Assert.That(usage.Status, Is.EqualTo(UsageStatus.Missing));
        Assert.That(usage.Problem, Does.Contain(expect));
    }

    [Test]
    public void Parse_InconsistentCounts_ThrowsExplaining()
    {
        Assert.That(() => WireParser.Parse("""{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":20}}}"""u8),
            Throws.TypeOf<WireFormatException>().With.Message.Contains("exceed prompt_tokens (10)"));
        Assert.That(() => WireParser.Parse("""{"object":"response","usage":{"input_tokens":10,"output_tokens":1,"output_tokens_details":{"reasoning_tokens":5}}}"""u8),
            Throws.TypeOf<WireFormatException>().With.Message.Contains("reasoning tokens (5) exceed output tokens (1)"));
        Assert.That(() => WireParser.Parse("""{"usageMetadata":{"promptTokenCount":9223372036854775807,"toolUsePromptTokenCount":9223372036854775807}}"""u8),
            Throws.TypeOf<WireFormatException>().With.Message.Contains("overflow"));
    }

    [TestCase("openai_chat_nonstream.json")]
    [TestCase("openai_responses_nonstream.json")]
    [TestCase("anthropic_messages_nonstream.json")]
    [TestCase("gemini_generate_content_thinking.json")]
    [TestCase("openrouter_chat_usage.json")]
    public void Parse_TruncatedJsonAtEveryLength_ThrowsWithByteOffset(string file)
    {
        var bytes = Fixtures.SharedBytes(file);
        for (var length = 1; length < bytes.Length - 1; length++)
        {
            var cut = bytes.AsSpan(0, length).ToArray();
            if (cut.AsSpan().Trim(" \r\n\t"u8).IsEmpty) continue;
            var ex = Assert.Throws<WireFormatException>(() => WireParser.Parse(cut), $"cut at {length}");
            Assert.That(ex!.Message, Does.Match("byte [0-9]+|expected a JSON object|empty"), $"cut at {length}");
        }
    }

    [TestCase("openai_chat_stream_include_usage.sse")]
    [TestCase("anthropic_messages_stream.sse")]
    public void Observe_SharedStreamCutAtEveryByte_NeverReportsMoreThanTheWholeAndFlagsTheCut(string file)
    {
        var bytes = Fixtures.SharedBytes(file);
        var whole = WireParser.Parse(bytes);
        for (var length = 0; length < bytes.Length - 3; length++)
        {
            using var observer = new WireStreamObserver();
            observer.Observe(bytes.AsSpan(0, length));
            var usage = observer.Complete();
            if (usage.Status == UsageStatus.Reported)
            {
                Assert.That(usage.Usage, Is.EqualTo(whole.Usage), $"cut at {length}: reported usage must be the final usage");
            }
            else
            {
                Assert.That(usage.Problem, Is.Not.Null, $"cut at {length}: a missing usage is flagged");
                Assert.That(usage.Usage.Output, Is.LessThanOrEqualTo(whole.Usage.Output), $"cut at {length}");
            }
        }
    }

    [TestCase("data {\"a\":1}\n\n", TestName = "Observe_DataWithoutColon")]
    [TestCase("data: {\"object\":\"chat.completion.chunk\",\"choices\":[]}\ndata: {\"object\":\"chat.completion.chunk\"}\n\n", TestName = "Observe_TwoJsonDocumentsInOneEvent")]
    [TestCase("\r\r\r\n\n\r\ndata:\r\n\r\n", TestName = "Observe_OnlyLineBreaks")]
    [TestCase("event: message_start\nevent: message_start\n\n\n\n", TestName = "Observe_EventsWithoutData")]
    [TestCase("data: {\"usage\": {\"prompt_tokens\": 1\n\n", TestName = "Observe_TruncatedJsonEvent")]
    [TestCase("data: [DONE\n\n", TestName = "Observe_BrokenDoneMarker")]
    [TestCase("datadatadatadatadatadatadatadatadatadatadatadatadatadatadatadatadatadatadata: {}\n\n", TestName = "Observe_OverlongFieldName")]
    [TestCase("data: \u0000\u0001\u0002{\n\n", TestName = "Observe_ControlCharacters")]
    [TestCase("[{\"usageMetadata\":{\"promptTokenCount\":1}}}}}]]]", TestName = "Observe_UnbalancedJsonArray")]
    [TestCase("{\"usage\":", TestName = "Observe_TruncatedJsonBody")]
    public void Observe_BrokenFraming_GivesAFlaggedMissingRecord(string stream)
    {
        using var observer = new WireStreamObserver();
        observer.Observe(Encoding.UTF8.GetBytes(stream));
        var usage = observer.Complete();
        Assert.That(usage.Status, Is.Not.EqualTo(UsageStatus.Reported));
        Assert.That(usage.Problem, Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void Observe_TenMegabyteEventThenUsage_SkipsTheHugeEventAndStillReadsUsage()
    {
        using var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        observer.Observe("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\""u8);
        var block = new byte[64 * 1024];
        block.AsSpan().Fill((byte)'x');
        for (var i = 0; i < 160; i++) observer.Observe(block); // 10 MiB of one data line
        observer.Observe("\"}}]}\n\n"u8);
        observer.Observe("data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n"u8);
        var usage = observer.Complete();

        Assert.That((usage.Status, usage.Usage), Is.EqualTo((UsageStatus.Reported, new TokenUsage(7, Output: 3))));
        Assert.That(usage.Problem, Does.Contain("over 4194304 bytes were skipped"));
    }

    [Test]
    public void Parse_TenMegabyteGarbageLine_ThrowsAClearError()
    {
        var garbage = new byte[10 * 1024 * 1024];
        garbage.AsSpan().Fill((byte)'a');
        Assert.That(() => WireParser.Parse(garbage), Throws.TypeOf<WireFormatException>());
        garbage[0] = (byte)'{';
        Assert.That(() => WireParser.Parse(garbage), Throws.TypeOf<WireFormatException>().With.Message.Contains("malformed JSON at byte"));
    }

    [Test]
    public void Parse_TenMegabyteValidBody_ReadsItsUsage()
    {
        var text = new string('x', 10 * 1024 * 1024);
        var body = Encoding.UTF8.GetBytes($"{{\"id\":\"msg_big\",\"type\":\"message\",\"model\":\"claude-opus-4-6\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}],\"usage\":{{\"input_tokens\":3,\"output_tokens\":4}}}}");
        Assert.That(WireParser.Parse(body).Usage, Is.EqualTo(new TokenUsage(3, Output: 4)));
    }

    [Test]
    public void Parse_DeeplyNestedJson_ThrowsNotOverflowsTheStack()
    {
        var deep = Encoding.UTF8.GetBytes("{\"usage\":{\"x\":" + new string('[', 100_000) + new string(']', 100_000) + "}}");
        Assert.That(() => WireParser.Parse(deep), Throws.TypeOf<WireFormatException>());
    }

    [Test]
    public void Parse_InvalidUtf8InAString_ThrowsAClearError()
    {
        var body = "{\"id\":\"msg_\"}"u8.ToArray().ToList();
        body.InsertRange(10, new byte[] { 0xC3, 0x28, 0xFF });
        var bytes = body.ToArray();
        Assert.That(WireParser.TryParse(bytes, WireProtocol.Unknown, out _, out var error), Is.False);
        Assert.That(error, Is.Not.Null);
    }

    [Test]
    [MaxTime(60_000)]
    public void ParseAndObserve_RandomMutationsOfEveryFixture_NeverThrowAnythingButWireFormatException()
    {
        var files = Directory.GetFiles(Fixtures.SharedWire).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".sse", StringComparison.Ordinal))
            .Concat(Directory.GetFiles(Path.Combine(Fixtures.Own, "wire")).Where(f => !f.EndsWith("expected.json", StringComparison.Ordinal)))
            .Select(File.ReadAllBytes).ToArray();
        var random = new Random(6);
        for (var round = 0; round < 20_000; round++)
        {
            var source = files[round % files.Length];
            var bytes = source.ToArray();
            switch (round % 4)
            {
                case 0: for (var i = 0; i < 1 + random.Next(8); i++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256); break;
                case 1: bytes = bytes.AsSpan(0, random.Next(bytes.Length)).ToArray(); break;
                case 2: random.NextBytes(bytes); break;
                default: for (var i = 0; i < 4; i++) bytes[random.Next(bytes.Length)] = (byte)Structural[random.Next(Structural.Length)]; break;
            }

            try
            {
                WireParser.Parse(bytes);
            }
            catch (WireFormatException)
            {
            }

            using var observer = new WireStreamObserver();
            var at = 0;
            while (at < bytes.Length)
            {
                var n = Math.Min(bytes.Length - at, 1 + random.Next(64));
                observer.Observe(bytes.AsSpan(at, n));
                at += n;
            }

            var usage = observer.Complete();
            Assert.DoesNotThrow(() => usage.Usage.Validate(), "buckets are always valid");
            if (usage.Status == UsageStatus.Reported) Assert.That(usage.Protocol, Is.Not.EqualTo(WireProtocol.Unknown));
        }
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, captured-import): a usage object without a single count was read as
    // a reported call of zero tokens, which the importer priced at $0.
    [TestCase(WireProtocol.AnthropicMessages, """{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{}}""")]
    [TestCase(WireProtocol.OpenAIResponses, """{"id":"resp_x","object":"response","model":"gpt-4.1","status":"incomplete","usage":{"total_tokens":5}}""")]
    [TestCase(WireProtocol.Gemini, """{"candidates":[{"finishReason":"MAX_TOKENS"}],"usageMetadata":{},"modelVersion":"gemini-2.5-pro"}""")]
    [TestCase(WireProtocol.OpenAIChat, """{"id":"chatcmpl-x","object":"chat.completion","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":null}}""")]
    public void Parse_UsageWithoutAnyCount_IsMissingNotAReportedZero(WireProtocol protocol, string json)
    {
        var usage = WireParser.Parse(Encoding.UTF8.GetBytes(json), WireProtocol.Unknown);

        Assert.That(usage.Protocol, Is.EqualTo(protocol));
        Assert.That(usage.Status, Is.EqualTo(UsageStatus.Missing));
        Assert.That(usage.Problem, Is.EqualTo("the response carries no usage"));
    }

    [Test]
    public void Observe_StreamWhoseOnlyUsageIsEmpty_IsMissing()
    {
        using var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        observer.Observe("data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{}}\n\ndata: [DONE]\n\n"u8);
        var usage = observer.Complete();

        Assert.That(usage.Status, Is.EqualTo(UsageStatus.Missing));
        Assert.That(usage.Problem, Does.Contain("without a usage chunk"));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, wire-parse): a body read as another protocol than its own (the route
    // said chat/completions, the body is Anthropic's) found none of that protocol's counts and was reported as a call
    // of zero tokens: a $0 that was never billed.
    [TestCase(WireProtocol.AnthropicMessages, """{"id":"chatcmpl-x","object":"chat.completion","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10}}""", "OpenAIChat")]
    [TestCase(WireProtocol.OpenAIChat, """{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{"input_tokens":3,"output_tokens":5,"cache_read_input_tokens":7}}""", "AnthropicMessages")]
    [TestCase(WireProtocol.OpenRouter, """{"candidates":[],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":5},"modelVersion":"gemini-2.5-pro"}""", "Gemini")]
    [TestCase(WireProtocol.Gemini, """{"id":"resp_x","object":"response","model":"gpt-4.1","status":"completed","usage":{"input_tokens":3,"output_tokens":5}}""", "AnthropicMessages")]
    public void Parse_UsageOfAnotherProtocol_IsRejectedNotAReportedZero(WireProtocol given, string json, string actual)
    {
        var ex = Assert.Throws<WireFormatException>(() => WireParser.Parse(Encoding.UTF8.GetBytes(json), given));

        Assert.That(ex!.Message, Is.EqualTo($"the usage carries none of the {given} token counts (its fields are {actual}'s)"));
    }

    [Test]
    public void Observe_StreamOfAnotherProtocol_IsFlaggedMissing()
    {
        using var observer = new WireStreamObserver(WireProtocol.AnthropicMessages);
        observer.Observe("data: {\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10}}\n\ndata: [DONE]\n\n"u8);
        var usage = observer.Complete();

        Assert.That((usage.Status, usage.Usage.TotalTokens), Is.EqualTo((UsageStatus.Missing, 0L)));
        Assert.That(usage.Problem, Does.Contain("none of the AnthropicMessages token counts"));
    }

    // Found by the fuzzer (tests/Cage.Fuzz.Tests, wire-parse): message_start's usage, then message_stop without the
    // message_delta that carries the final counts, gave usage "missing" with no problem: an unflagged record.
    [Test]
    public void Observe_AnthropicStreamWithoutItsMessageDelta_IsFlagged()
    {
        using var observer = new WireStreamObserver();
        observer.Observe("""
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_x","type":"message","model":"claude-opus-4-6","usage":{"input_tokens":12,"output_tokens":1}}}

            event: message_stop
            data: {"type":"message_stop"}


            """u8);
        var usage = observer.Complete();

        Assert.That((usage.Status, usage.Truncated, usage.Usage.Input), Is.EqualTo((UsageStatus.Missing, false, 12L)));
        Assert.That(usage.Problem, Is.EqualTo("the stream ended without the event that carries its final usage; the counts are what was reported before it"));
    }

    // Found by the fuzzer (seed 12345, case 1539): cache counts present, input_tokens and output_tokens renamed away.
    [TestCase(WireProtocol.AnthropicMessages, """{"id":"msg_x","type":"message","model":"claude-sonnet-4-6","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"inputens":4455}}""", "usage.input_tokens is missing")]
    [TestCase(WireProtocol.AnthropicMessages, """{"id":"msg_x","type":"message","model":"claude-sonnet-4-6","usage":{"input_tokens":12,"cache_read_input_tokens":0}}""", "usage.output_tokens is missing")]
    [TestCase(WireProtocol.OpenAIChat, """{"id":"c","object":"chat.completion","model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":0}}}""", "usage.completion_tokens is missing")]
    [TestCase(WireProtocol.OpenAIResponses, """{"id":"r","object":"response","model":"gpt-4.1","status":"completed","usage":{"output_tokens":5}}""", "usage.input_tokens is missing")]
    [TestCase(WireProtocol.Gemini, """{"candidates":[],"usageMetadata":{"candidatesTokenCount":5},"modelVersion":"gemini-2.5-pro"}""", "usageMetadata.promptTokenCount is missing")]
    public void Parse_UsageWithoutItsOwnInputOrOutputCount_IsNeverAReportedZero(WireProtocol protocol, string body, string problem)
    {
        var ok = WireParser.TryParse(Encoding.UTF8.GetBytes(body), protocol, out var usage, out var error);

        Assert.That(ok ? usage!.Status : (UsageStatus?)null, Is.Not.EqualTo(UsageStatus.Reported), "never a reported call");
        Assert.That(ok ? usage!.Problem : error, Does.Contain(problem));
    }

    [Test]
    public void Parse_GeminiWithoutCandidatesCount_IsAReportedZeroOutput()
    {
        // Gemini leaves candidatesTokenCount out when nothing was generated: the prompt count is enough.
        var usage = WireParser.Parse(Encoding.UTF8.GetBytes("""{"candidates":[],"usageMetadata":{"promptTokenCount":7},"modelVersion":"gemini-2.5-pro"}"""), WireProtocol.Gemini);

        Assert.That(usage.Status, Is.EqualTo(UsageStatus.Reported));
        Assert.That(usage.Usage.Input, Is.EqualTo(7));
        Assert.That(usage.Usage.Output, Is.Zero);
    }
}
