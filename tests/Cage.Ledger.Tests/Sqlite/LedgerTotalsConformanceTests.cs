using CageNet.Ledger;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// One meaning of money: the same records (priced, provider-priced, local, unpriced, usage missing with and without a
/// partial count) run through the SQLite ledger and the in-memory ledger give the same totals for every dimension —
/// the priced sum, the unpriced and missing-usage counts, and whether the sum is a lower bound.
/// </summary>
public sealed class LedgerTotalsConformanceTests
{
    private static readonly CallRecord[] Records =
    [
        Call("c1", "2026-03-01T10:00:00Z", "code-edit", "t1", "s1", "a1", "main", "u1", "anthropic", "claude-opus-4-8",
            new TokenUsage(1000, 200, 50, 10, 300, 100), 0.0150m),
        Call("c2", "2026-03-01T11:00:00Z", "code-edit", "t1", "s2", "a2", "delegate", null, "openrouter", "gpt-5",
            new TokenUsage(2000, Output: 500), 0.0300m, CostSource.Provider),
        Call("c3", "2026-03-02T00:00:00Z", "search", "t2", "s2", "a1", null, "u2", "acme", "mystery-model",
            new TokenUsage(400, Output: 40), null, CostSource.Unpriced),
        Call("c4", "2026-03-02T08:00:00Z", null, null, null, null, "main", "u1", "ollama", "llama3",
            new TokenUsage(100, Output: 10), 0m, CostSource.Local),
        Call("c5", "2026-03-02T09:00:00Z", "search", "t2", "s1", "a2", null, null, "openai", "gpt-5",
            default, null, CostSource.Catalog, UsageStatus.Missing),
        Call("c6", "2026-03-02T10:00:00Z", "chat", "t3", "s3", "a1", "main", "u1", "openai", "gpt-5",
            new TokenUsage(300, Output: 20), 0.0012m, CostSource.Catalog, UsageStatus.Missing),
        Call("c7", "2026-03-02T11:00:00Z", "chat", "t3", "s3", "a1", "main", "u1", "acme", "mystery-model",
            new TokenUsage(50, Output: 5), null, CostSource.Unpriced),
        Call("c8", "2026-03-02T12:00:00Z", "priced-only", "t4", "s4", "a3", "main", "u3", "openai", "gpt-5",
            new TokenUsage(10, Output: 1), 0.0001m),
    ];

    private TestLedger _sqlite = null!;
    private InMemoryLedger _memory = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _sqlite = TestLedger.Create();
        _memory = new InMemoryLedger();
        await _sqlite.Ledger.AppendAsync(new LedgerBatch(Records, []));
        await _memory.AppendAsync(new LedgerBatch(Records, []));
    }

    [OneTimeTearDown]
    public void OneTimeTearDown() => _sqlite.Dispose();

    [Test]
    public async Task ReportAsync_SameRecords_SameGroupsAndTotalsInBothLedgers([Values] ReportDimension dimension)
    {
        var query = new ReportQuery(dimension, TimeWindow.All);
        var fromSqlite = await _sqlite.Ledger.ReportAsync(query);
        var fromMemory = await _memory.ReportAsync(query);

        Assert.That(fromSqlite.Groups.Select(g => g.Key), Is.EqualTo(fromMemory.Groups.Select(g => g.Key)));
        Assert.That(fromSqlite.Groups, Is.EqualTo(fromMemory.Groups));
        Assert.That(fromSqlite.Total, Is.EqualTo(fromMemory.Total));
        Assert.That(fromSqlite.Groups.Select(g => g.Totals.IsLowerBound), Is.EqualTo(fromMemory.Groups.Select(g => g.Totals.IsLowerBound)));
    }

    [Test]
    public async Task Totals_MixedRecords_PricedSumUnpricedCountAndLowerBound()
    {
        var total = (await _sqlite.Ledger.ReportAsync(ReportQuery.Default)).Total;

        Assert.That(total.CostUsd, Is.EqualTo(0.0463m));
        Assert.That(total.UnpricedCalls, Is.EqualTo(2));
        Assert.That(total.MissingUsageCalls, Is.EqualTo(2));
        Assert.That(total.IsLowerBound, Is.True);
        Assert.That(_memory.Totals, Is.EqualTo(total));
        Assert.That((_memory.TotalCostUsd, _memory.UnpricedCalls, _memory.IsLowerBound), Is.EqualTo((0.0463m, 2L, true)));
    }

    [Test]
    public async Task Totals_GroupWithOnlyPricedCalls_IsNotALowerBound()
    {
        var byRoute = await _sqlite.Ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));
        var groups = byRoute.Groups.ToDictionary(g => g.Key, g => (g.Totals.CostUsd, g.Totals.UnpricedCalls, g.Totals.IsLowerBound));

        Assert.That(groups["code-edit"], Is.EqualTo((0.045m, 0L, false)));
        Assert.That(groups[SpendReport.NoneKey], Is.EqualTo((0m, 0L, false))); // local: free by policy, known
        Assert.That(groups["search"], Is.EqualTo((0m, 1L, true)));              // unpriced + usage missing
        Assert.That(groups["chat"], Is.EqualTo((0.0012m, 1L, true)));           // a partial count, plus an unpriced call
        Assert.That(groups["priced-only"], Is.EqualTo((0.0001m, 0L, false)));
    }

    [Test]
    public async Task Totals_WindowWithoutUnpricedCalls_IsExactInBothLedgers()
    {
        var firstDay = new TimeWindow(At("2026-03-01T00:00:00Z"), At("2026-03-02T00:00:00Z"));
        var query = new ReportQuery(ReportDimension.Day, firstDay);
        var fromSqlite = await _sqlite.Ledger.ReportAsync(query);
        var fromMemory = await _memory.ReportAsync(query);

        Assert.That(fromSqlite.Total, Is.EqualTo(fromMemory.Total));
        Assert.That((fromSqlite.Total.CostUsd, fromSqlite.Total.UnpricedCalls, fromSqlite.Total.IsLowerBound), Is.EqualTo((0.045m, 0L, false)));
    }
}
