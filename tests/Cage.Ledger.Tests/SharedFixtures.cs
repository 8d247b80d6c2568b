using System.Runtime.CompilerServices;

namespace CageNet.Tests;

/// <summary>The shared fixtures (<c>&lt;repo&gt;/../shared/fixtures</c>), found by walking up from the test output, the working directory or this source file.</summary>
internal static class SharedFixtures
{
    private static string? s_root;

    /// <summary>The worked example's input folder (it holds <c>.cage/ledger/calls.jsonl</c> and <c>receipts.jsonl</c>).</summary>
    public static string WorkedExampleInput => Path.Combine(Root, "cage", "worked-example", "input");

    private static string Root => s_root ??= Find();

    private static string Find([CallerFilePath] string sourceFile = "")
    {
        var starts = new List<string> { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory };
        if (Path.GetDirectoryName(sourceFile) is { Length: > 0 } sourceDirectory)
        {
            starts.Add(sourceDirectory);
        }

        foreach (var start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "fixtures");
                if (Directory.Exists(Path.Combine(candidate, "cage", "worked-example")))
                {
                    return candidate;
                }
            }
        }

        Assert.Fail("The shared fixtures (shared/fixtures/cage/worked-example, a sibling of the repository root) were not found walking up from: " + string.Join(", ", starts));
        return "";
    }
}
