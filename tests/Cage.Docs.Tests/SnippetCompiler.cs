using System.Globalization;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace CageNet.Docs.Tests;

/// <summary>
/// What a snippet is compiled with: the implicit usings of the kind of project it would be pasted into, and the few
/// statements that declare the names such a project already has. Preambles add no <c>using</c> of a Cage namespace
/// (a snippet shows those itself) and no type of their own: everything they name is real.
/// </summary>
/// <param name="Name">The name a marker selects (<c>&lt;!-- snippet: aspnet --&gt;</c>); <c>program</c> is the default.</param>
/// <param name="ImplicitUsings">The SDK's implicit usings for that kind of project.</param>
/// <param name="Statements">Statements placed after the snippet's own <c>using</c> directives, before its first statement.</param>
/// <param name="Kind">What the snippet compiles to: a console program, or a library (a test project's file of test classes).</param>
internal sealed record Preamble(string Name, IReadOnlyList<string> ImplicitUsings, string Statements, OutputKind Kind = OutputKind.ConsoleApplication);

/// <summary>Compiles one snippet with Roslyn against the assemblies this test project itself loads.</summary>
internal static class SnippetCompiler
{
    /// <summary>Microsoft.NET.Sdk's implicit usings (a console app).</summary>
    private static readonly string[] s_console =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    /// <summary>Microsoft.NET.Sdk.Worker's (a generic host).</summary>
    private static readonly string[] s_worker =
        [.. s_console, "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging"];

    /// <summary>Microsoft.NET.Sdk.Web's (an ASP.NET Core app).</summary>
    private static readonly string[] s_web =
        [.. s_worker, "System.Net.Http.Json", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Http", "Microsoft.AspNetCore.Routing"];

    /// <summary>The default: a block is a console program as it stands.</summary>
    public static Preamble Program { get; } = new("program", s_console, "");

    /// <summary>The preambles a marker can select. Keep them few: a snippet that needs more should declare it.</summary>
    public static IReadOnlyDictionary<string, Preamble> Preambles { get; } = new Dictionary<string, Preamble>(StringComparer.Ordinal)
    {
        // Program.cs of an ASP.NET Core minimal host: registrations on builder.Services, endpoints on app.
        ["aspnet"] = new("aspnet", s_web, """
            var builder = WebApplication.CreateBuilder(args);
            var app = builder.Build();
            """),

        // Code in a generic host's composition root, or in a class that got its services injected.
        ["host"] = new("host", s_worker, """
            var services = new ServiceCollection();                                           // the host's registrations
            IConfiguration configuration = new ConfigurationBuilder().Build();                 // the host's configuration
            IServiceProvider provider = services.BuildServiceProvider();                      // the container built from them
            var meter = provider.GetRequiredService<CageNet.ICageMeter>();                    // an injected meter
            var chat = provider.GetRequiredService<Microsoft.Extensions.AI.IChatClient>();     // an injected chat client (a pipeline)
            var inner = provider.GetRequiredService<Microsoft.Extensions.AI.IChatClient>();    // a provider SDK's client, e.g. OpenAI's AsIChatClient()
            """),

        // A test file of an NUnit project (dotnet new nunit): test classes, compiled as a library, with the template's
        // global using of NUnit.Framework.
        ["nunit"] = new("nunit", [.. s_console, "NUnit.Framework"], "", OutputKind.DynamicallyLinkedLibrary),

        // A console app about to send one provider request.
        ["http"] = new("http", s_console, """
            using var client = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, "https://api.openai.com/v1/chat/completions");
            """),
    };

    private static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest);

    private static readonly Lazy<CSharpCompilation> s_empty = new(() => CSharpCompilation.Create(
        "DocSnippet",
        references: LoadReferences(),
        options: new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable)));

    /// <summary>The preamble a snippet's marker selects.</summary>
    /// <exception cref="ArgumentException">The marker names no preamble.</exception>
    public static Preamble PreambleOf(DocSnippet snippet) =>
        snippet.Marker is null ? Program
        : Preambles.TryGetValue(snippet.Marker, out var preamble) ? preamble
        : throw new ArgumentException($"{snippet}: <!-- snippet: {snippet.Marker} --> names no preamble (known: {string.Join(", ", Preambles.Keys)}, or skip (reason))");

    /// <summary>Compiles a snippet; returns its errors as <c>file:line: CSxxxx message</c>, with the Markdown file's line numbers.</summary>
    public static IReadOnlyList<string> Compile(DocSnippet snippet)
    {
        var preamble = PreambleOf(snippet);
        var usings = CSharpSyntaxTree.ParseText(
            string.Concat(preamble.ImplicitUsings.Select(u => $"global using global::{u};\n")), s_parse, path: $"implicit usings ({preamble.Name})");
        var program = CSharpSyntaxTree.ParseText(Source(snippet, preamble), s_parse, path: snippet.File, encoding: Encoding.UTF8);
        var compilation = s_empty.Value.AddSyntaxTrees(usings, program);
        if (preamble.Kind != compilation.Options.OutputKind)
        {
            compilation = compilation.WithOptions(compilation.Options.WithOutputKind(preamble.Kind));
        }

        return [.. compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d =>
            {
                var at = d.Location.GetMappedLineSpan();
                var where = at.IsValid ? $"{at.Path}:{at.StartLinePosition.Line + 1}" : snippet.ToString();
                return $"{where}: {d.Id} {d.GetMessage(CultureInfo.InvariantCulture)}";
            })];
    }

    /// <summary>
    /// The snippet's <c>using</c> directives, then the preamble, then the rest of the snippet, with <c>#line</c>
    /// directives so every diagnostic names the Markdown file and line (or the preamble).
    /// </summary>
    internal static string Source(DocSnippet snippet, Preamble preamble)
    {
        var code = snippet.Code;
        var root = CSharpSyntaxTree.ParseText(code, s_parse).GetCompilationUnitRoot();
        var split = root.Usings.Count > 0 ? root.Usings[^1].FullSpan.End : 0;
        var head = code[..split];
        if (head.Length > 0 && !head.EndsWith('\n'))
        {
            head += "\n";
        }

        var firstLine = snippet.FenceLine + 1;
        var source = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"#line {firstLine} \"{snippet.File}\"\n")
            .Append(head);
        if (preamble.Statements.Length > 0)
        {
            source.Append(CultureInfo.InvariantCulture, $"#line 1 \"preamble {preamble.Name}\"\n")
                .Append(preamble.Statements).Append('\n')
                .Append(CultureInfo.InvariantCulture, $"#line {firstLine + head.Count(c => c == '\n')} \"{snippet.File}\"\n");
        }

        return source.Append(code[split..]).ToString();
    }

    /// <summary>
    /// The assemblies this test process runs with: the trusted platform assemblies (the shared frameworks, ASP.NET Core
    /// included, and the packages of this project's deps.json) and the managed dlls of the output folder.
    /// </summary>
    private static List<MetadataReference> LoadReferences()
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var trusted = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
        foreach (var path in trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            byName.TryAdd(Path.GetFileName(path), path);
        }

        foreach (var path in Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
        {
            byName.TryAdd(Path.GetFileName(path), path);
        }

        return [.. byName.Values.Order(StringComparer.Ordinal).Where(IsManagedAssembly).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new PEReader(stream);
            return reader.HasMetadata && reader.GetMetadataReader().IsAssembly;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
