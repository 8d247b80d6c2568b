using System.Text;
using BenchmarkDotNet.Attributes;
using CageNet.Protocols;

namespace CageNet.Benchmarks;

/// <summary>
/// What reading usage off the wire costs (issue 6, item 7): parsing a non-streaming response body (target ≤ 5 µs), and
/// observing a long stream chunk by chunk (target: no per-chunk allocation growth — compare allocated bytes at 1k and
/// 10k chunks). The payloads are the shapes of tests/fixtures/wire, embedded so the benchmark runs anywhere.
/// </summary>
[MemoryDiagnoser]
public class WireBenchmarks
{
    private static readonly byte[] OpenAIChatBody = Encoding.UTF8.GetBytes("""
        {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
         "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default"}
        """);

    private static readonly byte[] AnthropicBody = Encoding.UTF8.GetBytes("""
        {"id":"msg_fixture_plain_001","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[{"type":"text","text":"Hello there."}],
         "stop_reason":"tool_use","stop_sequence":null,"usage":{"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},
         "cache_creation_input_tokens":0,"cache_read_input_tokens":0,"inference_geo":"global","input_tokens":19131,"output_tokens":4455,"server_tool_use":null,"service_tier":"standard"}}
        """);

    private static readonly byte[] GeminiBody = Encoding.UTF8.GetBytes("""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello there."}]},"finishReason":"STOP","index":0}],
         "usageMetadata":{"promptTokenCount":15,"candidatesTokenCount":359,"thoughtsTokenCount":661,"totalTokenCount":1035,"promptTokensDetails":[{"modality":"TEXT","tokenCount":15}]},
         "modelVersion":"gemini-2.5-pro","responseId":"fixture-gemini-thinking-001"}
        """);

    private static readonly byte[] ResponsesBody = Encoding.UTF8.GetBytes("""
        {"id":"resp_fixture_001","object":"response","created_at":1741476542,"status":"completed","error":null,"incomplete_details":null,"model":"gpt-4.1-2025-04-14",
         "service_tier":"default","output":[{"id":"rs_fixture_001","type":"reasoning","summary":[]},{"id":"msg_fixture_001","type":"message","status":"completed","role":"assistant",
         "content":[{"type":"output_text","text":"Hello.","annotations":[]}]}],
         "usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":50},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":10},"total_tokens":150}}
        """);

    /// <summary>OpenAI Chat JSON body → normalized usage.</summary>
    [Benchmark]
    public WireUsage ParseOpenAIChat() => WireParser.Parse(OpenAIChatBody, WireProtocol.OpenAIChat);

    /// <summary>Anthropic Messages JSON body → normalized usage.</summary>
    [Benchmark]
    public WireUsage ParseAnthropic() => WireParser.Parse(AnthropicBody, WireProtocol.AnthropicMessages);

    /// <summary>Gemini generateContent JSON body → normalized usage.</summary>
    [Benchmark]
    public WireUsage ParseGemini() => WireParser.Parse(GeminiBody, WireProtocol.Gemini);

    /// <summary>OpenAI Responses JSON body, protocol inferred from the shape.</summary>
    [Benchmark]
    public WireUsage ParseResponsesInferred() => WireParser.Parse(ResponsesBody);
}

/// <summary>Observing long streams chunk by chunk: allocated bytes must not grow with the number of chunks.</summary>
[MemoryDiagnoser]
public class WireStreamBenchmarks
{
    private static readonly byte[] ChatChunk = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"chatcmpl-bench-stream\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");

    private static readonly byte[] ChatTail = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"chatcmpl-bench-stream\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":2006,\"completion_tokens\":300,\"total_tokens\":2306,\"prompt_tokens_details\":{\"cached_tokens\":1920}}}\n\ndata: [DONE]\n\n");

    private static readonly byte[] AnthropicHead = Encoding.UTF8.GetBytes(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-opus-4-6\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":4000,\"output_tokens\":1}}}\n\n");

    private static readonly byte[] AnthropicDelta = Encoding.UTF8.GetBytes(
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" token\"}}\n\n");

    private static readonly byte[] AnthropicTail = Encoding.UTF8.GetBytes(
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");

    private byte[] _chatStream = [];

    /// <summary>Content chunks in the stream.</summary>
    [Params(1_000, 10_000)]
    public int Chunks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var stream = new MemoryStream();
        for (var i = 0; i < Chunks; i++) stream.Write(ChatChunk);
        stream.Write(ChatTail);
        _chatStream = stream.ToArray();
    }

    /// <summary>An OpenAI Chat stream of <see cref="Chunks"/> events, one network chunk per event.</summary>
    [Benchmark]
    public WireUsage ObserveOpenAIStream()
    {
        var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        for (var i = 0; i < Chunks; i++) observer.Observe(ChatChunk);
        observer.Observe(ChatTail);
        return observer.Complete();
    }

    /// <summary>The same stream cut into 61-byte network chunks (events split mid-line).</summary>
    [Benchmark]
    public WireUsage ObserveOpenAIStreamSplit()
    {
        var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        ReadOnlySpan<byte> rest = _chatStream;
        while (!rest.IsEmpty)
        {
            var n = Math.Min(61, rest.Length);
            observer.Observe(rest[..n]);
            rest = rest[n..];
        }

        return observer.Complete();
    }

    /// <summary>An Anthropic stream of <see cref="Chunks"/> text deltas.</summary>
    [Benchmark]
    public WireUsage ObserveAnthropicStream()
    {
        var observer = new WireStreamObserver(WireProtocol.AnthropicMessages);
        observer.Observe(AnthropicHead);
        for (var i = 0; i < Chunks; i++) observer.Observe(AnthropicDelta);
        observer.Observe(AnthropicTail);
        return observer.Complete();
    }
}
