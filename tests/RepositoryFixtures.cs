namespace CageNet.TestFixtures;

/// <summary>
/// The test data kept in the repository (<c>tests/fixtures</c>): provider wire payloads, the worked example's reference
/// input and outputs, and the community price map. Found by walking up from the test assembly to the folder holding
/// <c>Cage.sln</c>; nothing outside the repository is ever read.
/// </summary>
internal static class RepositoryFixtures
{
    private static readonly Lazy<string> s_root = new(Locate);

    /// <summary><c>tests/fixtures</c>.</summary>
    public static string Root => s_root.Value;

    /// <summary>The repository's root folder (the one holding <c>Cage.sln</c>).</summary>
    public static string Repository => Path.GetFullPath(Path.Combine(Root, "..", ".."));

    /// <summary>Real provider and agent-log payloads with <c>expected_normalized.json</c>.</summary>
    public static string Wire => Path.Combine(Root, "wire");

    /// <summary>The worked example: <c>input/</c> (a reference <c>.cage/</c> folder) and the reference tool's <c>output/</c>.</summary>
    public static string WorkedExample => Path.Combine(Root, "cage", "worked-example");

    /// <summary>The community price map (<c>model_prices_and_context_window.json</c>, 218 models).</summary>
    public static string PriceMap => Path.Combine(Root, "data", "model_prices_and_context_window.json");

    /// <summary>One wire fixture's path.</summary>
    public static string WireFile(string name) => Path.Combine(Wire, name);

    private static string Locate()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Cage.sln")))
            {
                var fixtures = Path.Combine(folder.FullName, "tests", "fixtures");
                return Directory.Exists(fixtures)
                    ? fixtures
                    : throw new DirectoryNotFoundException($"the repository at {folder.FullName} has no tests/fixtures folder");
            }
        }

        throw new DirectoryNotFoundException($"no Cage.sln above the test assembly's folder {AppContext.BaseDirectory}: the tests read their data from <repo>/tests/fixtures");
    }
}
