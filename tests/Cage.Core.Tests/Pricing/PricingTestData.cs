using System.Runtime.CompilerServices;
using System.Text;
using CageNet.Pricing;

namespace CageNet.Tests.Pricing;

/// <summary>Locates the shared test data (<c>&lt;repo&gt;/../shared</c>) and builds small catalogs from inline JSON.</summary>
internal static class PricingTestData
{
    public const string MapFileName = "model_prices_and_context_window.json";

    private static string? s_sharedDirectory;

    /// <summary>The shared folder: the first <c>shared/data/model_prices_…json</c> found walking up from the test output or this source file.</summary>
    public static string SharedDirectory => s_sharedDirectory ??= FindSharedDirectory();

    public static string MapPath => Path.Combine(SharedDirectory, "data", MapFileName);

    public static string WireFixture(string name) => Path.Combine(SharedDirectory, "fixtures", "wire", name);

    /// <summary>A catalog parsed from inline community-format JSON.</summary>
    public static PriceCatalog Catalog(string json, string sourceName = "inline.json")
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return PriceCatalog.ParsePriceMap(stream, sourceName);
    }

    private static string FindSharedDirectory([CallerFilePath] string sourceFile = "")
    {
        var starts = new List<string> { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory };
        if (Path.GetDirectoryName(sourceFile) is { Length: > 0 } sourceDirectory) starts.Add(sourceDirectory);

        foreach (var start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared");
                if (File.Exists(Path.Combine(candidate, "data", MapFileName))) return candidate;
            }
        }

        Assert.Fail(
            $"The shared test data (shared/data/{MapFileName}, a sibling of the repository root) was not found walking up from: " +
            string.Join(", ", starts));
        return string.Empty;
    }
}
