using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

public sealed class SqliteLedgerSchemaTests
{
    [Test]
    public void Open_NewPath_CreatesFolderFileWalAndLatestSchema()
    {
        var root = TestLedger.NewFolder();
        try
        {
            var path = Path.Combine(root, "nested", ".cage", "ledger.db");

            using var ledger = SqliteLedger.Open(path);

            Assert.That(File.Exists(path), Is.True);
            Assert.That(File.Exists(path + "-wal"), Is.True, "WAL mode keeps a -wal file next to an open ledger");
            Assert.That(ledger.Path, Is.EqualTo(path));
            Assert.That(ledger.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion).And.EqualTo(13));
            using var connection = ledger.OpenReader();
            Assert.That(Scalar(connection, "PRAGMA journal_mode;"), Is.EqualTo("wal"));
            Assert.That(Scalar(connection, "PRAGMA user_version;"), Is.EqualTo((long)LedgerSchema.LatestVersion));
            Assert.That(Scalar(connection, "PRAGMA application_id;"), Is.EqualTo((long)LedgerSchema.ApplicationId));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(root);
        }
    }

    [Test]
    public async Task Open_ExistingLedger_KeepsRecordsAndVersion()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(Batch(Call("c_1")));

        var reopened = test.Reopen();

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(await reopened.FindCallAsync("c_1"), Is.Not.Null);
        using var connection = reopened.OpenReader();
        Assert.That(Scalar(connection, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('calls', 'receipts');"), Is.EqualTo(2L));
    }

    [Test]
    public void Open_FileWithNewerSchema_ThrowsNamingFileAndVersions()
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        using (var connection = new SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99;";
            command.ExecuteNonQuery();
        }

        var error = Assert.Throws<InvalidOperationException>(() => SqliteLedger.Open(test.Path));

        Assert.That(error!.Message, Does.Contain(test.Path).And.Contain("schema version 99").And.Contain($"up to {LedgerSchema.LatestVersion}"));
    }

    [Test]
    public void Open_SqliteFileOfAnotherApplication_Throws()
    {
        var folder = TestLedger.NewFolder();
        try
        {
            var path = Path.Combine(folder, "other.db");
            using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA application_id = 1234; CREATE TABLE t (x);";
                command.ExecuteNonQuery();
            }

            var error = Assert.Throws<InvalidOperationException>(() => SqliteLedger.Open(path));

            Assert.That(error!.Message, Does.Contain(path).And.Contain("not a Cage ledger"));
        }
        finally
        {
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    public void Open_PathUnderARegularFile_ThrowsNamingThePath()
    {
        var folder = TestLedger.NewFolder();
        try
        {
            var blocker = Path.Combine(folder, "blocker");
            File.WriteAllText(blocker, "not a folder");
            var path = Path.Combine(blocker, "ledger.db");

            var error = Assert.Throws<IOException>(() => SqliteLedger.Open(path));

            Assert.That(error!.Message, Does.Contain(path));
        }
        finally
        {
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    public void Open_FileThatIsNotSqlite_ThrowsNamingThePath()
    {
        var folder = TestLedger.NewFolder();
        try
        {
            var path = Path.Combine(folder, "ledger.db");
            File.WriteAllText(path, new string('x', 8192));

            var error = Assert.Throws<IOException>(() => SqliteLedger.Open(path));

            Assert.That(error!.Message, Does.Contain(path));
        }
        finally
        {
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    public void Open_NegativeBusyTimeout_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SqliteLedger.Open("unused.db", new SqliteLedgerOptions { BusyTimeoutMilliseconds = -1 }));
    }

    [Test]
    public async Task Open_SynchronousFull_StoresAndReadsBack()
    {
        using var test = TestLedger.Create(new SqliteLedgerOptions { SynchronousFull = true });

        var result = await test.Ledger.AppendAsync(Batch(Call("c_1")));

        Assert.That(result.CallsAdded, Is.EqualTo(1));
    }

    internal static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
