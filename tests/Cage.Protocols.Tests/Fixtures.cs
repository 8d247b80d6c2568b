using System.Runtime.CompilerServices;

namespace CageNet.Protocols.Tests;

/// <summary>Finds the shared wire fixtures (<c>shared/fixtures/wire</c>, a sibling of the repository) and this project's own.</summary>
internal static class Fixtures
{
    private static string? s_shared;

    public static string SharedWire => s_shared ??= FindShared();

    public static string Own => Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures");

    public static byte[] SharedBytes(string name) => File.ReadAllBytes(Path.Combine(SharedWire, name));

    public static byte[] OwnBytes(string name) => File.ReadAllBytes(Path.Combine(Own, name));

    private static string FindShared([CallerFilePath] string sourceFile = "")
    {
        var starts = new List<string> { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory };
        if (Path.GetDirectoryName(sourceFile) is { Length: > 0 } sourceDirectory) starts.Add(sourceDirectory);
        foreach (var start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "fixtures", "wire");
                if (File.Exists(Path.Combine(candidate, "expected_normalized.json"))) return candidate;
            }
        }

        Assert.Fail("shared/fixtures/wire was not found walking up from: " + string.Join(", ", starts));
        return "";
    }
}
