using System.Text;

namespace CageNet.Protocols.Tests.Wire;

public sealed class StreamObserverTests
{
    private static readonly byte[] Chunk = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"chatcmpl-a\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" token\"},\"finish_reason\":null}],\"usage\":null}\n\n");

    private static readonly byte[] Tail = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"chatcmpl-a\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n");

    private static long AllocatedObserving(int chunks)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        for (var i = 0; i < chunks; i++) observer.Observe(Chunk);
        observer.Observe(Tail);
        var usage = observer.Complete();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(usage.Usage, Is.EqualTo(new TokenUsage(20, Output: 7)));
        return allocated;
    }

    [Test]
    public void Observe_LongStream_AllocatesNothingPerChunk()
    {
        AllocatedObserving(100); // warm up: JIT, the pool's arrays
        var thousand = AllocatedObserving(1_000);
        var tenThousand = AllocatedObserving(10_000);

        // 9,000 more chunks (about 1.3 MB more input) may not cost more than a few stray bytes.
        Assert.That(tenThousand - thousand, Is.LessThan(256), $"1k chunks: {thousand} B, 10k chunks: {tenThousand} B");
    }

    [Test]
    public void Observe_ByteOrderMarkSplitAcrossChunks_IsIgnored()
    {
        var bytes = "\uFEFF"u8.ToArray().Concat(Fixtures.SharedBytes("anthropic_messages_stream.sse")).ToArray();
        using var observer = new WireStreamObserver();
        observer.Observe(bytes.AsSpan(0, 1));
        observer.Observe(bytes.AsSpan(1, 2));
        observer.Observe(bytes.AsSpan(3));
        Assert.That(observer.Complete().Usage, Is.EqualTo(new TokenUsage(25, Output: 15)));
    }

    [Test]
    public void Observe_AnthropicErrorEventMidStream_IsAFailedCallKeepingTheReportedInput()
    {
        using var observer = new WireStreamObserver();
        observer.Observe(Encoding.UTF8.GetBytes(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_e\",\"model\":\"claude-opus-4-6\",\"usage\":{\"input_tokens\":40,\"output_tokens\":1}}}\n\n" +
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
        var usage = observer.Complete();
        Assert.That((usage.Ok, usage.Error, usage.Status, usage.Usage.Input), Is.EqualTo((false, "overloaded_error", UsageStatus.Missing, 40L)));
    }

    [Test]
    public void Parse_OpenAIErrorBody_IsAFailedResponseWithoutUsage()
    {
        var usage = WireParser.Parse("""{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"""u8, WireProtocol.OpenAIChat);
        Assert.That((usage.Ok, usage.Error, usage.Status), Is.EqualTo((false, "invalid_request_error", UsageStatus.Missing)));
        Assert.That(usage.Problem, Does.Contain("no usage"));
    }

    [Test]
    public void Observe_AfterComplete_IsIgnoredAndCompleteIsIdempotent()
    {
        using var observer = new WireStreamObserver();
        observer.Observe(Tail);
        var first = observer.Complete();
        observer.Observe(Chunk);
        Assert.That(observer.Complete(), Is.SameAs(first));
        Assert.That(observer.IsCompleted, Is.True);
    }

    [Test]
    public void Observe_SmallEventCap_FlagsLargerEvents()
    {
        using var observer = new WireStreamObserver(WireProtocol.OpenAIChat, new WireStreamOptions { MaxEventBytes = 1024 });
        observer.Observe(Encoding.UTF8.GetBytes("data: {\"choices\":[{\"delta\":{\"content\":\"" + new string('y', 5000) + "\"}}]}\n\n"));
        observer.Observe(Tail);
        var usage = observer.Complete();
        Assert.That(usage.Status, Is.EqualTo(UsageStatus.Reported));
        Assert.That(usage.Problem, Is.EqualTo("1 event(s) over 1024 bytes were skipped"));
    }
}
