using System.Diagnostics;
using CageNet.Pricing;

namespace CageNet.Protocols.Tests.Importers;

/// <summary>
/// Folders an import must survive without hanging: links back to an ancestor, a FIFO named like a transcript, the
/// same file reached through several links. Real folders, links and FIFOs on disk; each test has a time limit.
/// </summary>
[Platform(Exclude = "Win")]
public sealed class FileSystemTrapTests
{
    private const string Line = """{"sessionId":"s1","type":"assistant","message":{"model":"claude-opus-4-6","id":"msg_{ID}","type":"message","role":"assistant","usage":{"input_tokens":10,"output_tokens":2}},"requestId":"req_{ID}","uuid":"u-{ID}","timestamp":"2026-03-11T02:40:21.204Z"}""";

    private static string Transcript(string id) => Line.Replace("{ID}", id, StringComparison.Ordinal) + "\n";

    [Test]
    [CancelAfter(20_000)]
    public void Read_FolderWithLinksToItsAncestors_EndsAndReadsEachFileOnce()
    {
        using var folder = new TempFolder();
        folder.Write("a/b/s.jsonl", Transcript("one"));
        folder.Write("a/t.jsonl", Transcript("two"));
        Directory.CreateSymbolicLink(Path.Combine(folder.Path, "a", "b", "up"), Path.Combine(folder.Path, "a"));
        Directory.CreateSymbolicLink(Path.Combine(folder.Path, "a", "b", "root"), folder.Path);

        var result = AgentLogImporter.Read(folder.Path, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId).Order(), Is.EqualTo(new[] { "msg_one", "msg_two" }));
        Assert.That(result.FilesRead, Is.EqualTo(2));
    }

    [Test]
    [CancelAfter(20_000)]
    public void Read_FileReachedThroughSeveralLinks_IsReadOnce()
    {
        using var folder = new TempFolder();
        var real = folder.Write("real/s.jsonl", Transcript("one"));
        File.CreateSymbolicLink(Path.Combine(folder.Path, "link1.jsonl"), real);
        File.CreateSymbolicLink(Path.Combine(folder.Path, "link2.jsonl"), Path.Combine(folder.Path, "link1.jsonl"));

        var result = AgentLogImporter.Read(folder.Path, PriceCatalog.BuiltIn);

        Assert.That(result.FilesRead, Is.EqualTo(1));
        Assert.That(result.Calls, Has.Count.EqualTo(1));
    }

    [Test]
    [CancelAfter(20_000)]
    public void Read_FifoNamedLikeATranscript_IsSkippedWithAProblemAndTheRestImports()
    {
        using var folder = new TempFolder();
        folder.Write("good.jsonl", Transcript("one"));
        var fifo = Path.Combine(folder.Path, "pipe.jsonl");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.That(mkfifo.ExitCode, Is.Zero, "mkfifo");
        }

        var result = AgentLogImporter.Read(folder.Path, PriceCatalog.BuiltIn);
        var alone = AgentLogImporter.Read(fifo, PriceCatalog.BuiltIn);

        Assert.That(result.Calls.Select(c => c.RequestId), Is.EqualTo(new[] { "msg_one" }));
        Assert.That(result.Problems.Single().File, Is.EqualTo(fifo));
        Assert.That(result.Problems.Single().Message, Does.Contain("not a regular file"));
        Assert.That(alone.Calls, Is.Empty);
        Assert.That(alone.Problems.Single().Message, Does.Contain("not a regular file"));
    }

    [Test]
    [CancelAfter(20_000)]
    public void Read_DanglingLink_IsSkippedWithAProblem()
    {
        using var folder = new TempFolder();
        folder.Write("good.jsonl", Transcript("one"));
        File.CreateSymbolicLink(Path.Combine(folder.Path, "gone.jsonl"), Path.Combine(folder.Path, "missing.jsonl"));

        var result = AgentLogImporter.Read(folder.Path, PriceCatalog.BuiltIn);

        Assert.That(result.Calls, Has.Count.EqualTo(1));
        Assert.That(result.Problems.Single().Message, Does.Contain("does not exist"));
    }
}
