using CageNet.Ledger;

namespace CageNet.Tests;

[NonParallelizable]
public sealed class LedgerLocationTests
{
    private string _root = null!;
    private string? _savedEnvironment;

    [SetUp]
    public void SetUp()
    {
        _root = TestLedger.NewFolder();
        _savedEnvironment = Environment.GetEnvironmentVariable(LedgerLocation.EnvironmentVariable);
        Environment.SetEnvironmentVariable(LedgerLocation.EnvironmentVariable, null);
    }

    [TearDown]
    public void TearDown()
    {
        Environment.SetEnvironmentVariable(LedgerLocation.EnvironmentVariable, _savedEnvironment);
        TestLedger.DeleteFolder(_root);
    }

    [Test]
    public void Resolve_ExplicitPath_WinsOverTheEnvironment()
    {
        Environment.SetEnvironmentVariable(LedgerLocation.EnvironmentVariable, Path.Combine(_root, "from-env.db"));

        var path = LedgerLocation.Resolve(Path.Combine(_root, "explicit.db"), _root);

        Assert.That(path, Is.EqualTo(Path.Combine(_root, "explicit.db")));
    }

    [Test]
    public void Resolve_RelativeExplicitPath_ResolvesAgainstTheWorkingDirectory()
    {
        Assert.That(LedgerLocation.Resolve("data/my.db", _root), Is.EqualTo(Path.Combine(_root, "data", "my.db")));
    }

    [Test]
    public void Resolve_EnvironmentVariable_WinsOverTheCageFolder()
    {
        Directory.CreateDirectory(Path.Combine(_root, ".cage"));
        Environment.SetEnvironmentVariable(LedgerLocation.EnvironmentVariable, Path.Combine(_root, "from-env.db"));

        Assert.That(LedgerLocation.Resolve(workingDirectory: _root), Is.EqualTo(Path.Combine(_root, "from-env.db")));
    }

    [Test]
    public void Resolve_NearestAncestorWithCageFolder_UsesItsLedger()
    {
        Directory.CreateDirectory(Path.Combine(_root, ".cage"));
        Directory.CreateDirectory(Path.Combine(_root, "project", ".cage"));
        var deep = Path.Combine(_root, "project", "src", "app");
        Directory.CreateDirectory(deep);

        Assert.That(LedgerLocation.Resolve(workingDirectory: deep), Is.EqualTo(Path.Combine(_root, "project", ".cage", "ledger.db")));
    }

    [Test]
    public void Resolve_NoCageFolderAnywhere_UsesTheWorkingDirectory()
    {
        var deep = Path.Combine(_root, "a", "b");
        Directory.CreateDirectory(deep);
        Assume.That(
            Ancestors(deep).Any(dir => Directory.Exists(Path.Combine(dir, ".cage"))),
            Is.False,
            "a .cage folder above the temp directory would be found first");

        Assert.That(LedgerLocation.Resolve(workingDirectory: deep), Is.EqualTo(Path.Combine(deep, ".cage", "ledger.db")));
    }

    [Test]
    public void Resolve_CageIsAFileNotAFolder_IsIgnored()
    {
        var project = Path.Combine(_root, "p");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, ".cage"), "");
        Directory.CreateDirectory(Path.Combine(_root, ".cage"));

        Assert.That(LedgerLocation.Resolve(workingDirectory: project), Is.EqualTo(Path.Combine(_root, ".cage", "ledger.db")));
    }

    private static IEnumerable<string> Ancestors(string path)
    {
        for (var dir = new DirectoryInfo(path); dir is not null; dir = dir.Parent)
        {
            yield return dir.FullName;
        }
    }
}
