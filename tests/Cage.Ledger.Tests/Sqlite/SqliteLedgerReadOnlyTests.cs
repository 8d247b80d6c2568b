using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary><see cref="SqliteLedger.OpenReadOnly"/>: reads what is there, creates and writes nothing.</summary>
public sealed class SqliteLedgerReadOnlyTests
{
    [Test]
    public async Task OpenReadOnly_ExistingLedger_ReadsItsCalls()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(Batch(Call("c_one")));
        test.Ledger.Dispose();

        using var reader = SqliteLedger.OpenReadOnly(test.Path);

        Assert.That((await reader.FindCallAsync("c_one"))?.Id, Is.EqualTo("c_one"));
        Assert.That(reader.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
    }

    [Test]
    public void OpenReadOnly_Append_ThrowsNamingTheFile()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        using var reader = SqliteLedger.OpenReadOnly(test.Path);

        var ex = Assert.ThrowsAsync<InvalidOperationException>(async () => await reader.AppendAsync(Batch(Call("c_two"))));

        Assert.That(ex!.Message, Does.Contain(test.Path).And.Contain("read-only"));
    }

    [Test]
    public void OpenReadOnly_MissingFile_ThrowsAndCreatesNothing()
    {
        var folder = TestLedger.NewFolder();
        try
        {
            var path = Path.Combine(folder, "none.db");

            Assert.Throws<IOException>(() => SqliteLedger.OpenReadOnly(path));
            Assert.That(Directory.EnumerateFileSystemEntries(folder), Is.Empty);
        }
        finally
        {
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    public void OpenReadOnly_ForeignDatabase_ThrowsAndLeavesItUntouched()
    {
        var folder = TestLedger.NewFolder();
        try
        {
            var path = Path.Combine(folder, "other.db");
            using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE calls (id TEXT);";
                command.ExecuteNonQuery();
            }

            var before = File.ReadAllBytes(path);

            Assert.Throws<InvalidOperationException>(() => SqliteLedger.OpenReadOnly(path));
            SqliteConnection.ClearAllPools();
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        }
        finally
        {
            TestLedger.DeleteFolder(folder);
        }
    }
}
