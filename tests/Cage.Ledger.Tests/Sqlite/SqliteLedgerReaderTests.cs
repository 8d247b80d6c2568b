using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

public sealed class SqliteLedgerReaderTests
{
    private TestLedger _test = null!;

    private SqliteLedger Ledger => _test.Ledger;

    [SetUp]
    public void SetUp() => _test = TestLedger.Create();

    [TearDown]
    public void TearDown() => _test.Dispose();

    [Test]
    public async Task FindCallAsync_UnknownId_ReturnsNull()
    {
        Assert.That(await Ledger.FindCallAsync("c_missing"), Is.Null);
    }

    [Test]
    public async Task CallsForTaskAsync_ReturnsOnlyThatTaskOldestFirst()
    {
        await Ledger.AppendAsync(Batch(
            Call("c_late", "2026-03-01T12:00:00Z", task: "t1"),
            Call("c_other", "2026-03-01T11:00:00Z", task: "t2"),
            Call("c_early", "2026-03-01T10:00:00Z", task: "t1")));

        var calls = await Ledger.CallsForTaskAsync("t1");

        Assert.That(calls.Select(c => c.Id), Is.EqualTo(new[] { "c_early", "c_late" }));
    }

    [Test]
    public async Task ReceiptsForTaskAsync_ByOwnTaskOrByTheCallsTask_ListsEachOnceOldestFirst()
    {
        await Ledger.AppendAsync(new LedgerBatch(
            [Call("c_t1", task: "t1"), Call("c_t2", task: "t2")],
            [
                Receipt("r_call_only", "2026-03-01T10:00:02Z", callId: "c_t1"),          // by its call's task
                Receipt("r_task_only", "2026-03-01T10:00:01Z", task: "t1"),              // call-less, by its own task
                Receipt("r_both", "2026-03-01T10:00:03Z", callId: "c_t1", task: "t1"),   // matches both ways: listed once
                Receipt("r_other", "2026-03-01T10:00:00Z", callId: "c_t2", task: "t2"),
            ]));

        var receipts = await Ledger.ReceiptsForTaskAsync("t1");

        Assert.That(receipts.Select(r => r.Id), Is.EqualTo(new[] { "r_task_only", "r_call_only", "r_both" }));
    }

    [Test]
    public async Task ReceiptsForCallAsync_ReturnsThatCallsReceiptsOldestFirst()
    {
        await Ledger.AppendAsync(Batch(
            Receipt("r_2", "2026-03-01T10:00:02Z", callId: "c_1"),
            Receipt("r_1", "2026-03-01T10:00:01Z", callId: "c_1"),
            Receipt("r_x", "2026-03-01T10:00:00Z", callId: "c_2")));

        var receipts = await Ledger.ReceiptsForCallAsync("c_1");

        Assert.That(receipts.Select(r => r.Id), Is.EqualTo(new[] { "r_1", "r_2" }));
    }

    [Test]
    public async Task LatestTaskAsync_LatestCallHasNoTask_ReturnsTheLatestTaskThatExists()
    {
        await Ledger.AppendAsync(Batch(
            Call("c_1", "2026-03-01T10:00:00Z", task: "old"),
            Call("c_2", "2026-03-01T11:00:00Z", task: "new"),
            Call("c_3", "2026-03-01T12:00:00Z", task: null)));

        Assert.That(await Ledger.LatestTaskAsync(), Is.EqualTo("new"));
    }

    [Test]
    public async Task LatestTaskAsync_EmptyLedger_ReturnsNull()
    {
        Assert.That(await Ledger.LatestTaskAsync(), Is.Null);
    }

    [Test]
    public async Task ReadCallsAsync_Window_StreamsMatchingCallsOldestFirst()
    {
        await Ledger.AppendAsync(Batch(
            Call("c_3", "2026-03-03T00:00:00Z"),
            Call("c_1", "2026-03-01T00:00:00Z"),
            Call("c_2", "2026-03-02T00:00:00Z")));

        var all = new List<string>();
        await foreach (var call in Ledger.ReadCallsAsync(TimeWindow.All))
        {
            all.Add(call.Id);
        }

        var windowed = new List<string>();
        await foreach (var call in Ledger.ReadCallsAsync(new TimeWindow(At("2026-03-02T00:00:00Z"), At("2026-03-03T00:00:00Z"))))
        {
            windowed.Add(call.Id);
        }

        Assert.That(all, Is.EqualTo(new[] { "c_1", "c_2", "c_3" }));
        Assert.That(windowed, Is.EqualTo(new[] { "c_2" }));
    }

    [Test]
    public async Task ReadReceiptsAsync_Window_StreamsMatchingReceiptsOldestFirst()
    {
        await Ledger.AppendAsync(Batch(
            Receipt("r_2", "2026-03-02T00:00:00Z"),
            Receipt("r_1", "2026-03-01T00:00:00Z")));

        var ids = new List<string>();
        await foreach (var receipt in Ledger.ReadReceiptsAsync(new TimeWindow(null, At("2026-03-02T00:00:00Z"))))
        {
            ids.Add(receipt.Id);
        }

        Assert.That(ids, Is.EqualTo(new[] { "r_1" }));
    }
}
