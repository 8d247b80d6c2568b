namespace CageNet.Ledger;

/// <summary>Finds the ledger file (SPEC 5).</summary>
public static class LedgerLocation
{
    /// <summary>The environment variable that points at a ledger file: <c>CAGE_LEDGER</c>.</summary>
    public const string EnvironmentVariable = "CAGE_LEDGER";

    /// <summary>The ledger's file name inside a <c>.cage/</c> folder: <c>ledger.db</c>.</summary>
    public const string FileName = "ledger.db";

    /// <summary>The folder that marks a Cage project root: <c>.cage</c>.</summary>
    public const string FolderName = ".cage";

    /// <summary>
    /// The ledger file to use, first match wins: <paramref name="explicitPath"/> (an option or <c>--ledger</c>; it wins
    /// over the environment, because it was asked for explicitly), then the <c>CAGE_LEDGER</c> environment
    /// variable, then <c>&lt;root&gt;/.cage/ledger.db</c> where root is the nearest ancestor of
    /// <paramref name="workingDirectory"/> (itself included) that has a <c>.cage/</c> folder, else
    /// <c>&lt;workingDirectory&gt;/.cage/ledger.db</c>. Relative paths resolve against <paramref name="workingDirectory"/>.
    /// Nothing is created.
    /// </summary>
    /// <param name="explicitPath">A path given explicitly, or <see langword="null"/>/empty.</param>
    /// <param name="workingDirectory">Where to start; default the process's current directory.</param>
    /// <returns>A full path.</returns>
    public static string Resolve(string? explicitPath = null, string? workingDirectory = null)
    {
        var start = Path.GetFullPath(string.IsNullOrWhiteSpace(workingDirectory) ? Directory.GetCurrentDirectory() : workingDirectory);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            return Path.GetFullPath(explicitPath, start);
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment, start);
        }

        for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
        {
            if (Directory.Exists(Path.Combine(folder.FullName, FolderName)))
            {
                return Path.Combine(folder.FullName, FolderName, FileName);
            }
        }

        return Path.Combine(start, FolderName, FileName);
    }
}
