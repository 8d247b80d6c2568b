using System.Text.RegularExpressions;
using CageNet.TestFixtures;

namespace CageNet.Docs.Tests;

/// <summary>One <c>```csharp</c> block of a Markdown file.</summary>
/// <param name="File">The file, relative to the repository root, with forward slashes (<c>README.md</c>, <c>docs/budgets.md</c>).</param>
/// <param name="FenceLine">The 1-based line of the opening fence.</param>
/// <param name="Code">The block's text, without the fences (and without the fence's indentation).</param>
/// <param name="Marker">The value of a <c>&lt;!-- snippet: … --&gt;</c> comment on the line right before the fence, or <see langword="null"/>.</param>
public sealed record DocSnippet(string File, int FenceLine, string Code, string? Marker)
{
    /// <summary>What a failure names: <c>README.md:72</c>.</summary>
    public override string ToString() => $"{File}:{FenceLine}";
}

/// <summary>A <c>&lt;!-- snippet: … --&gt;</c> comment anywhere in a Markdown file.</summary>
/// <param name="File">The file, as in <see cref="DocSnippet.File"/>.</param>
/// <param name="Line">Its 1-based line.</param>
/// <param name="Value">What follows <c>snippet:</c>.</param>
internal sealed record SnippetMarker(string File, int Line, string Value);

/// <summary>Finds the C# blocks of the documentation: <c>README.md</c>, <c>docs/*.md</c> and the packages' <c>src/*/README.md</c>.</summary>
internal static partial class DocSnippets
{
    private static readonly Lazy<IReadOnlyList<DocSnippet>> s_all = new(() => [.. Files().SelectMany(Extract)]);

    /// <summary>The Markdown files whose C# blocks must compile, relative to the repository root, in a stable order.</summary>
    public static IReadOnlyList<string> Files()
    {
        var docs = Directory.GetFiles(Path.Combine(RepositoryFixtures.Repository, "docs"), "*.md")
            .Select(f => "docs/" + Path.GetFileName(f))
            .Order(StringComparer.Ordinal);
        // Each package's README (src/*/README.md) is the first page a NuGet user reads: its blocks compile too.
        var packages = Directory.GetDirectories(Path.Combine(RepositoryFixtures.Repository, "src"))
            .Where(d => File.Exists(Path.Combine(d, "README.md")))
            .Select(d => "src/" + Path.GetFileName(d) + "/README.md")
            .Order(StringComparer.Ordinal);
        return ["README.md", .. docs, .. packages];
    }

    /// <summary>Every C# block of every documentation file.</summary>
    public static IReadOnlyList<DocSnippet> All() => s_all.Value;

    /// <summary>A file's text, by its repository-relative name.</summary>
    public static string[] ReadLines(string file) => File.ReadAllLines(Path.Combine(RepositoryFixtures.Repository, file));

    /// <summary>The C# blocks of one file: a fence line <c>```csharp</c> up to the next line that is only <c>```</c>.</summary>
    public static IEnumerable<DocSnippet> Extract(string file) => Extract(file, ReadLines(file));

    /// <summary>The C# blocks of a file's lines.</summary>
    public static IEnumerable<DocSnippet> Extract(string file, string[] lines)
    {
        for (var i = 0; i < lines.Length; i++)
        {
            var fence = lines[i].TrimStart();
            if (!fence.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            var indent = lines[i].Length - fence.Length;
            var language = fence[3..].Trim();
            var close = i + 1;
            while (close < lines.Length && lines[close].Trim() != "```")
            {
                close++;
            }

            if (close == lines.Length)
            {
                throw new InvalidDataException($"{file}:{i + 1}: the code block opened here is never closed");
            }

            if (language == "csharp")
            {
                var body = lines[(i + 1)..close].Select(l => l.Length >= indent && string.IsNullOrWhiteSpace(l[..indent]) ? l[indent..] : l.TrimStart());
                yield return new DocSnippet(file, i + 1, string.Join("\n", body) + "\n", MarkerBefore(lines, i));
            }

            i = close;
        }
    }

    /// <summary>Every snippet marker of one file, wherever it stands.</summary>
    public static IEnumerable<SnippetMarker> Markers(string file)
    {
        var lines = ReadLines(file);
        for (var i = 0; i < lines.Length; i++)
        {
            if (MarkerPattern().Match(lines[i].Trim()) is { Success: true } match)
            {
                yield return new SnippetMarker(file, i + 1, match.Groups["value"].Value);
            }
        }
    }

    /// <summary>How many fences in a file open a C# block under any spelling (csharp, cs, c#), counted without the extractor.</summary>
    public static (int CSharp, int OtherSpellings) CountFences(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryFixtures.Repository, file));
        return (FencePattern("csharp").Matches(text).Count, FencePattern("(?:cs|c#|C#|CSharp|c-sharp)").Matches(text).Count);
    }

    private static Regex FencePattern(string language) => new($"^[ \\t]*```{language}[ \\t]*\\r?$", RegexOptions.Multiline | RegexOptions.CultureInvariant);

    private static string? MarkerBefore(string[] lines, int fence) =>
        fence > 0 && MarkerPattern().Match(lines[fence - 1].Trim()) is { Success: true } match ? match.Groups["value"].Value : null;

    [GeneratedRegex(@"^<!--\s*snippet:\s*(?<value>.*?)\s*-->$", RegexOptions.CultureInvariant)]
    private static partial Regex MarkerPattern();
}
