using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// <c>receipt_totals</c>: the per-day receipt sums the whole-ledger attribution views read. Whatever order records
/// arrive in, the SQLite ledger's totals must equal the in-memory ledger's receipt-by-receipt answer.
/// </summary>
public sealed class SqliteReceiptTotalsTests
{
    private static readonly CallRecord OpusCall = Call("c-opus", "2026-03-01T10:00:00Z", route: "code-edit", task: "t1", usage: new TokenUsage(8_600, Output: 1_500));
    private static readonly CallRecord LongCall = Call("c-long", "2026-03-02T10:00:00Z", route: "chat", task: "t2", provider: "google", model: "gemini-2.5-pro", usage: new TokenUsage(150_000, CacheRead: 60_001, Output: 10));
    private static readonly CallRecord LateCall = Call("c-late", "2026-03-03T10:00:00Z", route: "search", task: "t3", usage: new TokenUsage(2_000, Output: 10));

    private static SavingsReceipt[] Receipts() =>
    [
        Receipt("r1", "2026-03-01T10:00:00Z", "graphify", 30_000m, 3_000m, "c-opus", "t1"),
        Receipt("r2", "2026-03-01T10:00:01Z", "fux", 8_000m, 1_600m, "c-opus", "t1", method: SavingsMethod.Estimated),
        Receipt("r3", "2026-03-02T10:00:00Z", "compressor", 10_000.5m, 2_000.25m, "c-long", "t2", method: SavingsMethod.Measured),
        SavingsReceipt.Create("r4", At("2026-03-02T11:00:00Z"), "cache", 12_000m, 0m, callId: null, task: "t1", method: SavingsMethod.Measured,
            meta: new Dictionary<string, string> { ["tool_cost_usd"] = "0.0012", ["added_latency_ms"] = "15" }),
        Receipt("r5", "2026-03-03T09:00:00Z", "router", 0.02m, 0.005m, "c-late", "t3", unit: SavingsUnit.Usd),
        Receipt("r6", "2026-03-03T09:30:00Z", "compressor", 1_200m, 100m, "c-late", "t3", unit: SavingsUnit.Ms),
        Receipt("r7", "2026-03-03T09:45:00Z", "fux", 500m, 900m, "c-missing", "t3"),
    ];

    [Test]
    public async Task ReadReceiptTotals_CallsInTheSameBatch_EqualTheReceiptByReceiptAnswer()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = new LedgerBatch([OpusCall, LongCall, LateCall], Receipts());
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);

        await AssertSameTotals(test.Ledger, memory, TimeWindow.All);
    }

    [Test]
    public async Task ReceiptTotals_LongPrompts_KeepOneRowPerPriceTierNotPer1kTokens()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        // claude-opus-4-8 has no long-context tier: prompts from 40k to 900k tokens are one bucket. claude-sonnet-4-5
        // is priced higher above 200,000 prompt tokens: its prompts fall in two buckets, either side of the threshold.
        var calls = new List<CallRecord>();
        var receipts = new List<SavingsReceipt>();
        var prompts = new long[] { 40_000, 80_123, 150_000, 199_999, 200_000, 200_001, 250_000, 900_000 };
        foreach (var (model, prompt) in prompts.Select(p => ("claude-opus-4-8", p)).Concat(prompts.Select(p => ("claude-sonnet-4-5", p))))
        {
            var id = $"c-{model}-{prompt}";
            calls.Add(Call(id, "2026-03-01T10:00:00Z", route: "code-edit", task: "t1", model: model, usage: new TokenUsage(prompt, Output: 10)));
            receipts.Add(Receipt("r" + id, "2026-03-01T10:00:01Z", "compressor", 10_000m, 2_000m, id, "t1"));
        }

        var batch = new LedgerBatch(calls, receipts);
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);

        Assert.That(Scalar(test.Ledger, "SELECT count(*) FROM receipt_totals WHERE model = 'claude-opus-4-8';"), Is.EqualTo(1));
        Assert.That(Scalar(test.Ledger, "SELECT count(*) FROM receipt_totals WHERE model = 'claude-sonnet-4-5';"), Is.EqualTo(2));
        // Each bucket's representative prompt prices at its tier: at most 200,000 tokens below, above it above.
        var sonnet = new List<(long Prompt, long Receipts)>();
        await foreach (var t in test.Ledger.ReadReceiptTotalsAsync(TimeWindow.All))
        {
            if (t.Call is { Model: "claude-sonnet-4-5" } c)
            {
                sonnet.Add((c.PromptTokens, t.Receipts));
            }
        }

        Assert.That(sonnet.OrderBy(x => x.Prompt).Select(x => (x.Prompt <= 200_000, x.Receipts)), Is.EqualTo(new[] { (true, 5L), (false, 3L) }));
        await AssertSameTotals(test.Ledger, memory, TimeWindow.All);
    }

    [Test]
    public async Task ReadReceiptTotals_ReceiptsBeforeTheirCalls_ArePendingAndStillCountedOnce()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();

        // The receipts arrive first (their calls are unknown: pending), then the calls, in another process.
        await test.Ledger.AppendAsync(new LedgerBatch([], Receipts()));
        var reopened = test.Reopen();
        await reopened.AppendAsync(new LedgerBatch([OpusCall, LongCall, LateCall], []));
        await memory.AppendAsync(new LedgerBatch([OpusCall, LongCall, LateCall], Receipts()));

        await AssertSameTotals(reopened, memory, TimeWindow.All);
        var pending = Scalar(reopened, "SELECT count(*) FROM receipts WHERE pending = 1;");
        Assert.That(pending, Is.EqualTo(6), "every receipt naming a call was stored before that call");
    }

    [Test]
    public async Task ReadReceiptTotals_CallsFoundInTheFileAfterReopen_AreResolvedAtWrite()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        await test.Ledger.AppendAsync(new LedgerBatch([OpusCall, LongCall, LateCall], []));
        var reopened = test.Reopen();
        await reopened.AppendAsync(new LedgerBatch([], Receipts()));
        await memory.AppendAsync(new LedgerBatch([OpusCall, LongCall, LateCall], Receipts()));

        await AssertSameTotals(reopened, memory, TimeWindow.All);

        // Only the receipt naming a call that does not exist is pending.
        Assert.That(Scalar(reopened, "SELECT count(*) FROM receipts WHERE pending = 1;"), Is.EqualTo(1));
    }

    [TestCase("2026-03-01T10:00:00.500Z", "2026-03-03T09:40:00Z")]
    [TestCase("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")]
    [TestCase("2026-03-01T12:00:00Z", "2026-03-01T18:00:00Z")]
    [TestCase("2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z")]
    public async Task ReadReceiptTotals_Windows_CombineWholeDaysAndEdgesExactly(string since, string until)
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = new LedgerBatch([OpusCall, LongCall, LateCall], Receipts());
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);

        await AssertSameTotals(test.Ledger, memory, new TimeWindow(At(since), At(until)));
    }

    // Calls and receipts on both sides of two month boundaries (Feb → Mar → Apr 2026), for the per-month totals.
    private static LedgerBatch MonthsBatch()
    {
        var calls = new List<CallRecord>();
        var receipts = new List<SavingsReceipt>();
        string[] days = ["2026-02-10", "2026-02-28", "2026-03-01", "2026-03-15", "2026-03-31", "2026-04-01", "2026-04-20"];
        for (var i = 0; i < days.Length; i++)
        {
            var id = $"m{i}";
            calls.Add(Call(id, $"{days[i]}T08:00:00Z", route: i % 2 == 0 ? "code-edit" : "chat", task: $"t{i}"));
            receipts.Add(Receipt($"{id}-a", $"{days[i]}T08:00:01Z", "graphify", 3_000.5m + i, 300.25m, id, $"t{i}"));
            receipts.Add(Receipt($"{id}-b", $"{days[i]}T23:59:59.999Z", "fux", 800m, 160m + (0.1m * i), id, $"t{i}", method: SavingsMethod.Estimated));
        }

        return new LedgerBatch(calls, receipts);
    }

    [TestCase(null, null)]
    [TestCase("2026-02-15T00:00:00Z", "2026-04-10T00:00:00Z")]
    [TestCase("2026-02-28T12:00:00Z", null)]
    [TestCase(null, "2026-04-01T08:00:00.500Z")]
    [TestCase("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")]
    [TestCase("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")]
    [TestCase("2026-03-02T00:00:00Z", "2026-03-31T00:00:00Z")]
    [TestCase("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")]
    public async Task ReadReceiptTotals_WindowsAcrossMonths_CombineMonthsDaysAndEdgesExactly(string? since, string? until)
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = MonthsBatch();
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);

        await AssertSameTotals(test.Ledger, memory, new TimeWindow(since is null ? null : At(since), until is null ? null : At(until)));
    }

    [Test]
    public async Task ReadReceiptTotals_WholeLedger_ReadsOneRowPerMonthAndGroup()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(MonthsBatch());

        var rows = 0;
        await foreach (var _ in test.Ledger.ReadReceiptTotalsAsync(TimeWindow.All))
        {
            rows++;
        }

        // 7 days × 2 tools × 2 routes' groups per day → per month: Feb (code-edit, chat), Mar (code-edit, chat), Apr (chat, code-edit), each × 2 tools.
        Assert.That(Scalar(test.Ledger, "SELECT count(*) FROM receipt_totals;"), Is.EqualTo(14));
        Assert.That(Scalar(test.Ledger, "SELECT count(*) FROM receipt_totals_month;"), Is.EqualTo(12));
        Assert.That(rows, Is.EqualTo(12));
        Assert.That(Scalar(test.Ledger, "SELECT count(DISTINCT day) FROM receipt_totals_month;"), Is.EqualTo(3));
        Assert.That(Scalar(test.Ledger, "SELECT min(day) FROM receipt_totals_month;"), Is.EqualTo(20_485), "2026-02-01 is UTC day 20,485");
    }

    [Test]
    public async Task Open_LedgerOfTheStepBefore_MigrationSumsItsReceiptTotalsPerMonth()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = MonthsBatch();
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);
        test.Ledger.Dispose();
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The file as the step before receipt_totals_month (step 12) left it: the later step's table dropped too.
            command.CommandText = "DROP TABLE receipt_totals_month; DROP TABLE route_task_counts; PRAGMA user_version = 11;";
            command.ExecuteNonQuery();
        }

        var reopened = test.Reopen();

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(Scalar(reopened, "SELECT count(*) FROM receipt_totals_month;"), Is.EqualTo(12));
        await AssertSameTotals(reopened, memory, TimeWindow.All);
        await AssertSameTotals(reopened, memory, new TimeWindow(At("2026-02-15T00:00:00Z"), At("2026-04-10T00:00:00Z")));

        // And the writer adds to the migrated rows.
        await reopened.AppendAsync(new LedgerBatch([], [Receipt("late", "2026-03-20T10:00:00Z", "graphify", 10m, 1m, "m3", "t3")]));
        await memory.AppendAsync(new LedgerBatch([], [Receipt("late", "2026-03-20T10:00:00Z", "graphify", 10m, 1m, "m3", "t3")]));
        await AssertSameTotals(reopened, memory, TimeWindow.All);
    }

    [Test]
    public async Task Append_SameReceiptsTwice_TotalsCountThemOnce()
    {
        using var test = TestLedger.Create();
        var memory = new InMemoryLedger();
        var batch = new LedgerBatch([OpusCall, LongCall, LateCall], Receipts());
        await test.Ledger.AppendAsync(batch);
        await test.Ledger.AppendAsync(batch);
        await memory.AppendAsync(batch);

        await AssertSameTotals(test.Ledger, memory, TimeWindow.All);
    }

    [Test]
    public async Task ReadReceiptTotals_ManyBatchesOfOneGroup_SumExactDecimals()
    {
        using var test = TestLedger.Create();
        await test.Ledger.AppendAsync(new LedgerBatch([OpusCall], []));
        for (var i = 0; i < 10; i++)
        {
            await test.Ledger.AppendAsync(new LedgerBatch([], [Receipt($"r{i}", "2026-03-01T10:00:00Z", "fux", 0.1m, 0.03m, "c-opus", "t1")]));
        }

        var totals = new List<ReceiptTotal>();
        await foreach (var total in test.Ledger.ReadReceiptTotalsAsync(TimeWindow.All))
        {
            totals.Add(total);
        }

        Assert.That(totals, Has.Count.EqualTo(1));
        Assert.That(totals[0].Receipts, Is.EqualTo(10));
        Assert.That(totals[0].RawAlternative, Is.EqualTo(1.0m), "ten 0.1s are exactly 1 (no binary floating point)");
        Assert.That(totals[0].Saved, Is.EqualTo(0.7m));
        Assert.That(totals[0].Call!.Model, Is.EqualTo("claude-opus-4-8"));
        Assert.That(totals[0].Call!.Route, Is.EqualTo("code-edit"));
    }

    [Test]
    public async Task ImportAsync_ReceiptsFileAfterCallsFile_ResolvesEveryReceiptInMemory()
    {
        using var test = TestLedger.Create();

        var result = await ReferenceJsonl.ImportAsync(test.Ledger, Path.Combine(SharedFixtures.WorkedExampleInput, ".cage", "ledger"), CageNet.Pricing.PriceCatalog.BuiltIn);

        Assert.That(result.Appended.ReceiptsAdded, Is.EqualTo(3));
        Assert.That(Scalar(test.Ledger, "SELECT count(*) FROM receipts WHERE pending = 1;"), Is.Zero, "each receipt is stored after its call");
        Assert.That(Scalar(test.Ledger, "SELECT sum(receipts) FROM receipt_totals;"), Is.EqualTo(3));
    }

    private static async Task AssertSameTotals(ILedgerReader sqlite, ILedgerReader memory, TimeWindow window)
    {
        var actual = await Sums(sqlite, window);
        var expected = await Sums(memory, window);
        Assert.That(actual, Is.EquivalentTo(expected));
    }

    /// <summary>Per pricing basis (provider, model, route, long-context bucket, or task): count and exact sums.</summary>
    private static async Task<Dictionary<string, string>> Sums(ILedgerReader ledger, TimeWindow window)
    {
        var sums = new Dictionary<string, (long N, decimal Raw, decimal Actual, decimal Cost, double Ms, long Eliminated, double MinConfidence)>();
        await foreach (var t in ledger.ReadReceiptTotalsAsync(window))
        {
            var basis = t.Call is { } c ? $"{c.Provider}/{c.Model}/{c.Route}/{ReceiptTotals.PromptK(c.Provider, c.Model, c.PromptTokens)}" : $"task:{t.Task}";
            var key = $"{t.Tool}|{t.Unit}|{t.Method}|{basis}";
            var s = sums.GetValueOrDefault(key, (0, 0m, 0m, 0m, 0d, 0, 1d));
            sums[key] = (s.N + t.Receipts, s.Raw + t.RawAlternative, s.Actual + t.Actual, s.Cost + t.ToolCostUsd, s.Ms + t.AddedLatencyMs,
                s.Eliminated + t.EliminatedCalls, Math.Min(s.MinConfidence, t.MinConfidence));
        }

        return sums.ToDictionary(p => p.Key, p => p.Value.ToString());
    }

    private static long Scalar(SqliteLedger ledger, string sql)
    {
        using var connection = ledger.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
