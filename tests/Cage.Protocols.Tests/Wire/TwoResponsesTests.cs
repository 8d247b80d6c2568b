using System.Text;

namespace CageNet.Protocols.Tests.Wire;

/// <summary>
/// Issue 13, item 3: two streams in one captured file (two captures concatenated) are a clear rejection, never one
/// call with the usage of both merged.
/// </summary>
public sealed class TwoResponsesTests
{
    private static string Anthropic => Encoding.UTF8.GetString(Fixtures.SharedBytes("anthropic_messages_stream.sse"));

    private static string OpenAI => Encoding.UTF8.GetString(Fixtures.SharedBytes("openai_chat_stream_include_usage.sse"));

    [Test]
    public void TryParse_TwoAnthropicStreamsWithTheirOwnIds_IsRejected()
    {
        var second = Anthropic.Replace("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "msg_second", StringComparison.Ordinal);
        Assert.That(second, Is.Not.EqualTo(Anthropic), "the fixture's message id was replaced");

        var ok = WireParser.TryParse(Encoding.UTF8.GetBytes(Anthropic + "\n" + second), WireProtocol.Unknown, out var usage, out var error);

        Assert.That(ok, Is.False);
        Assert.That(usage, Is.Null);
        Assert.That(error, Does.Contain("more than one response"));
    }

    [Test]
    public void TryParse_TheSameOpenAIStreamTwice_IsRejected()
    {
        // Even identical: after [DONE] nothing belongs to the response, and its usage must not be counted twice.
        var ok = WireParser.TryParse(Encoding.UTF8.GetBytes(OpenAI + "\n" + OpenAI), WireProtocol.Unknown, out _, out var error);

        Assert.That(ok, Is.False);
        Assert.That(error, Does.Contain("more than one response"));
    }

    [Test]
    public void Parse_TwoStreams_ThrowsWireFormatException()
    {
        Assert.That(() => WireParser.Parse(Encoding.UTF8.GetBytes(OpenAI + OpenAI)),
            Throws.TypeOf<WireFormatException>().With.Message.Contains("more than one response"));
    }

    [Test]
    public void TryParse_OneStream_StillParses()
    {
        Assert.That(WireParser.TryParse(Encoding.UTF8.GetBytes(Anthropic), WireProtocol.Unknown, out var anthropic, out _), Is.True);
        Assert.That(WireParser.TryParse(Encoding.UTF8.GetBytes(OpenAI), WireProtocol.Unknown, out var openai, out _), Is.True);
        Assert.That(anthropic!.Status, Is.EqualTo(UsageStatus.Reported));
        Assert.That(openai!.Status, Is.EqualTo(UsageStatus.Reported));
    }

    [Test]
    public void Observer_ALiveStreamWithASecondResponse_KeepsTheFirstAndFlagsIt()
    {
        var observer = new WireStreamObserver(WireProtocol.OpenAIChat);
        observer.Observe(Encoding.UTF8.GetBytes(OpenAI));
        var alone = observer.Complete();
        var twice = new WireStreamObserver(WireProtocol.OpenAIChat);
        twice.Observe(Encoding.UTF8.GetBytes(OpenAI + OpenAI));

        var usage = twice.Complete();

        Assert.That(usage.Usage, Is.EqualTo(alone.Usage), "the second response's usage is not merged in");
        Assert.That(usage.Problem, Does.Contain("a second response starts"));
    }
}
