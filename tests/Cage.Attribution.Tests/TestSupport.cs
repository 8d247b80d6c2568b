using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using CageNet.Attribution;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests;

/// <summary>
/// Hand-picked prices (US dollars per token) for the scenarios. Every expected value in the tests is worked out by hand
/// from these numbers, never by calling the code under test.
/// </summary>
public static class TestPrices
{
    /// <summary>
    /// acme/small: $1/M in, $2/M out, $0.10/M cache read. acme/big: $4/M in, $8/M out, $0.40/M cache read.
    /// acme/tiered: $1/M in, $2/M out, and above 200k prompt-side tokens $2/M in, $3/M out (every bucket).
    /// </summary>
    public const string Json = """
        {
          "acme/small": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "cache_read_input_token_cost": 1e-07 },
          "acme/big": { "input_cost_per_token": 4e-06, "output_cost_per_token": 8e-06, "cache_read_input_token_cost": 4e-07 },
          "acme/tiered": { "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                           "input_cost_per_token_above_200k_tokens": 2e-06, "output_cost_per_token_above_200k_tokens": 3e-06 }
        }
        """;

    /// <summary>The catalog of <see cref="Json"/>, with <c>ollama/*</c> as a local (free) model.</summary>
    public static PriceCatalog Catalog { get; } = Parse(Json).WithLocalModels(["ollama/*"]);

    public static PriceCatalog Parse(string json)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return PriceCatalog.ParsePriceMap(stream, "test-prices.json");
    }
}

/// <summary>Record factories with explicit, hand-computed costs.</summary>
public static class Records
{
    /// <summary>The clock of every scenario: 2026-06-20T12:00:00Z (the worked example's).</summary>
    public static readonly DateTimeOffset Now = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The policy's tools.order in the scenarios (the worked example's).</summary>
    public static readonly IReadOnlyList<string> Order = ["graphify", "fux", "compressor"];

    public static DateTimeOffset At(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public static CallRecord Call(
        string id,
        string ts,
        string? task,
        string model,
        TokenUsage usage,
        decimal? cost,
        string provider = "acme",
        string? route = "code-edit") => new()
        {
            Id = id,
            Timestamp = At(ts),
            Task = task,
            Route = route,
            Provider = provider,
            Model = model,
            Usage = usage,
            CostUsd = cost,
            CostSource = cost is null ? CostSource.Unpriced : CostSource.Catalog,
            PriceKey = cost is null ? null : provider + "/" + model,
        };

    public static SavingsReceipt Receipt(
        string id,
        string tool,
        decimal raw,
        decimal actual,
        string? call,
        string? task,
        SavingsUnit unit = SavingsUnit.Tokens,
        SavingsMethod method = SavingsMethod.Modeled,
        string ts = "2026-06-20T10:00:00Z",
        decimal? toolCost = null,
        double? addedMs = null,
        double confidence = 1.0)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (toolCost is { } c)
        {
            meta["tool_cost_usd"] = c.ToString(CultureInfo.InvariantCulture);
        }

        if (addedMs is { } ms)
        {
            meta["added_latency_ms"] = ms.ToString(CultureInfo.InvariantCulture);
        }

        return SavingsReceipt.Create(id, At(ts), tool, raw, actual, call, task, unit, method, confidence, meta);
    }

    public static AttributionService Service(ILedgerReader ledger, IEnumerable<string>? order = null, PriceCatalog? catalog = null, TimeProvider? time = null) =>
        new(ledger, catalog ?? TestPrices.Catalog, order ?? Order, time ?? new FakeTimeProvider(Now));
}

/// <summary>A real SQLite ledger file in a temporary folder; disposing it closes the ledger and deletes the folder.</summary>
public sealed class LedgerFile : IDisposable
{
    public LedgerFile()
    {
        Folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cage-attribution-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        Path = System.IO.Path.Combine(Folder, "ledger.db");
        Ledger = SqliteLedger.Open(Path);
    }

    public string Folder { get; }

    public string Path { get; }

    public SqliteLedger Ledger { get; private set; }

    public async Task AddAsync(IEnumerable<CallRecord> calls, IEnumerable<SavingsReceipt>? receipts = null)
    {
        var result = await Ledger.AppendAsync(new LedgerBatch([.. calls], [.. receipts ?? []]));
        Assert.That(result.CallsSkipped + result.ReceiptsSkipped, Is.Zero, "every seeded record is new");
    }

    /// <summary>Closes the file and opens it again: what a second process would see.</summary>
    public SqliteLedger Reopen()
    {
        Ledger.Dispose();
        Ledger = SqliteLedger.Open(Path);
        return Ledger;
    }

    public void Dispose()
    {
        Ledger.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}

/// <summary>A test over a fresh SQLite ledger file.</summary>
public abstract class LedgerTestBase
{
    private LedgerFile? _file;

    protected LedgerFile Db => _file ?? throw new InvalidOperationException("no ledger yet");

    protected SqliteLedger Ledger => Db.Ledger;

    [SetUp]
    public void CreateLedger() => _file = new LedgerFile();

    [TearDown]
    public void DeleteLedger() => _file?.Dispose();

    protected AttributionService Service(IEnumerable<string>? order = null, PriceCatalog? catalog = null, TimeProvider? time = null) =>
        Records.Service(Ledger, order, catalog, time);
}

/// <summary>
/// Scenario "t-multi": two calls on two models (one with cached input), four tools, one of them call-less.
/// <list type="bullet">
/// <item>c1 10:00 acme/small route code-edit: 10,000 in + 20,000 cache read + 1,000 out = 0.010 + 0.002 + 0.002 = $0.014.</item>
/// <item>c2 11:00 acme/big route review: 5,000 in + 500 out = 0.020 + 0.004 = $0.024. Task spend $0.038.</item>
/// <item>graphify → c1: 30,000 → 6,000, saved 24,000 × $1/M = $0.024 (modeled; runs for $0.004, adds 120 ms).</item>
/// <item>fux → c2: 4,000 → 1,000, saved 3,000 × $4/M = $0.012 (measured; runs for $0.020, adds 30 ms).</item>
/// <item>compressor → c1: 8,000 → 2,000, saved 6,000 × $1/M = $0.006 (measured).</item>
/// <item>response-cache, call-less: 7,000 → 0, an eliminated call, at the task model (c2, the latest: acme/big) 7,000 × $4/M = $0.028.</item>
/// </list>
/// </summary>
public static class MultiModelScenario
{
    public const string Task = "t-multi";

    public static CallRecord[] Calls =>
    [
        Records.Call("c1", "2026-06-20T10:00:00Z", Task, "small", new TokenUsage(10_000, CacheRead: 20_000, Output: 1_000), 0.014m, route: "code-edit"),
        Records.Call("c2", "2026-06-20T11:00:00Z", Task, "big", new TokenUsage(5_000, Output: 500), 0.024m, route: "review"),
    ];

    public static SavingsReceipt[] Receipts =>
    [
        Records.Receipt("r_g", "graphify", 30_000, 6_000, "c1", Task, method: SavingsMethod.Modeled, toolCost: 0.004m, addedMs: 120),
        Records.Receipt("r_f", "fux", 4_000, 1_000, "c2", Task, method: SavingsMethod.Measured, toolCost: 0.02m, addedMs: 30),
        Records.Receipt("r_c", "compressor", 8_000, 2_000, "c1", Task, method: SavingsMethod.Measured),
        Records.Receipt("r_rc", "response-cache", 7_000, 0, null, Task, method: SavingsMethod.Measured, ts: "2026-06-20T11:30:00Z"),
    ];

    public static Task SeedAsync(LedgerFile file) => file.AddAsync(Calls, Receipts);

    public static async Task SeedAsync(ILedgerStore store) => await store.AppendAsync(new LedgerBatch(Calls, Receipts));
}

/// <summary>The repository's fixtures (<c>tests/fixtures</c>).</summary>
public static class SharedFixtures
{
    public static string WorkedExample => CageNet.TestFixtures.RepositoryFixtures.WorkedExample;

    public static string WorkedExampleInput => System.IO.Path.Combine(WorkedExample, "input");

    public static string Output(string name) => System.IO.File.ReadAllText(System.IO.Path.Combine(WorkedExample, "output", name));
}
