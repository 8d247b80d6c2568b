using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

public sealed class SqliteLedgerAppendTests
{
    private TestLedger _test = null!;

    private SqliteLedger Ledger => _test.Ledger;

    [SetUp]
    public void SetUp() => _test = TestLedger.Create();

    [TearDown]
    public void TearDown() => _test.Dispose();

    [Test]
    public async Task AppendAsync_SecretsInErrorTagsAndMeta_ReachNeitherTheDatabaseNorItsWal()
    {
        const string email = "jane.canary@example.com", github = "ghp_CANARYabcdefghijklmnopqrstu0123", aws = "AKIACANARY2ABCDEFGHI";
        var call = new CallRecord
        {
            Id = "c_1",
            Timestamp = At("2026-03-01T10:00:00Z"),
            Ok = false,
            Error = $"403 for {aws}: \u00ABCANARY-PROMPT\u00BB",
            Tags = new Dictionary<string, string> { ["user"] = email, ["ci"] = github },
        };
        var receipt = SavingsReceipt.Create("r_1", At("2026-03-01T10:00:01Z"), "fux", 100m, 10m, callId: "c_1",
            meta: new Dictionary<string, string> { ["token"] = github });

        await Ledger.AppendAsync(new LedgerBatch([call], [receipt]));

        // Read the raw bytes while the ledger is open: the committed rows sit in the write-ahead log until a checkpoint.
        var bytes = new List<byte>();
        foreach (var file in new[] { _test.Path, _test.Path + "-wal" }.Where(File.Exists))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            bytes.AddRange(copy.ToArray());
        }

        var raw = System.Text.Encoding.Latin1.GetString([.. bytes]);
        Assert.That(raw, Does.Contain("c_1"), "the call was written (the check below is not vacuous)");
        Assert.That(raw, Does.Not.Contain("CANARY"));
        Assert.That(raw, Does.Not.Contain("jane"));
        var stored = await Ledger.FindCallAsync("c_1");
        Assert.That(stored!.Tags!["user"], Is.EqualTo("[redacted]"));
    }

    [Test]
    public void AppendAsync_AfterDispose_ThrowsObjectDisposed()
    {
        Ledger.Dispose();

        Assert.ThrowsAsync<ObjectDisposedException>(async () => await Ledger.AppendAsync(Batch(Call("c_1"))));
    }

    [Test]
    public async Task AppendAsync_ConcurrentReaders_OnlyEverSeeWholeCommittedBatches()
    {
        const int batches = 40;
        const int batchSize = 500;
        var writer = Task.Run(async () =>
        {
            for (var b = 0; b < batches; b++)
            {
                var calls = Enumerable.Range(0, batchSize)
                    .Select(i => Call($"c_{b:D3}_{i:D4}", ts: "2026-03-01T10:00:00Z"))
                    .ToArray();
                await Ledger.AppendAsync(new LedgerBatch(calls, []));
            }
        });

        var observed = new List<long>();
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            var seen = new List<long>();
            while (!writer.IsCompleted)
            {
                var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Model, TimeWindow.All));
                seen.Add(report.Total.Calls);
            }

            return seen;
        })).ToArray();

        await writer;
        foreach (var seen in await Task.WhenAll(readers))
        {
            Assert.That(seen, Is.Ordered, "a reader never sees the ledger shrink");
            observed.AddRange(seen);
        }

        Assert.That(observed, Has.All.Matches<long>(calls => calls % batchSize == 0), "a batch is committed as a whole");
        Assert.That((await Ledger.ReportAsync(ReportQuery.Default)).Total.Calls, Is.EqualTo(batches * batchSize));
    }
}
