using System.Text.Json;
using CageNet.Attribution;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Contract;

/// <summary>
/// The ledger contract every provider meets, as one suite: appends (idempotent by id and by call request id, validated,
/// scrubbed), the reader's queries and streams, and reports over whole and partial days. Each concrete fixture supplies a
/// fresh, empty ledger per test (<see cref="OpenAsync"/>): <see cref="SqliteLedgerContractTests"/> a SQLite file,
/// <see cref="PostgresLedgerContractTests"/> a new schema on a real PostgreSQL server.
/// </summary>
public abstract class LedgerContractTests
{
    private ILedgerStore? _ledger;

    /// <summary>The ledger under test.</summary>
    protected ILedgerStore Ledger => _ledger ?? throw new InvalidOperationException("no ledger: SetUp did not run");

    /// <summary>A fresh, empty ledger of the provider under test.</summary>
    protected abstract Task<ILedgerStore> OpenAsync();

    /// <summary>Closes and deletes the ledger.</summary>
    protected abstract Task CloseAsync(ILedgerStore ledger);

    [SetUp]
    public async Task SetUpLedger() => _ledger = await OpenAsync();

    [TearDown]
    public async Task TearDownLedger()
    {
        if (_ledger is { } ledger)
        {
            _ledger = null;
            await CloseAsync(ledger);
        }
    }

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

    // Reports. Five calls over two UTC days, chosen so every dimension groups differently (expected values worked out by hand):
    // Five calls over two UTC days, chosen so every dimension groups differently (expected values worked out by hand):
    // id  ts                        route      model            provider  agent task session category user  cost     notes
    // c1  2026-03-01T10:00:00Z      code-edit  claude-opus-4-8  anthropic a1    t1   s1      main     u1    0.0150   in 1000, cr 200, w5 50, w1 10, out 300 (reasoning 100)
    // c2  2026-03-01T23:59:59.999Z  code-edit  gpt-5            openai    a2    t1   s2      delegate —     0.0300   in 2000, out 500
    // c3  2026-03-02T00:00:00Z      search     mystery-model    acme      a1    t2   s2      —        u2    unpriced in 400, out 40
    // c4  2026-03-02T08:00:00Z      —          llama3           ollama    —     —    —       main     u1    0 local  in 100, out 10
    // c5  2026-03-02T09:00:00Z      search     gpt-5            openai    a2    t2   s1      —        —     null     usage missing
    private async Task SeedFiveCallsAsync()
    {
        await Ledger.AppendAsync(Batch(
            Call("c1", "2026-03-01T10:00:00Z", "code-edit", "t1", "s1", "a1", "main", "u1", "anthropic", "claude-opus-4-8",
                new TokenUsage(1000, 200, 50, 10, 300, 100), 0.0150m),
            Call("c2", "2026-03-01T23:59:59.999Z", "code-edit", "t1", "s2", "a2", "delegate", null, "openai", "gpt-5",
                new TokenUsage(2000, Output: 500), 0.0300m),
            Call("c3", "2026-03-02T00:00:00Z", "search", "t2", "s2", "a1", null, "u2", "acme", "mystery-model",
                new TokenUsage(400, Output: 40), null, CostSource.Unpriced),
            Call("c4", "2026-03-02T08:00:00Z", null, null, null, null, "main", "u1", "ollama", "llama3",
                new TokenUsage(100, Output: 10), 0m, CostSource.Local),
            Call("c5", "2026-03-02T09:00:00Z", "search", "t2", "s1", "a2", null, null, "openai", "gpt-5",
                default, null, CostSource.Catalog, UsageStatus.Missing)));
    }

    [Test]
    public async Task ReportAsync_ByRoute_SumsBucketsAndCountsUnpricedMissingAndLocal()
    {
        await SeedFiveCallsAsync();

        var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));

        Assert.That(report.Dimension, Is.EqualTo(ReportDimension.Route));
        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[] { "code-edit", "(none)", "search" }));
        Assert.That(report.Groups[0].Totals, Is.EqualTo(new SpendTotals
        {
            Calls = 2, Input = 3000, CacheRead = 200, CacheWrite5m = 50, CacheWrite1h = 10, Output = 800, Reasoning = 100, CostUsd = 0.045m,
        }));
        Assert.That(report.Groups[1].Totals, Is.EqualTo(new SpendTotals { Calls = 1, Input = 100, Output = 10, CostUsd = 0m, LocalCalls = 1 }));
        Assert.That(report.Groups[2].Totals, Is.EqualTo(new SpendTotals { Calls = 2, Input = 400, Output = 40, CostUsd = 0m, UnpricedCalls = 1, MissingUsageCalls = 1 }));
        Assert.That(report.Total, Is.EqualTo(new SpendTotals
        {
            Calls = 5, Input = 3500, CacheRead = 200, CacheWrite5m = 50, CacheWrite1h = 10, Output = 850, Reasoning = 100, CostUsd = 0.045m,
            UnpricedCalls = 1, MissingUsageCalls = 1, LocalCalls = 1,
        }));
        Assert.That(report.Total.TokensIn, Is.EqualTo(3760));
    }
    [TestCase(ReportDimension.Model, new[] { "gpt-5", "claude-opus-4-8", "llama3", "mystery-model" }, new[] { 2L, 1, 1, 1 }, new[] { "0.03", "0.015", "0", "0" })]
    [TestCase(ReportDimension.Provider, new[] { "openai", "anthropic", "acme", "ollama" }, new[] { 2L, 1, 1, 1 }, new[] { "0.03", "0.015", "0", "0" })]
    [TestCase(ReportDimension.Day, new[] { "2026-03-01", "2026-03-02" }, new[] { 2L, 3 }, new[] { "0.045", "0" })]
    [TestCase(ReportDimension.Agent, new[] { "a2", "a1", "(none)" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.Task, new[] { "t1", "(none)", "t2" }, new[] { 2L, 1, 2 }, new[] { "0.045", "0", "0" })]
    [TestCase(ReportDimension.Session, new[] { "s2", "s1", "(none)" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.Category, new[] { "delegate", "main", "(none)" }, new[] { 1L, 2, 2 }, new[] { "0.03", "0.015", "0" })]
    [TestCase(ReportDimension.User, new[] { "(none)", "u1", "u2" }, new[] { 2L, 2, 1 }, new[] { "0.03", "0.015", "0" })]
    public async Task ReportAsync_EachDimension_GroupsSortedByCostThenKey(ReportDimension dimension, string[] keys, long[] calls, string[] costs)
    {
        await SeedFiveCallsAsync();

        var report = await Ledger.ReportAsync(new ReportQuery(dimension, TimeWindow.All));

        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(keys));
        Assert.That(report.Groups.Select(g => g.Totals.Calls), Is.EqualTo(calls));
        Assert.That(report.Groups.Select(g => g.Totals.CostUsd), Is.EqualTo(costs.Select(c => decimal.Parse(c, System.Globalization.CultureInfo.InvariantCulture))));
        Assert.That(report.Total.Calls, Is.EqualTo(5));
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.045m));
    }
    [Test]
    public async Task ReportAsync_Since_IncludesTheBoundInstant()
    {
        await SeedFiveCallsAsync();

        var window = new TimeWindow(At("2026-03-02T00:00:00Z"), null);

        var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, window));

        Assert.That(report.Window, Is.SameAs(window));
        Assert.That(report.Groups.Select(g => (g.Key, g.Totals.Calls)), Is.EqualTo(new[] { ("(none)", 1L), ("search", 2L) }));
        Assert.That(report.Total, Is.EqualTo(new SpendTotals { Calls = 3, Input = 500, Output = 50, UnpricedCalls = 1, MissingUsageCalls = 1, LocalCalls = 1 }));
    }
    [Test]
    public async Task ReportAsync_Until_ExcludesTheBoundInstant()
    {
        await SeedFiveCallsAsync();

        var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Day, new TimeWindow(null, At("2026-03-02T00:00:00Z"))));

        Assert.That(report.Groups.Select(g => (g.Key, g.Totals.Calls)), Is.EqualTo(new[] { ("2026-03-01", 2L) }));
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.045m));
    }
    [Test]
    public async Task ReportAsync_SinceAndUntil_KeepsOnlyTheHalfOpenWindow()
    {
        await SeedFiveCallsAsync();

        var window = new TimeWindow(At("2026-03-01T23:59:59.999Z"), At("2026-03-02T00:00:00.001Z"));

        var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Model, window));

        Assert.That(report.Groups.Select(g => g.Key), Is.EqualTo(new[] { "gpt-5", "mystery-model" }));
        Assert.That(report.Total.Calls, Is.EqualTo(2));
        Assert.That(report.Total.UnpricedCalls, Is.EqualTo(1));
    }
    [Test]
    public async Task ReportAsync_EmptyWindow_HasNoGroupsAndZeroTotals()
    {
        await SeedFiveCallsAsync();

        var report = await Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, new TimeWindow(At("2030-01-01T00:00:00Z"), null)));

        Assert.That(report.Groups, Is.Empty);
        Assert.That(report.Total, Is.EqualTo(new SpendTotals()));
    }

    // Reports combine per-day totals (whole days) with raw calls (the partial days at a window's edges): checked against a
    // direct sum over the same calls for windows that start and end mid-day, at midnight, and inside one day.
    private static readonly DateTimeOffset Origin = At("2026-03-01T00:00:00Z");

    private async Task<CallRecord[]> SeedSpreadCallsAsync()
    {
        // One call every 7 h 13 min over ten days: every day has calls, at varying times of day.
        var calls = Enumerable.Range(0, 34).Select(i => new CallRecord
        {
            Id = $"c_{i:D2}",
            Timestamp = Origin.AddMinutes(i * 433),
            Route = (i % 3) switch { 0 => "code-edit", 1 => "search", _ => null },
            Model = i % 2 == 0 ? "gpt-5" : "claude-opus-4-8",
            Provider = i % 2 == 0 ? "openai" : "anthropic",
            Usage = new TokenUsage(100 + i, i, 0, 0, 10 + i),
            CostUsd = i % 5 == 0 ? null : 0.001m * i,
            CostSource = i % 5 == 0 ? CostSource.Unpriced : CostSource.Catalog,
        }).ToArray();
        await Ledger.AppendAsync(new LedgerBatch(calls, []));
        return calls;
    }

    [TestCase(null, null)]
    [TestCase("2026-03-03T05:30:00Z", null)]
    [TestCase(null, "2026-03-07T18:00:00Z")]
    [TestCase("2026-03-03T05:30:00Z", "2026-03-07T18:00:00Z")]
    [TestCase("2026-03-03T00:00:00Z", "2026-03-07T00:00:00Z")]
    [TestCase("2026-03-04T01:00:00Z", "2026-03-04T23:00:00Z")]
    [TestCase("2026-03-04T07:13:00Z", "2026-03-05T07:13:00Z")]
    [TestCase("2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z")]
    public async Task ReportAsync_AnyWindow_EqualsTheSumOfTheCallsInsideIt(string? since, string? until)
    {
        var calls = await SeedSpreadCallsAsync();

        var window = new TimeWindow(since is null ? null : At(since), until is null ? null : At(until));
        var inside = calls.Where(c => window.Contains(c.Timestamp)).ToArray();

        foreach (var dimension in new[] { ReportDimension.Route, ReportDimension.Day, ReportDimension.Model })
        {
            var report = await Ledger.ReportAsync(new ReportQuery(dimension, window));

            var expected = inside
                .GroupBy(c => dimension switch
                {
                    ReportDimension.Route => c.Route ?? SpendReport.NoneKey,
                    ReportDimension.Model => c.Model,
                    _ => c.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                })
                .ToDictionary(g => g.Key, g => (Calls: (long)g.Count(), Input: g.Sum(c => c.Usage.Input), Cost: g.Sum(c => c.CostUsd ?? 0m), Unpriced: (long)g.Count(c => c.CostUsd is null)));
            Assert.That(report.Groups.ToDictionary(g => g.Key, g => (g.Totals.Calls, g.Totals.Input, g.Totals.CostUsd, g.Totals.UnpricedCalls)),
                Is.EquivalentTo(expected), $"{dimension} {since}..{until}");
            Assert.That(report.Total.Calls, Is.EqualTo(inside.Length));
        }
    }

    // Every view, on a ledger of mixed traffic, against the same records in a reference SQLite file: report by every
    // dimension and window, roi, recommend, quality, regression, forecast, attrib and matrix (per task), and the reader's
    // streams. The records arrive in several batches, some receipts before their call (pending), some call-less.
    [Test]
    public async Task EveryView_MixedTraffic_SameAnswerAsTheSqliteReference()
    {
        using var reference = TestLedger.Create();
        var batches = MixedTraffic();
        foreach (var batch in batches)
        {
            await reference.Ledger.AppendAsync(batch);
            await Ledger.AppendAsync(batch);
        }

        foreach (var outcome in new[] { new TaskOutcomeRecord("task-1", TaskOutcome.Ok, At("2026-05-20T00:00:00Z")), new TaskOutcomeRecord("task-2", TaskOutcome.Redo, At("2026-05-20T00:00:00Z")) })
        {
            await reference.Ledger.RecordOutcomeAsync(outcome);
            await Ledger.RecordOutcomeAsync(outcome);
        }

        var expected = await ViewsAsync(reference.Ledger);
        var actual = await ViewsAsync(Ledger);

        Assert.That(actual.Keys, Is.EqualTo(expected.Keys));
        foreach (var (view, json) in expected)
        {
            Assert.That(actual[view], Is.EqualTo(json), view);
        }
    }

    // 1,200 calls over 20 days (4 tasks, 3 routes, 4 models, some unpriced, some with long prompts), 900 receipts of 3
    // tools pointing at them (a sixth of them sent in the batch before their call), and 60 call-less receipts.
    private static List<LedgerBatch> MixedTraffic()
    {
        var random = new Random(17);
        string[] models = ["anthropic/claude-opus-4-8", "openai/gpt-5", "openai/gpt-4o-mini", "acme/mystery"];
        string[] routes = ["code-edit", "search", "chat"];
        string[] tools = ["fux", "cache", "compressor"];
        var origin = At("2026-05-01T00:00:00Z");
        var callLists = new List<List<CallRecord>>();
        var receiptLists = new List<List<SavingsReceipt>>();
        for (var b = 0; b < 12; b++)
        {
            var calls = new List<CallRecord>();
            var receipts = new List<SavingsReceipt>();
            callLists.Add(calls);
            receiptLists.Add(receipts);
            for (var i = 0; i < 100; i++)
            {
                var n = b * 100 + i;
                var (provider, model) = models[random.Next(models.Length)].Split('/') is [var p, var m] ? (p, m) : ("", "");
                var unpriced = provider == "acme";
                var input = random.Next(10) == 0 ? 40_000 + random.Next(200_000) : random.Next(20_000);
                var call = Call($"c_{n:D5}", (origin + TimeSpan.FromMinutes(n * 24 + random.Next(20))).ToString("O"),
                    route: random.Next(8) == 0 ? null : routes[random.Next(routes.Length)], task: $"task-{random.Next(4)}",
                    session: $"s{random.Next(6)}", agent: random.Next(3) == 0 ? null : "agent-" + random.Next(2),
                    category: random.Next(2) == 0 ? "main" : "delegate", user: random.Next(4) == 0 ? null : $"u{random.Next(5)}",
                    provider: provider, model: model, usage: new TokenUsage(input, random.Next(3000), random.Next(200), 0, 500 + random.Next(4000), random.Next(3) == 0 ? random.Next(500) : null),
                    cost: unpriced ? null : decimal.Round((decimal)random.NextDouble() / 10m, 6), source: unpriced ? CostSource.Unpriced : CostSource.Catalog,
                    status: random.Next(40) == 0 ? UsageStatus.Missing : UsageStatus.Reported);
                calls.Add(call);
                if (random.Next(4) != 0)
                {
                    var raw = 1000m + random.Next(9000);
                    var receipt = SavingsReceipt.Create($"r_{n:D5}", call.Timestamp.AddMilliseconds(random.Next(2) == 0 ? 0 : 500), tools[random.Next(tools.Length)], raw,
                        decimal.Round(raw * (decimal)random.NextDouble(), 2), call.Id, random.Next(2) == 0 ? call.Task : null,
                        method: random.Next(2) == 0 ? SavingsMethod.Measured : SavingsMethod.Modeled, confidence: 0.5 + random.Next(50) / 100.0,
                        meta: random.Next(3) == 0 ? new Dictionary<string, string> { ["tool_cost_usd"] = "0.0001", ["added_latency_ms"] = "12.5" } : null);
                    // A sixth arrive in the batch before their call's: stored while the call is unknown (pending).
                    (b > 0 && random.Next(6) == 0 ? receiptLists[b - 1] : receipts).Add(receipt);
                }

                if (i % 20 == 0)
                {
                    receipts.Add(SavingsReceipt.Create($"r_free_{n:D5}", call.Timestamp, "cache", 2000m, random.Next(2) == 0 ? 0m : 300m, task: call.Task));
                }
            }

        }

        return [.. callLists.Zip(receiptLists, (calls, receipts) => new LedgerBatch(calls, receipts))];
    }

    private static async Task<SortedDictionary<string, string>> ViewsAsync(ILedgerStore ledger)
    {
        var now = At("2026-05-21T13:30:00Z");
        var service = new AttributionService(ledger, PriceCatalog.BuiltIn, ["fux", "compressor", "cache"], new FakeTimeProvider(now));
        var views = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var windows = new Dictionary<string, TimeWindow>
        {
            ["all"] = TimeWindow.All,
            ["7d"] = new(now.AddDays(-7), null),
            ["mid-day"] = new(At("2026-05-03T07:15:00Z"), At("2026-05-11T19:45:00Z")),
            ["in-one-day"] = new(At("2026-05-05T01:00:00Z"), At("2026-05-05T22:00:00Z")),
        };
        foreach (var (name, window) in windows)
        {
            foreach (var dimension in Enum.GetValues<ReportDimension>())
            {
                views[$"report {dimension} {name}"] = Json(await ledger.ReportAsync(new ReportQuery(dimension, window)));
            }

            views[$"roi {name}"] = Json(await service.RoiAsync(window));
            views[$"recommend {name}"] = Json(await service.RecommendAsync(window: window));
            views[$"quality {name}"] = Json(await service.QualityAsync(window));
            views[$"receipt totals {name}"] = Json(await ReceiptSumsAsync(ledger, window));
        }

        views["regression"] = Json(await service.RegressionAsync());
        views["forecast"] = Json(await service.ForecastAsync());
        views["latest task"] = Json(await ledger.LatestTaskAsync());
        views["outcomes"] = Json(await ledger.ReadOutcomesAsync());
        for (var t = 0; t < 4; t++)
        {
            views[$"attrib task-{t}"] = Json(await service.AttributeAsync($"task-{t}"));
            views[$"matrix task-{t}"] = Json(await service.MatrixAsync($"task-{t}"));
            views[$"calls of task-{t}"] = Json((await ledger.CallsForTaskAsync($"task-{t}")).Select(c => c.Id));
            views[$"receipts of task-{t}"] = Json((await ledger.ReceiptsForTaskAsync($"task-{t}")).Select(r => r.Id));
        }

        views["calls"] = Json(await ledger.ReadCallsAsync(TimeWindow.All).ToListAsync());
        views["receipts"] = Json(await ledger.ReadReceiptsAsync(TimeWindow.All).ToListAsync());
        views["receipts with calls"] = Json(await ledger.ReadReceiptsWithCallsAsync(TimeWindow.All).ToListAsync());
        views["why c_00042"] = Json((await ledger.FindCallAsync("c_00042"), await ledger.ReceiptsForCallAsync("c_00042")));
        return views;
    }

    // Receipt totals summed per tool, unit, method, provider, model, route and task: a store may split a group (a receipt
    // stored before its call is a group of its own), so the groups themselves are not compared, their sums are.
    private static async Task<List<string>> ReceiptSumsAsync(ILedgerReader ledger, TimeWindow window) =>
        (await ledger.ReadReceiptTotalsAsync(window).ToListAsync())
            .GroupBy(t => (t.Tool, t.Unit, t.Method, t.Call?.Provider, t.Call?.Model, t.Call?.Route, t.Task, Tier: t.Call is null ? 0 : ReceiptTotals.PromptK(t.Call.Provider, t.Call.Model, t.Call.PromptTokens) > 0 ? 1 : 0))
            .Select(g => $"{g.Key}: {g.Sum(t => t.Receipts)} {g.Sum(t => t.RawAlternative)} {g.Sum(t => t.Actual)} {g.Sum(t => t.ToolCostUsd)} {g.Sum(t => t.AddedLatencyMs)} {g.Sum(t => t.EliminatedCalls)} {g.Min(t => t.MinConfidence)}")
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string Json<T>(T value) => JsonSerializer.Serialize(value, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { IncludeFields = true };
}
