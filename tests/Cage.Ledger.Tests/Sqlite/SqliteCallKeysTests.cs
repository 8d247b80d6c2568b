using CageNet.Ledger;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// Schema step 5: calls keyed by time (rk = millisecond × 2^20 + slot). Ids are found through their bucket (Cage ids
/// stamped with the call's millisecond) or the foreign-id index (anything else); collisions probe forward.
/// </summary>
public sealed class SqliteCallKeysTests
{
    private const string Ts = "2026-03-01T10:00:00Z";

    private TestLedger _test = null!;

    private SqliteLedger Ledger => _test.Ledger;

    [SetUp]
    public void SetUp() => _test = TestLedger.Create();

    [TearDown]
    public void TearDown() => _test.Dispose();

    /// <summary>A real Cage call id stamped with <paramref name="iso"/>, its last four characters (the home slot) replaced.</summary>
    private static string CageId(string iso, string tail)
    {
        var id = CageIds.NewCallId(new FakeTimeProvider(At(iso)));
        return id[..24] + tail;
    }

    private async Task<long> CountCalls()
    {
        using var connection = Ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM calls;";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Test]
    public async Task Append_CageIdsSharingAHomeSlot_StoresEachAndFindsEach()
    {
        var a = CageId(Ts, "ZZZZ");
        var b = CageId(Ts, "ZZZZ");
        var c = CageId(Ts, "ZZZZ");
        Assume.That(new[] { a, b, c }, Is.Unique);

        // a and b in one batch (the bucket is probed in memory), c later (the bucket is probed in the file).
        var first = await Ledger.AppendAsync(Batch(Call(a, Ts, task: "ta"), Call(b, Ts, task: "tb")));
        var second = await Ledger.AppendAsync(Batch(Call(c, Ts, task: "tc")));
        var again = await Ledger.AppendAsync(Batch(Call(a, Ts, task: "ta"), Call(b, Ts, task: "tb"), Call(c, Ts, task: "tc")));

        Assert.That((first.CallsAdded, second.CallsAdded, again.CallsAdded, again.CallsSkipped), Is.EqualTo((2, 1, 0, 3)));
        Assert.That((await Ledger.FindCallAsync(a))?.Task, Is.EqualTo("ta"));
        Assert.That((await Ledger.FindCallAsync(b))?.Task, Is.EqualTo("tb"));
        Assert.That((await Ledger.FindCallAsync(c))?.Task, Is.EqualTo("tc"));
        Assert.That(await Ledger.FindCallAsync(CageId(Ts, "ZZZZ")), Is.Null);
        Assert.That(await CountCalls(), Is.EqualTo(3));
    }

    [Test]
    public async Task Append_SameCageIdTwiceInOneBatch_StoresItOnce()
    {
        var id = CageId(Ts, "0001");

        var result = await Ledger.AppendAsync(Batch(Call(id, Ts), Call(id, Ts)));

        Assert.That((result.CallsAdded, result.CallsSkipped), Is.EqualTo((1, 1)));
        Assert.That(await CountCalls(), Is.EqualTo(1));
    }

    [Test]
    public async Task Append_EarlierMillisecondRevisitedInOneBatch_FindsTheDuplicateAndTheCollision()
    {
        // Rows usually arrive in time order; here the batch goes back to the first millisecond after a later one, so
        // the writer must still see what it placed there: a repeat of a is skipped, b (same home slot) moves on.
        const string later = "2026-03-01T10:00:05Z";
        var a = CageId(Ts, "ZZZZ");
        var b = CageId(Ts, "ZZZZ");
        var c = CageId(later, "0001");
        Assume.That(a, Is.Not.EqualTo(b));

        var result = await Ledger.AppendAsync(Batch(Call(a, Ts, task: "ta"), Call(c, later, task: "tc"), Call(a, Ts, task: "ta"), Call(b, Ts, task: "tb")));

        Assert.That((result.CallsAdded, result.CallsSkipped), Is.EqualTo((3, 1)));
        Assert.That((await Ledger.FindCallAsync(a))?.Task, Is.EqualTo("ta"));
        Assert.That((await Ledger.FindCallAsync(b))?.Task, Is.EqualTo("tb"));
        Assert.That((await Ledger.FindCallAsync(c))?.Task, Is.EqualTo("tc"));
        Assert.That(await CountCalls(), Is.EqualTo(3));
    }

    [Test]
    public async Task Append_ThousandForeignIdsInOneMillisecond_AllFoundAndReimportAddsNothing()
    {
        var calls = Enumerable.Range(0, 1000).Select(i => Call("ref-" + i, Ts, task: "t" + (i % 7))).ToArray();

        var added = await Ledger.AppendAsync(new LedgerBatch(calls[..600], []));
        var rest = await Ledger.AppendAsync(new LedgerBatch(calls[600..], []));
        var again = await Ledger.AppendAsync(new LedgerBatch(calls, []));

        Assert.That((added.CallsAdded, rest.CallsAdded, again.CallsAdded), Is.EqualTo((600, 400, 0)));
        foreach (var i in new[] { 0, 1, 599, 600, 999 })
        {
            Assert.That((await Ledger.FindCallAsync("ref-" + i))?.Task, Is.EqualTo("t" + (i % 7)), "ref-" + i);
        }

        Assert.That((await Ledger.CallsForTaskAsync("t3")).Select(c => c.Id), Is.EquivalentTo(calls.Where(c => c.Task == "t3").Select(c => c.Id)));
    }

    [Test]
    public async Task Append_CageIdStampedWithAnotherMillisecond_IsFoundAndNeverStoredTwice()
    {
        // Stamped 10:00, but the record says 11:00 (an edited or re-timed import): kept in the foreign-id index.
        var id = CageId(Ts, "0002");
        await Ledger.AppendAsync(Batch(Call(id, "2026-03-01T11:00:00Z", task: "moved")));

        var sameAgain = await Ledger.AppendAsync(Batch(Call(id, "2026-03-01T11:00:00Z")));
        var atItsStamp = await Ledger.AppendAsync(Batch(Call(id, Ts)));

        Assert.That((sameAgain.CallsAdded, atItsStamp.CallsAdded), Is.EqualTo((0, 0)));
        Assert.That((await Ledger.FindCallAsync(id))?.Task, Is.EqualTo("moved"));
        Assert.That(await CountCalls(), Is.EqualTo(1));
    }

    [Test]
    public async Task Append_NativeCallThenTheSameIdWithAnotherTime_IsSkipped()
    {
        var id = CageId(Ts, "0003");
        await Ledger.AppendAsync(Batch(Call(id, Ts, task: "native")));

        var later = await Ledger.AppendAsync(Batch(Call(id, "2026-03-02T09:00:00Z")));

        Assert.That(later.CallsAdded, Is.EqualTo(0));
        Assert.That((await Ledger.FindCallAsync(id))?.Task, Is.EqualTo("native"));
    }

    [Test]
    public async Task CallsForTask_AcrossBatchesOutOfOrderAndBeyondOnePostingRow_ReturnsEveryCallInTimeOrder()
    {
        var start = At(Ts);
        var big = Enumerable.Range(0, PostingList.MaxPerRow + 10)
            .Select(i => Call("big-" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), start.AddSeconds(100 + i).ToString("O"), task: "long"))
            .ToArray();
        await Ledger.AppendAsync(new LedgerBatch(big, []));
        await Ledger.AppendAsync(Batch(Call("late-but-early", start.AddSeconds(1).ToString("O"), task: "long")));
        await Ledger.AppendAsync(Batch(Call("other", start.AddSeconds(2).ToString("O"), task: "short")));

        var calls = await Ledger.CallsForTaskAsync("long");

        Assert.That(calls, Has.Count.EqualTo(big.Length + 1));
        Assert.That(calls[0].Id, Is.EqualTo("late-but-early"));
        Assert.That(calls.Select(c => c.Timestamp), Is.Ordered);
        Assert.That(calls.Select(c => c.Id), Is.Unique);
    }

    [Test]
    public async Task ReadCalls_CallsOfOneMillisecond_ComeInArrivalOrderAcrossBatchesAndReturns()
    {
        // a in one batch; then b, x (another millisecond), c back in a's millisecond; then d in a later batch.
        await Ledger.AppendAsync(Batch(Call("a", Ts, task: "t")));
        await Ledger.AppendAsync(Batch(Call("b", Ts, task: "t"), Call("x", "2026-03-01T10:00:00.005Z", task: "t"), Call("c", Ts, task: "t")));
        await Ledger.AppendAsync(Batch(Call("d", Ts, task: "t")));

        var window = new List<string>();
        await foreach (var call in Ledger.ReadCallsAsync(TimeWindow.All))
        {
            window.Add(call.Id);
        }

        Assert.That(window, Is.EqualTo(new[] { "a", "b", "c", "d", "x" }));
        Assert.That((await Ledger.CallsForTaskAsync("t")).Select(c => c.Id), Is.EqualTo(new[] { "a", "b", "c", "d", "x" }));
    }

    [Test]
    public async Task AppendReceipts_CageAndForeignIdsAgainAndInOneMillisecond_StoredOnceInArrivalOrder()
    {
        var clock = new FakeTimeProvider(At(Ts));
        var cageIds = Enumerable.Range(0, 5).Select(_ => CageIds.NewReceiptId(clock)).ToArray();
        var receipts = cageIds.Select((id, i) => Receipt(id, Ts, task: "rt", callId: "c-" + (i % 2)))
            .Concat(Enumerable.Range(0, 5).Select(i => Receipt("ref-r" + i, Ts, task: "rt", callId: "c-" + (i % 2))))
            .ToArray();

        var first = await Ledger.AppendAsync(new LedgerBatch([], receipts[..4]));
        var rest = await Ledger.AppendAsync(new LedgerBatch([], receipts[4..]));
        var again = await Ledger.AppendAsync(new LedgerBatch([], receipts));

        Assert.That((first.ReceiptsAdded, rest.ReceiptsAdded, again.ReceiptsAdded, again.ReceiptsSkipped), Is.EqualTo((4, 6, 0, 10)));
        Assert.That((await Ledger.ReceiptsForTaskAsync("rt")).Select(r => r.Id), Is.EqualTo(receipts.Select(r => r.Id)));
        Assert.That((await Ledger.ReceiptsForCallAsync("c-1")).Select(r => r.Id), Is.EqualTo(receipts.Where(r => r.CallId == "c-1").Select(r => r.Id)));
        var all = new List<string>();
        await foreach (var receipt in Ledger.ReadReceiptsAsync(TimeWindow.All))
        {
            all.Add(receipt.Id);
        }

        Assert.That(all, Is.EqualTo(receipts.Select(r => r.Id)));
    }

    [Test]
    public async Task Receipts_PointAtTheirCallsKey_AndAPendingOneFindsItsCallWhenItArrives()
    {
        var early = CageId(Ts, "0004");
        var late = CageId("2026-03-01T12:00:00Z", "0005");
        await Ledger.AppendAsync(Batch(Call(early, Ts, task: "t", model: "claude-opus-4-8")));
        await Ledger.AppendAsync(new LedgerBatch([], [Receipt("r1", Ts, callId: early), Receipt("r2", Ts, callId: late)]));
        await Ledger.AppendAsync(Batch(Call(late, "2026-03-01T12:00:00Z", task: "t", model: "gpt-5", provider: "openai")));

        var joined = new List<ReceiptWithCall>();
        await foreach (var item in Ledger.ReadReceiptsWithCallsAsync(TimeWindow.All))
        {
            joined.Add(item);
        }

        Assert.That(joined.Select(j => (j.Receipt.Id, j.Call?.Model)), Is.EquivalentTo(new[] { ("r1", "claude-opus-4-8"), ("r2", "gpt-5") }));
        Assert.That((await Ledger.ReceiptsForTaskAsync("t")).Select(r => r.Id), Is.EqualTo(new[] { "r1", "r2" }));
        Assert.That((await Ledger.ReceiptsForCallAsync(late)).Select(r => r.Id), Is.EqualTo(new[] { "r2" }));
    }
}

public sealed class PostingListTests
{
    [Test]
    public void EncodeDecode_NegativeFirstAndLargeGaps_RoundTrips()
    {
        long[] keys = [-5_000_000_000_000L, -1, 0, 1, 1L << 40, (1L << 62) + 7];
        var buffer = new byte[1];

        var length = PostingList.Encode(keys, ref buffer);
        var decoded = new List<long>();
        PostingList.Decode(buffer.AsSpan(0, length), decoded);

        Assert.That(decoded, Is.EqualTo(keys));
    }

    [Test]
    public void Decode_TruncatedVarint_ThrowsInvalidData()
    {
        Assert.That(() => PostingList.Decode(new byte[] { 0x02, 0x80 }, []), Throws.TypeOf<InvalidDataException>());
    }
}

public sealed class CallKeysTests
{
    [Test]
    public void TryCageMilliseconds_RealCageId_GivesItsStamp()
    {
        var at = DateTimeOffset.Parse("2026-03-01T10:00:00.123Z", System.Globalization.CultureInfo.InvariantCulture);
        var id = CageIds.NewCallId(new FakeTimeProvider(at));

        Assert.That(CallKeys.TryCageMilliseconds(id, out var ms), Is.True);
        Assert.That(ms, Is.EqualTo(at.ToUnixTimeMilliseconds()));
        Assert.That(CallKeys.Classify(id, at.ToUnixTimeMilliseconds()), Is.EqualTo(CallKeys.Native));
        Assert.That(CallKeys.Classify(id, at.ToUnixTimeMilliseconds() + 1), Is.EqualTo(CallKeys.ForeignStamped));
    }

    [TestCase("c_001")]
    [TestCase("c_01jq3v6kx2m4n5p6q7r8s9t0vw")] // lower case is not how Cage writes ids
    [TestCase("c_01JQ3V6KX2M4N5P6Q7R8S9T0UW")] // U is not a Crockford digit
    [TestCase("c-01JQ3V6KX2M4N5P6Q7R8S9T0VW")]
    [TestCase("c_81JQ3V6KX2M4N5P6Q7R8S9T0VW")] // more than 48 bits of time
    public void TryCageMilliseconds_OtherStrings_AreForeign(string id)
    {
        Assert.That(CallKeys.TryCageMilliseconds(id, out _), Is.False);
        Assert.That(CallKeys.Classify(id, 0), Is.EqualTo(CallKeys.ForeignOther));
    }

    [Test]
    public void HomeSlot_IsWithinTheBucketAndDependsOnTheIdOnly()
    {
        var slots = Enumerable.Range(0, 2000).Select(i => CallKeys.HomeSlot("ref-" + i)).ToArray();

        Assert.That(slots, Is.All.InRange(0, CallKeys.SlotsPerMillisecond - 1));
        Assert.That(slots.Distinct().Count(), Is.GreaterThan(1990)); // spread: few collisions among 2,000 ids in 2^20 slots
        Assert.That(CallKeys.HomeSlot("ref-7"), Is.EqualTo(slots[7]));
    }
}

public sealed class KeyedCallsMigrationTests
{
    [Test]
    public async Task Open_Version4Ledger_MovesCallsToTimeKeysKeepingEveryReadTheSame()
    {
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        var native = CageIds.NewCallId(new FakeTimeProvider(At("2026-03-01T10:00:00Z")));
        try
        {
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                LedgerSchema.Migrate(connection, path, 4); // a genuine version-4 file: rowid calls with five indexes
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"""
                    INSERT INTO calls (id, ts_ms, task, route, provider, model, input, cache_read, cache_write_5m, cache_write_1h,
                                       output, cost_e10, cost_source, usage_status, latency_ms, ok, retries, attempt, request_id)
                    VALUES ('{native}', 1772359200000, 'fix', 'code-edit', 'anthropic', 'claude-opus-4-8', 8600, 0, 0, 0, 1500, 483000000, 'catalog', 'reported', 900, 1, 0, 1, 'req-1'),
                           ('c_ref_b', 1772359200000, 'fix', 'code-edit', 'openai', 'gpt-5', 100, 0, 0, 0, 10, 1000, 'catalog', 'reported', 10, 1, 0, 1, NULL),
                           ('c_ref_a', 1772355600000, 'fix', 'code-edit', 'openai', 'gpt-5', 200, 0, 0, 0, 20, 2000, 'catalog', 'reported', 10, 1, 0, 1, NULL),
                           ('c_ref_c', 1772445600000, 'other', NULL, 'openai', 'gpt-5', 300, 0, 0, 0, 30, 3000, 'catalog', 'reported', 10, 1, 0, 1, NULL);
                    INSERT INTO receipts (id, ts_ms, call_id, task, tool, unit, raw_alternative, actual, method, confidence, pending)
                    VALUES ('r1', 1772359200000, '{native}', NULL, 'fux', 'tokens', '8000', '1600', 'modeled', 0.9, 0),
                           ('r2', 1772359200000, 'c_ref_b', NULL, 'fux', 'tokens', '500', '100', 'modeled', 0.9, 0),
                           ('r3', 1772359200000, 'c_missing', 'fix', 'fux', 'tokens', '50', '10', 'modeled', 0.9, 1);
                    """;
                command.ExecuteNonQuery();
            }

            await using var ledger = SqliteLedger.Open(path);

            Assert.That(ledger.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
            Assert.That((await ledger.FindCallAsync(native))?.Usage.Input, Is.EqualTo(8600));
            Assert.That((await ledger.FindCallAsync("c_ref_c"))?.Task, Is.EqualTo("other"));
            var fix = (await ledger.CallsForTaskAsync("fix")).Select(c => c.Id).ToList();
            Assert.That(fix, Is.EquivalentTo(new[] { "c_ref_a", native, "c_ref_b" }));
            Assert.That(fix[0], Is.EqualTo("c_ref_a")); // the other two share a millisecond
            Assert.That((await ledger.ReceiptsForTaskAsync("fix")).Select(r => r.Id), Is.EquivalentTo(new[] { "r1", "r2", "r3" }));
            var joined = new List<ReceiptWithCall>();
            await foreach (var item in ledger.ReadReceiptsWithCallsAsync(TimeWindow.All))
            {
                joined.Add(item);
            }

            Assert.That(joined.Select(j => (j.Receipt.Id, j.Call?.Model)), Is.EquivalentTo(new[] { ("r1", "claude-opus-4-8"), ("r2", "gpt-5"), ("r3", (string?)null) }));
            Assert.That(joined.Select(j => j.Receipt.Id), Is.EqualTo(new[] { "r1", "r2", "r3" }), "receipts of one millisecond keep their order");
            Assert.That((await ledger.ReceiptsForCallAsync("c_ref_b")).Select(r => r.Id), Is.EqualTo(new[] { "r2" }));
            Assert.That((await ledger.ReceiptsForCallAsync("c_missing")).Select(r => r.Id), Is.EqualTo(new[] { "r3" }));
            var receiptsAgain = await ledger.AppendAsync(new LedgerBatch([], [Receipt("r1", "2026-03-01T10:00:00Z", callId: native), Receipt("r3", "2026-03-01T10:00:00Z")]));
            Assert.That(receiptsAgain.ReceiptsAdded, Is.EqualTo(0));
            var window = new List<string>();
            await foreach (var call in ledger.ReadCallsAsync(new TimeWindow(At("2026-03-01T09:30:00Z"), At("2026-03-02T00:00:00Z"))))
            {
                window.Add(call.Id);
            }

            Assert.That(window, Is.EquivalentTo(new[] { native, "c_ref_b" }));

            // Idempotency survives the move: the same calls again (by id and by request id) add nothing.
            var again = await ledger.AppendAsync(new LedgerBatch(
            [
                Call(native, "2026-03-01T10:00:00Z"), Call("c_ref_a", "2026-03-01T09:00:00Z"), Call("other-id", "2026-03-05T00:00:00Z", requestId: "req-1"),
            ], []));
            Assert.That(again.CallsAdded, Is.EqualTo(0));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }
}

public sealed class NativeSqliteTests
{
    [Test]
    public void IsDirect_AfterALedgerOpened_UsesTheLoadedLibraryOnThisPlatform()
    {
        // On the platforms CI runs (Linux x64), the writer's hot calls go straight to the e_sqlite3 instance that
        // SQLitePCLRaw loaded; every other ledger test then exercises that path with real files.
        using var test = TestLedger.Create();

        Assert.That(NativeSqlite.IsDirect, Is.True);
    }
}

public sealed class KeyedReceiptsMigrationTests
{
    [Test]
    public void Open_Version5LedgerWithMoreReceiptsInOneMillisecondThanSlots_FailsNamingTheFileAndLeavesItAtVersion5()
    {
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        try
        {
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
            {
                connection.Open();
                LedgerSchema.Migrate(connection, path, 5);
                using var command = connection.CreateCommand();
                command.CommandText =
                    $"""
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {CallKeys.SlotsPerMillisecond})
                    INSERT INTO receipts (id, ts_ms, tool, unit, raw_alternative, actual, method, confidence, pending)
                    SELECT 'r-' || i, 1772359200000, 'fux', 'tokens', '2', '1', 'modeled', 1.0, 0 FROM n;
                    """;
                command.ExecuteNonQuery();
            }

            var ex = Assert.Throws<InvalidOperationException>(() => SqliteLedger.Open(path));

            Assert.That(ex!.Message, Does.Contain(path).And.Contain("1772359200000"));
            using var check = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
            check.Open();
            using var version = check.CreateCommand();
            version.CommandText = "PRAGMA user_version;";
            Assert.That(version.ExecuteScalar(), Is.EqualTo(5L));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    public async Task ReceiptsForCall_MalformedPostingList_NamesTheLedgerAndTheCall()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(new LedgerBatch([], [Receipt("r1", callId: "c-1")]));
        using (var connection = test.Ledger.OpenReader())
        {
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE postings SET rks = x'80' WHERE kind = 2;";
            command.ExecuteNonQuery();
        }

        var ex = Assert.ThrowsAsync<InvalidDataException>(async () => await test.Ledger.ReceiptsForCallAsync("c-1"));

        Assert.That(ex!.Message, Does.Contain(test.Path).And.Contain("receipts of call 'c-1'"));
    }
}
