using CageNet.Ledger;

namespace CageNet.Tests;

/// <summary>A temporary folder holding a real ledger file; disposing it closes the ledger and deletes the folder.</summary>
internal sealed class TestLedger : IDisposable
{
    private TestLedger(string folder)
    {
        Folder = folder;
        Path = System.IO.Path.Combine(folder, "ledger.db");
    }

    /// <summary>The temporary folder.</summary>
    public string Folder { get; }

    /// <summary>The ledger file inside <see cref="Folder"/>.</summary>
    public string Path { get; }

    /// <summary>The open ledger (opened by <see cref="Create"/>, replaced by <see cref="Reopen"/>).</summary>
    public SqliteLedger Ledger { get; private set; } = null!;

    /// <summary>A new folder under the temp directory, with an empty ledger opened in it.</summary>
    public static TestLedger Create(SqliteLedgerOptions? options = null)
    {
        var test = new TestLedger(NewFolder());
        test.Ledger = SqliteLedger.Open(test.Path, options);
        return test;
    }

    /// <summary>A new, empty temporary folder (the caller deletes it).</summary>
    public static string NewFolder()
    {
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cage-ledger-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Closes the ledger and opens the same file again.</summary>
    public SqliteLedger Reopen()
    {
        Ledger.Dispose();
        Ledger = SqliteLedger.Open(Path);
        return Ledger;
    }

    public void Dispose()
    {
        Ledger?.Dispose();
        DeleteFolder(Folder);
    }

    public static void DeleteFolder(string folder)
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
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}
