namespace CageNet.Fuzz.Tests;

/// <summary>A temporary folder for one fixture's mutated files, with one subfolder per case.</summary>
public abstract class FuzzFolderFixture
{
    private string _folder = "";

    [OneTimeSetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "cage-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [OneTimeTearDown]
    public void DeleteFolder()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open: the system's temp cleanup removes it.
        }
    }

    /// <summary>The case's own (new) folder.</summary>
    private protected string CaseFolder(FuzzCase c)
    {
        var folder = Path.Combine(_folder, c.Target + "-" + c.Index);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
