using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using CageNet.Ledger;
using CageNet.TestFixtures;

namespace CageNet.Packaging.Tests;

/// <summary>
/// Packs every library with <c>dotnet pack</c> into a local folder, then builds and runs brand-new console apps,
/// outside the repository, that reference the packed packages from that folder (a nuget.config beside them), as a
/// user following the README's "Use the packages" would. The app's code is the README's library quickstart snippet,
/// verbatim, which names no Cage.Ledger type.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PackagesTests
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(8);
    private static readonly TimeSpan AppTimeout = TimeSpan.FromMinutes(4);
    private static readonly string[] Libraries = ["Cage.Core", "Cage.Ledger", "Cage.Ledger.PostgreSql", "Cage.Attribution", "Cage.Extensions.AI", "Cage.Http", "Cage.Protocols", "Cage.Proxy", "Cage.Testing", "Cage.Testing.NUnit", "Cage.Views", "Cage.Mcp", "Cage.AspNetCore", "Cage.Cli"];

    private string _work = "";
    private string _feed = "";
    private string _version = "";

    [OneTimeSetUp]
    public void PackEverything()
    {
        _work = Directory.CreateTempSubdirectory("cage-packaging-").FullName;
        _feed = Path.Combine(_work, "feed");
        // A version of its own, so the machine's NuGet cache never serves a package packed by an earlier run.
        _version = "0.1.0-pack." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);

        // One MSBuild run packs every library; its outputs go to a folder of their own (UseArtifactsOutput), never the
        // repository's bin/ and obj/, which other test projects may be building at the same time.
        var traversal = Path.Combine(_work, "pack-all.proj");
        File.WriteAllText(traversal, $"""
            <Project>
              <ItemGroup>
                {string.Concat(Libraries.Select(l => $"<Library Include=\"{Path.Combine(RepositoryFixtures.Repository, "src", l, l + ".csproj")}\" />"))}
              </ItemGroup>
              <Target Name="Restore"><MSBuild Projects="@(Library)" Targets="Restore" /></Target>
              <Target Name="Pack"><MSBuild Projects="@(Library)" Targets="Pack" BuildInParallel="true" /></Target>
            </Project>
            """);
        var pack = DotNet.Run(_work, PackTimeout, "msbuild", traversal, "-restore", "-t:Pack", "-nologo", "-v:m",
            "-p:Configuration=Release", $"-p:Version={_version}", $"-p:PackageOutputPath={_feed}",
            "-p:UseArtifactsOutput=true", $"-p:ArtifactsPath={Path.Combine(_work, "artifacts")}");
        Assert.That(pack.ExitCode, Is.Zero, pack.Describe());

        File.WriteAllText(Path.Combine(_work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="cage-local" value="{_feed}" />
              </packageSources>
            </configuration>
            """);
        // Stop MSBuild's upward search for Directory.Build.* files at the temporary folder.
        File.WriteAllText(Path.Combine(_work, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(_work, "Directory.Build.targets"), "<Project />");
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        TryDelete(_work);
        // The packed versions were restored into the NuGet cache: remove them (they are unique to this run).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var library in Libraries)
        {
            TryDelete(Path.Combine(cache, library.ToLowerInvariant(), _version));
        }
    }

    [Test]
    public void EveryLibrary_IsAPackageWithReadmeLicenseRepositoryAndSymbols()
    {
        Assert.Multiple(() =>
        {
            foreach (var library in Libraries)
            {
                var package = Path.Combine(_feed, $"{library}.{_version}.nupkg");
                Assert.That(File.Exists(package), Is.True, $"{library}: no {package}");
                Assert.That(File.Exists(Path.ChangeExtension(package, ".snupkg")), Is.True, $"{library}: no symbols package");
                if (!File.Exists(package))
                {
                    continue;
                }

                using var zip = ZipFile.OpenRead(package);
                var nuspec = XDocument.Load(zip.GetEntry($"{library}.nuspec")!.Open());
                string? Field(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
                var metadata = nuspec.Descendants().First(e => e.Name.LocalName == "metadata");
                Assert.That(Field("description"), Is.Not.Null.And.Contains("Cage").Or.Contains("cage"), $"{library}: description");
                Assert.That(Field("tags"), Does.Contain("llm"), $"{library}: tags");
                Assert.That(Field("license"), Is.EqualTo("MIT"), $"{library}: license expression");
                Assert.That(Field("readme"), Is.EqualTo("README.md"), $"{library}: readme");
                Assert.That(zip.GetEntry("README.md"), Is.Not.Null, $"{library}: README.md in the package");
                var repository = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "repository");
                Assert.That(repository?.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"), $"{library}: SourceLink repository commit");
                var libraryDll = zip.Entries.Any(e => e.FullName.EndsWith(library == "Cage.Cli" ? "/cage.dll" : $"/{library}.dll", StringComparison.Ordinal));
                Assert.That(libraryDll, Is.True, $"{library}: the assembly");
            }
        });
    }

    [Test]
    public void ReadmeQuickstart_InAnAppReferencingThePackedCageLedger_WritesItsCallToDotCageLedgerDb()
    {
        var app = NewApp("ledger-app", "Cage.Ledger", QuickstartSnippet());
        Assert.That(File.ReadAllText(Path.Combine(app, "Program.cs")), Does.Not.Contain("Ledger"), "the quickstart must not name a Cage.Ledger type");

        var run = DotNet.Run(app, AppTimeout, "run");

        Assert.That(run.ExitCode, Is.Zero, run.Describe());
        Assert.That(run.Error, Does.Not.Contain("in memory"), run.Describe());
        var path = Path.Combine(app, ".cage", "ledger.db");
        Assert.That(File.Exists(path), Is.True, $"no {path}\n{run.Describe()}");
        using var ledger = SqliteLedger.Open(path);
        var report = ledger.ReportAsync(ReportQuery.Default).AsTask().GetAwaiter().GetResult();
        Assert.Multiple(() =>
        {
            Assert.That(report.Groups.Select(g => (g.Key, g.Totals.Calls)), Is.EqualTo(new[] { ("code-edit", 1L) }));
            Assert.That((report.Total.Input, report.Total.Output, report.Total.CacheRead), Is.EqualTo((8600L, 1500L, 3200L)));
            Assert.That(report.Total.UnpricedCalls, Is.Zero);
            Assert.That(report.Total.CostUsd, Is.GreaterThan(0m));
        });
        var receipts = ledger.ReceiptsForTaskAsync("fix-bug").AsTask().GetAwaiter().GetResult();
        Assert.That(receipts.Select(r => (r.Tool, r.RawAlternative, r.Actual)), Is.EqualTo(new[] { ("compressor", 10_000m, 2_000m) }));
    }

    [Test]
    public void ReadmeQuickstart_WithOnlyCageCore_WarnsOnStderrThatItMetersInMemory()
    {
        var app = NewApp("core-app", "Cage.Core", QuickstartSnippet());

        var run = DotNet.Run(app, AppTimeout, "run");

        Assert.That(run.ExitCode, Is.Zero, run.Describe());
        Assert.That(run.Error, Does.Contain("warning: metering in memory").And.Contain("Cage.Ledger package is not referenced"), run.Describe());
        Assert.That(Directory.Exists(Path.Combine(app, ".cage")), Is.False, "an in-memory meter writes no ledger");
    }

    [Test]
    public void ReadmeCostInYourTests_InANewNUnitProject_RecordsABaseline_PassesIt_AndFailsWithADiffWhenTheTokensDouble()
    {
        // The README's "Cost in your tests" alone: its packages (packed ones for Cage, the feed's for the rest) and its
        // test, verbatim, in a new NUnit project as `dotnet new nunit` lays one out.
        var folder = Path.Combine(_work, "nunit-app");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "nunit-app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <IsPackable>false</IsPackable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Cage.Testing.NUnit" Version="{_version}" />
                <PackageReference Include="Cage.Extensions.AI" Version="{_version}" />
                <PackageReference Include="Microsoft.Extensions.AI" Version="10.5.0" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.0" />
                <PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.0.1" />
                <PackageReference Include="NUnit" Version="4.4.0" />
                <PackageReference Include="NUnit3TestAdapter" Version="5.2.0" />
              </ItemGroup>
              <ItemGroup>
                <Using Include="NUnit.Framework" />
              </ItemGroup>
            </Project>
            """);
        var test = Path.Combine(folder, "AgentCostTests.cs");
        var snippet = SectionSnippet("## Cost in your tests");
        File.WriteAllText(test, snippet);
        var baseline = Path.Combine(folder, "baselines", "agent-answers.json");

        var record = DotNet.RunWith(folder, AppTimeout, new Dictionary<string, string> { ["CAGE_UPDATE_BASELINES"] = "1" }, "test");
        Assert.That(record.ExitCode, Is.Zero, record.Describe());
        Assert.That(File.Exists(baseline), Is.True, $"no {baseline}\n{record.Describe()}");
        Assert.That(File.ReadAllText(baseline), Does.Contain("\"calls\": 2"));

        var check = DotNet.Run(folder, AppTimeout, "test");
        Assert.That(check.ExitCode, Is.Zero, check.Describe());

        // A prompt change that doubles the tokens of both turns.
        Assert.That(snippet, Does.Contain("input: 1_200").And.Contain("input: 1_500"));
        File.WriteAllText(test, snippet.Replace("input: 1_200", "input: 2_400", StringComparison.Ordinal).Replace("input: 1_500", "input: 3_000", StringComparison.Ordinal));
        var regressed = DotNet.Run(folder, AppTimeout, "test");
        Assert.That(regressed.ExitCode, Is.Not.Zero, regressed.Describe());
        Assert.That(regressed.Output, Does.Contain("cost baseline 'agent-answers' regressed beyond its 5% tolerance (cost, prompt tokens)")
            .And.Contain("REGRESSED").And.Contain("the calls of this run:"), regressed.Describe());
    }

    /// <summary>The first C# block of a README section, exactly as written.</summary>
    private static string SectionSnippet(string heading)
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryFixtures.Repository, "README.md"));
        var section = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.That(section, Is.GreaterThanOrEqualTo(0), $"README.md has no '{heading}' section");
        var block = Regex.Match(readme[section..], "```csharp\\n(.*?)```", RegexOptions.Singleline);
        Assert.That(block.Success, Is.True, $"the section '{heading}' has no csharp block");
        return block.Groups[1].Value;
    }

    /// <summary>The first C# block of the README's "Library quickstart" section, exactly as written.</summary>
    private static string QuickstartSnippet()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryFixtures.Repository, "README.md"));
        var section = readme.IndexOf("## Library quickstart", StringComparison.Ordinal);
        Assert.That(section, Is.GreaterThanOrEqualTo(0), "README.md has no '## Library quickstart' section");
        var block = Regex.Match(readme[section..], "```csharp\\n(.*?)```", RegexOptions.Singleline);
        Assert.That(block.Success, Is.True, "the quickstart section has no csharp block");
        return block.Groups[1].Value;
    }

    private string NewApp(string name, string package, string program)
    {
        var folder = Path.Combine(_work, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{package}" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), program);
        for (var parent = new DirectoryInfo(folder); parent is not null; parent = parent.Parent)
        {
            Assert.That(Directory.Exists(Path.Combine(parent.FullName, ".cage")), Is.False,
                $"{parent.FullName} has a .cage folder: the app would use that ledger, not its own");
        }

        return folder;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a temporary folder.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
