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
    public async Task AppendAsync_NewRecords_StoresEveryFieldExactly()
    {
        var call = new CallRecord
        {
            Id = "c_full",
            Timestamp = At("2026-03-01T10:00:00.123Z"),
            Session = "s1",
            Task = "t1",
            Agent = "a1",
            Route = "code-edit",
            Category = "delegate",
            User = "tenant-7",
            Provider = "anthropic",
            Model = "claude-opus-4-8",
            Usage = new TokenUsage(Input: 1200, CacheRead: 300, CacheWrite5m: 40, CacheWrite1h: 5, Output: 700, Reasoning: 250),
            CostUsd = 0.0123456789m,
            CostSource = CostSource.Provider,
            PriceKey = "anthropic/claude-opus-4-8",
            UsageStatus = UsageStatus.Estimated,
            LatencyMs = 1534,
            Ok = false,
            Retries = 2,
            Attempt = 3,
            RequestId = "req_abc",
            Error = "HTTP 529 overloaded",
            Tags = new Dictionary<string, string> { ["env"] = "prod", ["tier"] = "priority" },
        };
        var receipt = SavingsReceipt.Create("r_full", At("2026-03-01T10:00:01Z"), "compressor", 10000.50m, 2000.25m, "c_full", "t1",
            SavingsUnit.Tokens, SavingsMethod.Measured, 0.75, new Dictionary<string, string> { ["tool_cost_usd"] = "0.0002" });

        var result = await Ledger.AppendAsync(new LedgerBatch([call], [receipt]));

        Assert.That(result, Is.EqualTo(new AppendResult(1, 0, 1, 0)));
        var stored = await Ledger.FindCallAsync("c_full");
        Assert.That(stored, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(stored!.Timestamp, Is.EqualTo(At("2026-03-01T10:00:00.123Z")));
            Assert.That(stored.Session, Is.EqualTo("s1"));
            Assert.That(stored.Task, Is.EqualTo("t1"));
            Assert.That(stored.Agent, Is.EqualTo("a1"));
            Assert.That(stored.Route, Is.EqualTo("code-edit"));
            Assert.That(stored.Category, Is.EqualTo("delegate"));
            Assert.That(stored.User, Is.EqualTo("tenant-7"));
            Assert.That(stored.Provider, Is.EqualTo("anthropic"));
            Assert.That(stored.Model, Is.EqualTo("claude-opus-4-8"));
            Assert.That(stored.Usage, Is.EqualTo(new TokenUsage(1200, 300, 40, 5, 700, 250)));
            Assert.That(stored.CostUsd, Is.EqualTo(0.0123456789m));
            Assert.That(stored.CostSource, Is.EqualTo(CostSource.Provider));
            Assert.That(stored.PriceKey, Is.EqualTo("anthropic/claude-opus-4-8"));
            Assert.That(stored.UsageStatus, Is.EqualTo(UsageStatus.Estimated));
            Assert.That(stored.LatencyMs, Is.EqualTo(1534));
            Assert.That(stored.Ok, Is.False);
            Assert.That(stored.Retries, Is.EqualTo(2));
            Assert.That(stored.Attempt, Is.EqualTo(3));
            Assert.That(stored.RequestId, Is.EqualTo("req_abc"));
            Assert.That(stored.Error, Is.EqualTo("HTTP 529 overloaded"));
            Assert.That(stored.Tags, Is.EquivalentTo(new Dictionary<string, string> { ["env"] = "prod", ["tier"] = "priority" }));
        });

        var receipts = await Ledger.ReceiptsForCallAsync("c_full");
        Assert.That(receipts, Has.Count.EqualTo(1));
        Assert.Multiple(() =>
        {
            var r = receipts[0];
            Assert.That(r.Id, Is.EqualTo("r_full"));
            Assert.That(r.Timestamp, Is.EqualTo(At("2026-03-01T10:00:01Z")));
            Assert.That(r.Tool, Is.EqualTo("compressor"));
            Assert.That(r.RawAlternative, Is.EqualTo(10000.50m));
            Assert.That(r.RawAlternative.Scale, Is.EqualTo(2), "amounts keep their scale");
            Assert.That(r.Actual, Is.EqualTo(2000.25m));
            Assert.That(r.Saved, Is.EqualTo(8000.25m));
            Assert.That(r.CallId, Is.EqualTo("c_full"));
            Assert.That(r.Task, Is.EqualTo("t1"));
            Assert.That(r.Unit, Is.EqualTo(SavingsUnit.Tokens));
            Assert.That(r.Method, Is.EqualTo(SavingsMethod.Measured));
            Assert.That(r.Confidence, Is.EqualTo(0.75));
            Assert.That(r.Meta, Is.EquivalentTo(new Dictionary<string, string> { ["tool_cost_usd"] = "0.0002" }));
        });
    }

    [Test]
    public async Task AppendAsync_NumbersChangingOrNotFromCallToCall_StoresEachCallsOwn()
    {
        // The writer does not rebind a number column that equals the previous call's: each call must still read back
        // exactly, including values that return to an earlier one, across batches, and NULL after a number.
        var specs = new (string Id, TokenUsage Usage, decimal? Cost, CostSource Source, UsageStatus Status, bool Ok, int Retries, int Attempt)[]
        {
            ("c_1", new TokenUsage(100, 20, 5, 1, 50, 10), 0.01m, CostSource.Catalog, UsageStatus.Reported, true, 0, 1),
            ("c_2", new TokenUsage(100, 20, 5, 1, 50, 10), 0.01m, CostSource.Catalog, UsageStatus.Reported, true, 0, 1),
            ("c_3", new TokenUsage(100, Output: 50), null, CostSource.Unpriced, UsageStatus.Missing, false, 2, 3),
            ("c_4", new TokenUsage(100, 20, 5, 1, 50, 10), 0m, CostSource.Local, UsageStatus.Estimated, true, 0, 1),
        };
        var calls = specs.Select((c, i) => new CallRecord
        {
            Id = c.Id, Timestamp = At("2026-03-01T10:00:00Z").AddSeconds(i), Provider = "anthropic", Model = "claude-opus-4-8",
            Usage = c.Usage, CostUsd = c.Cost, CostSource = c.Source, UsageStatus = c.Status, Ok = c.Ok, Retries = c.Retries, Attempt = c.Attempt,
        }).ToArray();

        await Ledger.AppendAsync(Batch(calls[0], calls[1], calls[2]));
        await Ledger.AppendAsync(Batch(calls[3]));

        foreach (var spec in specs)
        {
            var stored = await Ledger.FindCallAsync(spec.Id);
            Assert.That(stored, Is.Not.Null, spec.Id);
            Assert.That((stored!.Usage, stored.CostUsd, stored.CostSource, stored.UsageStatus, stored.Ok, stored.Retries, stored.Attempt),
                Is.EqualTo((spec.Usage, spec.Cost, spec.Source, spec.Status, spec.Ok, spec.Retries, spec.Attempt)), spec.Id);
        }
    }

    [Test]
    public async Task CallsForTaskAsync_TasksAlternatingWithinAndAcrossBatches_ReturnsEachTasksCalls()
    {
        await Ledger.AppendAsync(Batch(
            Call("c_1", "2026-03-01T10:00:00Z", task: "t1"),
            Call("c_2", "2026-03-01T10:00:01Z", task: "t2"),
            Call("c_3", "2026-03-01T10:00:02Z", task: new string("t1".AsSpan())),
            Call("c_4", "2026-03-01T10:00:03Z", task: null)));
        await Ledger.AppendAsync(Batch(
            Call("c_5", "2026-03-01T10:00:04Z", task: "t2"),
            Call("c_6", "2026-03-01T10:00:05Z", task: "t1")));

        Assert.That((await Ledger.CallsForTaskAsync("t1")).Select(c => c.Id), Is.EqualTo(new[] { "c_1", "c_3", "c_6" }));
        Assert.That((await Ledger.CallsForTaskAsync("t2")).Select(c => c.Id), Is.EqualTo(new[] { "c_2", "c_5" }));
    }

    [Test]
    public async Task AppendAsync_SameBatchTwice_SkipsEverythingTheSecondTime()
    {
        var batch = new LedgerBatch([Call("c_1"), Call("c_2")], [Receipt("r_1", callId: "c_1")]);

        var first = await Ledger.AppendAsync(batch);
        var second = await Ledger.AppendAsync(batch);

        Assert.That(first, Is.EqualTo(new AppendResult(2, 0, 1, 0)));
        Assert.That(second, Is.EqualTo(new AppendResult(0, 2, 0, 1)));
        var report = await Ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Total.Calls, Is.EqualTo(2));
    }

    [Test]
    public async Task AppendAsync_SameRequestIdUnderANewId_IsSkipped()
    {
        await Ledger.AppendAsync(Batch(Call("c_1", requestId: "msg_01")));

        var retry = await Ledger.AppendAsync(Batch(Call("c_2", requestId: "msg_01"), Call("c_3", requestId: "msg_02")));

        Assert.That(retry, Is.EqualTo(new AppendResult(1, 1, 0, 0)));
        Assert.That(await Ledger.FindCallAsync("c_2"), Is.Null);
        Assert.That(await Ledger.FindCallAsync("c_3"), Is.Not.Null);
    }

    [Test]
    public async Task AppendAsync_DuplicatesInsideOneBatch_StoresTheFirstOnly()
    {
        var result = await Ledger.AppendAsync(Batch(
            Call("c_1", route: "first"),
            Call("c_1", route: "second"),
            Call("c_2", requestId: "req"),
            Call("c_3", requestId: "req")));

        Assert.That(result, Is.EqualTo(new AppendResult(2, 2, 0, 0)));
        Assert.That((await Ledger.FindCallAsync("c_1"))!.Route, Is.EqualTo("first"));
    }

    [Test]
    public async Task AppendAsync_EmptyOrMissingRequestIds_NeverCollide()
    {
        var result = await Ledger.AppendAsync(Batch(
            Call("c_1", requestId: ""),
            Call("c_2", requestId: ""),
            Call("c_3", requestId: null),
            Call("c_4", requestId: null)));

        Assert.That(result.CallsAdded, Is.EqualTo(4));
        Assert.That((await Ledger.FindCallAsync("c_1"))!.RequestId, Is.Null);
    }

    [Test]
    public async Task AppendAsync_InvalidRecordInBatch_ThrowsNamingTheFieldAndStoresNothing()
    {
        var bad = Call("c_bad", usage: new TokenUsage(Input: -5));

        var error = Assert.ThrowsAsync<CageValidationException>(async () => await Ledger.AppendAsync(Batch(Call("c_good"), bad)));

        Assert.That(error!.Field, Is.EqualTo("input"));
        Assert.That(error.Message, Does.Contain("c_bad"));
        Assert.That(await Ledger.FindCallAsync("c_good"), Is.Null);
    }

    [Test]
    public async Task AppendAsync_CostBeyondStorageRange_Throws()
    {
        var error = Assert.ThrowsAsync<CageValidationException>(async () => await Ledger.AppendAsync(Batch(Call("c_1", cost: 1_000_000_000m))));

        Assert.That(error!.Field, Is.EqualTo("cost_usd"));
        Assert.That(await Ledger.FindCallAsync("c_1"), Is.Null);
    }

    [Test]
    public async Task AppendAsync_CostFinerThanStorageUnit_RoundsHalfToEvenAtTenDecimals()
    {
        await Ledger.AppendAsync(Batch(
            Call("c_up", cost: 1.23456789015m),     // 12345678901.5 units → 12345678902 (to even)
            Call("c_down", cost: 1.23456789025m),   // 12345678902.5 units → 12345678902 (to even)
            Call("c_exact", cost: 0.0000000001m))); // one unit

        Assert.That((await Ledger.FindCallAsync("c_up"))!.CostUsd, Is.EqualTo(1.2345678902m));
        Assert.That((await Ledger.FindCallAsync("c_down"))!.CostUsd, Is.EqualTo(1.2345678902m));
        Assert.That((await Ledger.FindCallAsync("c_exact"))!.CostUsd, Is.EqualTo(0.0000000001m));
    }

    [Test]
    public async Task AppendAsync_UnpricedCall_KeepsNullCost()
    {
        await Ledger.AppendAsync(Batch(Call("c_1", model: "mystery", cost: null, source: CostSource.Unpriced)));

        var stored = await Ledger.FindCallAsync("c_1");

        Assert.That(stored!.CostUsd, Is.Null);
        Assert.That(stored.CostSource, Is.EqualTo(CostSource.Unpriced));
    }

    [Test]
    public async Task AppendAsync_ErrorWithSecret_StoresItScrubbed()
    {
        var call = new CallRecord
        {
            Id = "c_1",
            Timestamp = At("2026-03-01T10:00:00Z"),
            Ok = false,
            Error = "401 for key sk-ant-abcdefghijklmnop",
        };

        await Ledger.AppendAsync(Batch(call));

        var stored = await Ledger.FindCallAsync("c_1");
        Assert.That(stored!.Error, Does.Not.Contain("sk-ant-abcdefghijklmnop").And.Contain("[redacted]"));
    }

    [Test]
    public async Task AppendAsync_TokenCountAboveTheBound_RefusesTheRecordNamingTheFieldAndStoresNothing()
    {
        var call = new CallRecord
        {
            Id = "c_huge",
            Timestamp = At("2026-03-01T10:00:00Z"),
            Provider = "openai",
            Model = "gpt-4o",
            Usage = new TokenUsage(long.MaxValue, Output: 1),
        };

        var ex = Assert.ThrowsAsync<CageValidationException>(async () => await Ledger.AppendAsync(Batch(call)));

        Assert.That(ex!.ParamName, Is.EqualTo("input"));
        Assert.That(ex.Message, Does.Contain("c_huge"));
        Assert.That(await Ledger.FindCallAsync("c_huge"), Is.Null);
    }

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
    public async Task WriteAsync_Batch_IsReadableOnceItCompletes()
    {
        await Ledger.WriteAsync(new LedgerBatch([Call("c_1")], [Receipt("r_1", callId: "c_1")]));

        Assert.That(await Ledger.FindCallAsync("c_1"), Is.Not.Null);
        Assert.That(await Ledger.ReceiptsForCallAsync("c_1"), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task AppendAsync_EmptyBatch_AddsNothing()
    {
        var result = await Ledger.AppendAsync(LedgerBatch.Empty);

        Assert.That(result, Is.EqualTo(default(AppendResult)));
    }

    [Test]
    public void AppendAsync_CancelledToken_ThrowsAndStoresNothing()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAsync<OperationCanceledException>(async () => await Ledger.AppendAsync(Batch(Call("c_1")), cancelled.Token));
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
