namespace CageNet.Tests.Metering;

/// <summary>What the stored error text and labels keep and what they lose (SPEC 1.4).</summary>
public sealed class ErrorTextTests
{
    public static IEnumerable<TestCaseData> Secrets()
    {
        yield return new TestCaseData("key sk-ant-api03-CANARYabcdefghijkl rejected", "sk-ant-api03-CANARY").SetName("Anthropic key");
        yield return new TestCaseData("key sk-proj-CANARYabcdefghijkl rejected", "sk-proj-CANARY").SetName("OpenAI project key");
        yield return new TestCaseData("key AIzaSyCANARY0123456789abcdefghij rejected", "AIzaSyCANARY").SetName("Google key");
        yield return new TestCaseData("sent Authorization: Bearer abc.CANARY.def-123", "CANARY").SetName("Bearer token");
        yield return new TestCaseData("push failed with ghp_CANARYabcdefghijklmnopqrstu0123", "ghp_CANARY").SetName("GitHub classic token");
        yield return new TestCaseData("push failed with github_pat_11CANARY_abcdefghijklmnopqrstuvwxyz", "github_pat_11CANARY").SetName("GitHub fine-grained token");
        yield return new TestCaseData("signed by AKIACANARY2ABCDEFGHI today", "AKIACANARY2").SetName("AWS access key id");
        yield return new TestCaseData("slack xoxb-CANARY5-1234567890-abcdef said no", "xoxb-CANARY5").SetName("Slack token");
        yield return new TestCaseData("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnk0In0.c2lnbmF0dXJlNQ expired", "eyJzdWIiOiJjYW5hcnk0In0").SetName("JWT");
        yield return new TestCaseData("user jane.canary+llm@mail.example.co.uk is over quota", "jane.canary").SetName("E-mail address");
        yield return new TestCaseData("hash 0123456789abcdef0123456789abcdefCAFEBABE leaked", "0123456789abcdef0123456789abcdef").SetName("Long hex");
        yield return new TestCaseData("blob QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5MA== leaked", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIz").SetName("Long base64");
        yield return new TestCaseData("login password=CANARY-hunter2 was wrong", "CANARY-hunter2").SetName("password pair");
        yield return new TestCaseData("prompt \u00ABCANARY guillemets\u00BB too long", "CANARY").SetName("Guillemets");
        yield return new TestCaseData("prompt \u2039CANARY single guillemets\u203A too long", "CANARY").SetName("Single guillemets");
        yield return new TestCaseData("prompt \u201CCANARY curly\u201D too long", "CANARY").SetName("Curly double quotes");
        yield return new TestCaseData("prompt \u2018CANARY curly\u2019 too long", "CANARY").SetName("Curly single quotes");
        yield return new TestCaseData("prompt \u201ECANARY low-high\u201C too long", "CANARY").SetName("Low-high quotes");
        yield return new TestCaseData("prompt \u300CCANARY corner\u300D too long", "CANARY").SetName("Corner brackets");
        yield return new TestCaseData("prompt \u300ECANARY white corner\u300F too long", "CANARY").SetName("White corner brackets");
    }

    [TestCaseSource(nameof(Secrets))]
    public void Scrub_RemovesTheSecretAndKeepsTheRest(string error, string secret)
    {
        var scrubbed = ErrorText.Scrub(error)!;

        Assert.That(scrubbed, Does.Not.Contain(secret));
        Assert.That(scrubbed, Does.Contain(ErrorText.RedactedMarker).Or.Contain(ErrorText.QuotedMarker));
        Assert.That(scrubbed, Does.StartWith(error[..error.IndexOf(' ', StringComparison.Ordinal)]), "the words before the secret stay");
    }

    [TestCase("429 rate limited on claude-opus-4-8-20251101 (req_011CVx7pQ2YmRkJ4b9) after 30s")]
    [TestCase("upstream 503 from route code-edit, task fix-bug-1234, retry 2 of 3")]
    [TestCase("context_length_exceeded: 210000 > 200000 tokens for gpt-4.1-mini-2025-04-14")]
    public void Scrub_KeepsOrdinaryDiagnostics(string error) =>
        Assert.That(ErrorText.Scrub(error), Is.EqualTo(error));

    [Test]
    public void ScrubLabels_ScrubsValuesAndKeepsKeys()
    {
        var labels = new Dictionary<string, string> { ["user"] = "jane@example.com", ["team"] = "a" };

        var scrubbed = ErrorText.ScrubLabels(labels)!;

        Assert.That(scrubbed, Is.EqualTo(new Dictionary<string, string> { ["user"] = ErrorText.RedactedMarker, ["team"] = "a" }));
        Assert.That(labels["user"], Is.EqualTo("jane@example.com"), "the caller's dictionary is not changed");
    }

    [Test]
    public void ScrubLabels_NothingToScrub_ReturnsTheSameInstance()
    {
        var labels = new Dictionary<string, string> { ["team"] = "a" };

        Assert.That(ErrorText.ScrubLabels(labels), Is.SameAs(labels));
    }
}
