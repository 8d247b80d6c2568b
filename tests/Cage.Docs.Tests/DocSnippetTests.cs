// Docs that compile. Every ```csharp block of README.md and docs/*.md is compiled with Roslyn against the assemblies
// this project loads (all libraries but the CLI, hosting/DI, ASP.NET Core, the fake clock, NUnit); one test case per
// block, named file:line, and an error reads "docs/budgets.md:84: CS0103 The name 'x' does not exist…".
//
// The convention, for whoever writes a snippet:
// * A block compiles as it stands, as a console program: its `using` lines at the top, then top-level statements
//   (types after them if it needs any). The console SDK's implicit usings (System, System.IO, System.Linq, System.Net.Http,
//   System.Threading.Tasks…) are given; every other namespace, Cage's included, is a `using` line in the block.
// * A fragment that uses names its host would have says so on the line right before the fence:
//     <!-- snippet: aspnet -->  an ASP.NET Core Program.cs: `builder`, `app` (and the Web SDK's implicit usings);
//     <!-- snippet: host -->    a generic host: `services`, `configuration`, `provider`, and the injected `meter`,
//                               `chat` and `inner` (IChatClient) (and the Worker SDK's implicit usings);
//     <!-- snippet: http -->    a console app with an `HttpClient client` and an `HttpRequestMessage request`;
//     <!-- snippet: nunit -->   a test file of an NUnit project: test classes compiled as a library (global using NUnit.Framework).
//   The preambles (SnippetCompiler.Preambles) are statements placed after the block's `using` lines; they declare only
//   those names, with real types. Anything else a snippet uses, it declares.
// * <!-- snippet: skip (reason) --> before a block that is deliberately not C# code; the reason is required.
// Adding or removing a block changes the counts in Extractor_FindsTheKnownNumberOfBlocks: update them there.
namespace CageNet.Docs.Tests;

public sealed class DocSnippetTests
{
    private static readonly System.Text.RegularExpressions.Regex s_skip = new(@"^skip\s*\((?<reason>.*\S.*)\)$");

    /// <summary>One case per C# block of the docs.</summary>
    public static IEnumerable<TestCaseData> Snippets()
    {
        foreach (var snippet in DocSnippets.All())
        {
            var data = new TestCaseData(snippet).SetName(snippet.ToString());
            if (snippet.Marker is { } marker && s_skip.Match(marker) is { Success: true } skip)
            {
                data = data.Ignore($"{snippet}: snippet: skip ({skip.Groups["reason"].Value})");
            }

            yield return data;
        }
    }

    [TestCaseSource(nameof(Snippets))]
    public void Snippet_Compiles(DocSnippet snippet)
    {
        var errors = SnippetCompiler.Compile(snippet);
        if (errors.Count > 0)
        {
            Assert.Fail(string.Join(Environment.NewLine, errors));
        }
    }

    [Test]
    public void Extractor_FindsTheKnownNumberOfBlocks()
    {
        // The known number of ```csharp blocks per file; a file that is not listed has none.
        var expected = new Dictionary<string, int>
        {
            ["README.md"] = 7,
            ["docs/attribution.md"] = 1,
            ["docs/budgets.md"] = 6,
            ["docs/dashboard.md"] = 1,
            ["docs/integrations.md"] = 9,
            ["docs/ledger.md"] = 1,
            ["docs/mcp.md"] = 1,
            ["docs/postgres.md"] = 2,
            ["docs/proxy.md"] = 1,
            ["src/Cage.AspNetCore/README.md"] = 1,
            ["src/Cage.Core/README.md"] = 1,
            ["src/Cage.Extensions.AI/README.md"] = 1,
            ["src/Cage.Http/README.md"] = 1,
            ["src/Cage.Ledger/README.md"] = 1,
            ["src/Cage.Ledger.PostgreSql/README.md"] = 1,
            ["src/Cage.Mcp/README.md"] = 1,
            ["src/Cage.Proxy/README.md"] = 1,
            ["src/Cage.Testing/README.md"] = 1,
            ["src/Cage.Testing.NUnit/README.md"] = 1,
            ["src/Cage.Views/README.md"] = 1,
        };

        var files = DocSnippets.Files();
        Assert.That(files, Does.Contain("README.md").And.Contain("docs/integrations.md"), "the docs were not found");
        var extracted = DocSnippets.All().GroupBy(s => s.File).ToDictionary(g => g.Key, g => g.Count());
        Assert.Multiple(() =>
        {
            Assert.That(extracted, Is.EquivalentTo(expected), "C# blocks per file: " + string.Join(", ", extracted.Select(e => $"{e.Key}={e.Value}")));
            foreach (var file in files)
            {
                var (csharp, other) = DocSnippets.CountFences(file);
                Assert.That(extracted.GetValueOrDefault(file), Is.EqualTo(csharp), $"{file}: the extractor and a plain count of ```csharp fences disagree");
                Assert.That(other, Is.Zero, $"{file}: a C# block fenced as ```cs or ```c# is not compiled: fence it ```csharp");
            }
        });
        Assert.That(DocSnippets.All().All(s => s.Code.Trim().Length > 0), Is.True, "an empty C# block");
    }

    [Test]
    public void Markers_StandRightBeforeABlock_AndNameAPreambleOrASkipReason()
    {
        var attached = DocSnippets.All().Where(s => s.Marker is not null).Select(s => (s.File, Line: s.FenceLine - 1)).ToHashSet();
        Assert.Multiple(() =>
        {
            foreach (var marker in DocSnippets.Files().SelectMany(DocSnippets.Markers))
            {
                var where = $"{marker.File}:{marker.Line}";
                Assert.That(attached, Does.Contain((marker.File, marker.Line)), $"{where}: <!-- snippet: {marker.Value} --> is not on the line right before a ```csharp fence");
                Assert.That(SnippetCompiler.Preambles.ContainsKey(marker.Value) || s_skip.IsMatch(marker.Value), Is.True,
                    $"{where}: '{marker.Value}' is no preamble ({string.Join(", ", SnippetCompiler.Preambles.Keys)}) nor skip (reason)");
            }
        });
    }

    [Test]
    public void Extract_ReadsMarkersIndentationAndOnlyCSharpFences()
    {
        string[] markdown =
        [
            "# Title",                          // 1
            "```bash",                          // 2
            "```csharp",                        // 3: inside a bash block, not a fence of its own
            "```",                              // 4
            "<!-- snippet: aspnet -->",         // 5
            "```csharp",                        // 6
            "app.MapGet(\"/\", () => 1);",       // 7
            "```",                              // 8
            "- a list item:",                   // 9
            "  ```csharp",                      // 10
            "  var x = 1;",                     // 11
            "  ```",                            // 12
        ];
        var snippets = DocSnippets.Extract("docs/x.md", markdown).ToList();
        Assert.That(snippets, Is.EqualTo(new[]
        {
            new DocSnippet("docs/x.md", 6, "app.MapGet(\"/\", () => 1);\n", "aspnet"),
            new DocSnippet("docs/x.md", 10, "var x = 1;\n", null),
        }));
        Assert.That(() => DocSnippets.Extract("docs/y.md", ["text", "```csharp", "var y = 2;"]).ToList(),
            Throws.TypeOf<InvalidDataException>().With.Message.StartsWith("docs/y.md:2: the code block opened here is never closed"));
    }

    [Test]
    public void Compiler_ReportsAnErrorAtItsMarkdownLine()
    {
        // The check itself can fail: a block missing a using is reported at the file and line of the bad statement.
        var snippet = new DocSnippet("README.md", 10, "using System.Text;\n\nvar sb = new StringBuilder();\nvar m = Cage.Meter(\"x\");\n", "host");
        var errors = SnippetCompiler.Compile(snippet);
        Assert.That(errors, Has.Count.EqualTo(1).And.Some.StartsWith("README.md:14: CS0103 The name 'Cage' does not exist"), string.Join("\n", errors));
    }
}
