using System.Text;
using CageNet.Ledger;
using CageNet.Pricing;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Jsonl;

public sealed class ReferenceJsonlImportTests
{
    private const string Canary = "CANARY-PROMPT-7f3a";

    private TestLedger _test = null!;

    private SqliteLedger Ledger => _test.Ledger;

    [SetUp]
    public void SetUp() => _test = TestLedger.Create();

    [TearDown]
    public void TearDown() => _test.Dispose();

    [Test]
    public async Task ImportAsync_WorkedExample_ReproducesTheReferenceReport()
    {
        var result = await ReferenceJsonl.ImportAsync(Ledger, SharedFixtures.WorkedExampleInput, PriceCatalog.BuiltIn);

        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.LinesRead, Is.EqualTo(4));
        Assert.That(result.Appended, Is.EqualTo(new AppendResult(1, 0, 3, 0)));

        // output/report.json: {"code-edit": {calls 1, tokens_in 8600, tokens_out 1500, cached_in 0, usd 0.0483}}, total usd 0.0483.
        var report = await Ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Groups, Has.Count.EqualTo(1));
        var group = report.Groups[0];
        Assert.That(group.Key, Is.EqualTo("code-edit"));
        Assert.That(group.Totals.Calls, Is.EqualTo(1));
        Assert.That(group.Totals.TokensIn, Is.EqualTo(8600));
        Assert.That(group.Totals.TokensOut, Is.EqualTo(1500));
        Assert.That(group.Totals.CachedIn, Is.EqualTo(0));
        Assert.That(group.Totals.CostUsd, Is.EqualTo(0.0483m)); // 8,600 × $3/M + 1,500 × $15/M
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.0483m));
        Assert.That(report.Total.UnpricedCalls, Is.EqualTo(0));

        var call = await Ledger.FindCallAsync("c_s1call000001");
        Assert.That(call!.CostSource, Is.EqualTo(CostSource.Catalog));
        Assert.That(call.PriceKey, Is.EqualTo("anthropic/claude-opus-4-8"));
        Assert.That(call.Usage, Is.EqualTo(new TokenUsage(8600, Output: 1500)));
        Assert.That(call.Timestamp, Is.EqualTo(At("2026-06-20T10:00:00Z")));

        var receipts = await Ledger.ReceiptsForTaskAsync("fix-handover-bug");
        Assert.That(receipts.Select(r => (r.Tool, r.RawAlternative, r.Actual, r.Saved, r.Method)), Is.EquivalentTo(new[]
        {
            ("graphify", 30000m, 3000m, 27000m, SavingsMethod.Modeled),
            ("fux", 8000m, 1600m, 6400m, SavingsMethod.Modeled),
            ("compressor", 10000m, 2000m, 8000m, SavingsMethod.Measured),
        }));
    }

    [Test]
    public async Task ImportAsync_SameFilesTwice_AddsNothingTheSecondTime()
    {
        await ReferenceJsonl.ImportAsync(Ledger, SharedFixtures.WorkedExampleInput, PriceCatalog.BuiltIn);

        var again = await ReferenceJsonl.ImportAsync(Ledger, SharedFixtures.WorkedExampleInput, PriceCatalog.BuiltIn);

        Assert.That(again.Appended, Is.EqualTo(new AppendResult(0, 1, 0, 3)));
        Assert.That((await Ledger.ReportAsync(ReportQuery.Default)).Total.Calls, Is.EqualTo(1));
    }

    [Test]
    public async Task ImportAsync_MalformedLines_ReportsFileAndLineAndImportsTheRest()
    {
        await Ledger.AppendAsync(Batch(Call("c_already_there")));
        var folder = Folder();
        var file = Path.Combine(folder, "calls.jsonl");
        using (var stream = File.Create(file))
        {
            Write(stream, CallLine("c_1") + "\n");                                            // 1 ok
            Write(stream, "{\"id\": \"c_2\", \"ts\": \n");                                     // 2 truncated
            stream.Write([0x00, 0xFF, 0xFE, 0x7B, 0x80, 0x0A]);                                 // 3 binary garbage
            Write(stream, "   \n");                                                             // 4 blank: ignored
            Write(stream, "{\"id\": \"c_big\", \"prompt\": \"" + new string('A', 10 * 1024 * 1024) + "\"}\n"); // 5: 10 MB
            Write(stream, CallLine("c_3") + "\r\n");                                           // 6 ok (CRLF)
            Write(stream, "[1, 2, 3]\n");                                                       // 7 not an object
            Write(stream, CallLine("c_4") + " trailing\n");                                     // 8 trailing garbage
            Write(stream, CallLine("c_5"));                                                     // 9 ok, no final newline
        }

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.LinesRead, Is.EqualTo(9));
        Assert.That(result.Appended.CallsAdded, Is.EqualTo(3));
        Assert.That(result.Errors.Select(e => e.Line), Is.EqualTo(new[] { 2, 3, 5, 7, 8 }));
        Assert.That(result.Errors, Has.All.Matches<ImportError>(e => e.File == file && e.Field is null));
        Assert.That(result.Errors[0].ToString(), Does.StartWith(file + ":2: malformed JSON"));
        Assert.That(result.Errors[2].Message, Does.Contain("longer than"));
        Assert.That(await Ledger.FindCallAsync("c_already_there"), Is.Not.Null, "nothing already stored is lost");
        Assert.That(await Ledger.FindCallAsync("c_5"), Is.Not.Null);
    }

    [Test]
    public async Task ImportAsync_FileWithByteOrderMark_ReadsTheFirstLine()
    {
        var file = Path.Combine(Folder(), "calls.jsonl");
        File.WriteAllText(file, CallLine("c_bom") + "\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.Appended.CallsAdded, Is.EqualTo(1));
    }

    [TestCase("\"tokens_in\": -5", "tokens_in")]
    [TestCase("\"tokens_in\": \"8600\"", "tokens_in")]
    [TestCase("\"tokens_in\": 10.5", "tokens_in")]
    [TestCase("\"tokens_in\": 100, \"cached_in\": 200", "cached_in")]
    [TestCase("\"ts\": \"yesterday\"", "ts")]
    [TestCase("\"ts\": \"2300-01-01T00:00:00Z\"", "ts")] // beyond the ledger's keyable range (1691..2248)
    [TestCase("\"ts\": \"0001-01-01T00:00:00Z\"", "ts")]
    [TestCase("\"id\": \"\"", "id")]
    [TestCase("\"cost_source\": \"free\"", "cost_source")]
    [TestCase("\"cost_source\": \"unpriced\", \"cost_usd\": 0.5", "cost_usd")]
    [TestCase("\"cost_source\": \"catalog\", \"cost_usd\": null", "cost_usd")]
    [TestCase("\"usage_status\": \"bogus\"", "usage_status")]
    [TestCase("\"ok\": \"yes\"", "ok")]
    [TestCase("\"reasoning\": 5000", "reasoning")]
    [TestCase("\"attempt\": 0", "attempt")]
    [TestCase("\"tags\": [1, 2]", "tags")]
    [TestCase("\"est_cost_usd\": 1e400", "est_cost_usd")]
    public async Task ImportAsync_CallFieldWithBadValue_ReportsThatFieldAndSkipsTheLine(string field, string expected)
    {
        // The later duplicate key wins, so the bad value overrides the good one in the base line.
        var file = WriteFile("calls.jsonl", CallLine("c_bad").TrimEnd('}') + ", " + field + "}", CallLine("c_good"));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Errors, Has.Count.EqualTo(1));
        Assert.That(result.Errors[0].Line, Is.EqualTo(1));
        Assert.That(result.Errors[0].Field, Is.EqualTo(expected));
        Assert.That(result.Errors[0].ToString(), Does.StartWith($"{file}:1: {expected}: "));
        Assert.That(result.Appended.CallsAdded, Is.EqualTo(1));
    }

    [Test]
    public async Task ImportAsync_ReferenceLines_ArePricedWithTheCatalogAndNeverASilentZero()
    {
        var file = WriteFile("calls.jsonl",
            // Known model: the catalog wins over the reference's estimate: 1,000 × $3/M + 100 × $15/M = $0.0045.
            Line("c_known", "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\", \"tokens_in\": 1000, \"tokens_out\": 100, \"cached_in\": 0, \"est_cost_usd\": 0"),
            // Unknown model with the reference's silent $0: unpriced, cost null.
            Line("c_zero", "\"provider\": \"acme\", \"model\": \"mystery-9000\", \"tokens_in\": 1000, \"tokens_out\": 100, \"est_cost_usd\": 0"),
            // Unknown model without any estimate: unpriced.
            Line("c_none", "\"provider\": \"acme\", \"model\": \"mystery-9000\", \"tokens_in\": 1000, \"tokens_out\": 100"),
            // Unknown model with a positive estimate: kept, marked as the reference's.
            Line("c_estimate", "\"provider\": \"acme\", \"model\": \"mystery-9000\", \"tokens_in\": 1000, \"tokens_out\": 100, \"est_cost_usd\": 0.5"),
            // One of our lines: cost and provenance as written, even on a known model.
            Line("c_provider", "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\", \"tokens_in\": 1000, \"tokens_out\": 100, \"est_cost_usd\": 0.25, \"cost_usd\": 0.25, \"cost_source\": \"provider\""));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Errors, Is.Empty);
        var known = await Ledger.FindCallAsync("c_known");
        Assert.That((known!.CostUsd, known.CostSource, known.PriceKey), Is.EqualTo(((decimal?)0.0045m, CostSource.Catalog, "anthropic/claude-opus-4-8")));
        var zero = await Ledger.FindCallAsync("c_zero");
        Assert.That((zero!.CostUsd, zero.CostSource, zero.PriceKey), Is.EqualTo(((decimal?)null, CostSource.Unpriced, (string?)null)));
        var none = await Ledger.FindCallAsync("c_none");
        Assert.That((none!.CostUsd, none.CostSource), Is.EqualTo(((decimal?)null, CostSource.Unpriced)));
        var estimate = await Ledger.FindCallAsync("c_estimate");
        Assert.That((estimate!.CostUsd, estimate.CostSource, estimate.PriceKey), Is.EqualTo(((decimal?)0.5m, CostSource.Catalog, "reference")));
        var provider = await Ledger.FindCallAsync("c_provider");
        Assert.That((provider!.CostUsd, provider.CostSource), Is.EqualTo(((decimal?)0.25m, CostSource.Provider)));
        var report = await Ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Total.UnpricedCalls, Is.EqualTo(2));
        Assert.That(report.Total.CostUsd, Is.EqualTo(0.7545m));
    }

    [Test]
    public async Task ImportAsync_ReferenceLinesWithoutTokenCounts_AreUsageMissingAndNeverFree()
    {
        var file = WriteFile("calls.jsonl",
            // No counts at all, or null ones: usage missing, cost unknown.
            Line("c_absent", "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\""),
            Line("c_null", "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\", \"tokens_in\": null, \"tokens_out\": null, \"est_cost_usd\": 0"),
            // One side known: usage missing, priced from what is known (a lower bound): 1,000 × $3/M.
            Line("c_half", "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\", \"tokens_in\": 1000, \"tokens_out\": null"));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Errors, Is.Empty);
        foreach (var id in new[] { "c_absent", "c_null" })
        {
            var call = await Ledger.FindCallAsync(id);
            Assert.That((call!.UsageStatus, call.CostUsd), Is.EqualTo((UsageStatus.Missing, (decimal?)null)), id);
        }

        var half = await Ledger.FindCallAsync("c_half");
        Assert.That((half!.UsageStatus, half.CostUsd), Is.EqualTo((UsageStatus.Missing, (decimal?)0.003m)));
        var report = await Ledger.ReportAsync(ReportQuery.Default);
        Assert.That((report.Total.MissingUsageCalls, report.Total.IsLowerBound), Is.EqualTo((3L, true)));
    }

    [Test]
    public async Task ImportAsync_ReferenceTokens_SplitIntoExclusiveBuckets()
    {
        var file = WriteFile("calls.jsonl",
            Line("c_ref", "\"tokens_in\": 1000, \"tokens_out\": 300, \"cached_in\": 400"),
            // Our own buckets win over the compatibility fields.
            Line("c_ours", "\"tokens_in\": 1, \"tokens_out\": 1, \"cached_in\": 0, \"input\": 500, \"cache_read\": 100, \"cache_write_5m\": 20, \"cache_write_1h\": 3, \"output\": 80, \"reasoning\": 30"),
            // Numbers exactly as written: 8600.0 is a whole number.
            Line("c_float", "\"tokens_in\": 8600.0, \"tokens_out\": 1.5e3"));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.Empty);

        Assert.That(result.Errors, Is.Empty);
        Assert.That((await Ledger.FindCallAsync("c_ref"))!.Usage, Is.EqualTo(new TokenUsage(600, 400, 0, 0, 300)));
        Assert.That((await Ledger.FindCallAsync("c_ours"))!.Usage, Is.EqualTo(new TokenUsage(500, 100, 20, 3, 80, 30)));
        Assert.That((await Ledger.FindCallAsync("c_float"))!.Usage, Is.EqualTo(new TokenUsage(8600, Output: 1500)));
    }

    [Test]
    public async Task ImportAsync_ReceiptLines_ApplyTheReceiptRules()
    {
        var file = WriteFile("receipts.jsonl",
            Receipt("r_no_method", "\"raw_alternative\": 100, \"actual\": 40"),
            Receipt("r_bad_unit", "\"unit\": \"dollars\""),
            Receipt("r_bad_method", "\"method\": \"guessed\""),
            Receipt("r_negative", "\"raw_alternative\": -1"),
            "{\"id\": \"r_no_tool\", \"ts\": \"2026-06-20T10:00:00Z\", \"raw_alternative\": 10, \"actual\": 5}",
            Receipt("r_wrong_saved", "\"raw_alternative\": 100, \"actual\": 40, \"saved\": 999999"),
            Receipt("r_meta", "\"meta\": {\"tool_cost_usd\": 0.002, \"cached\": true, \"note\": \"x\", \"nested\": {\"a\": [1, 2]}, \"nothing\": null}"),
            Receipt("r_huge", "\"raw_alternative\": 1e400"),
            Receipt("r_confidence", "\"confidence\": 1.5"),
            Receipt("r_nan", "\"raw_alternative\": NaN"),
            Receipt("r_callless", "\"call\": \"\", \"unit\": \"usd\", \"method\": \"measured\", \"raw_alternative\": 0.0483, \"actual\": 0"));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Errors.Select(e => (e.Line, e.Field)), Is.EqualTo(new (int, string?)[]
        {
            (2, "unit"), (3, "method"), (4, "raw_alternative"), (5, "tool"), (8, "raw_alternative"), (9, "confidence"), (10, null),
        }));
        Assert.That(result.Appended.ReceiptsAdded, Is.EqualTo(4));

        var receipts = new Dictionary<string, SavingsReceipt>();
        await foreach (var receipt in Ledger.ReadReceiptsAsync(TimeWindow.All))
        {
            receipts[receipt.Id] = receipt;
        }

        Assert.That(receipts["r_no_method"].Method, Is.EqualTo(SavingsMethod.Modeled));
        Assert.That(receipts["r_wrong_saved"].Saved, Is.EqualTo(60m));
        Assert.That(receipts["r_meta"].Meta, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["tool_cost_usd"] = "0.002",
            ["cached"] = "true",
            ["note"] = "x",
            ["nested"] = "{\"a\": [1, 2]}",
        }));
        Assert.That(receipts["r_meta"].ToolCostUsd, Is.EqualTo(0.002m));
        var callless = receipts["r_callless"];
        Assert.That((callless.CallId, callless.Unit, callless.Method, callless.Saved), Is.EqualTo(((string?)null, SavingsUnit.Usd, SavingsMethod.Measured, 0.0483m)));
    }

    [Test]
    public async Task ImportAsync_CanaryInIgnoredFields_NeverReachesTheLedgerFiles()
    {
        var folder = Folder();
        WriteFile(Path.Combine(folder, "calls.jsonl"),
            CallLine("c_1").TrimEnd('}') + $", \"prompt\": \"{Canary}\", \"messages\": [{{\"content\": \"{Canary}\"}}]}}",
            $"{{\"id\": \"c_2\", \"prompt\": \"{Canary}\"");
        WriteFile(Path.Combine(folder, "receipts.jsonl"),
            Receipt("r_1", $"\"completion\": \"{Canary}\""));

        var result = await ReferenceJsonl.ImportAsync(Ledger, folder, PriceCatalog.BuiltIn);

        Assert.That(result.Appended, Is.EqualTo(new AppendResult(1, 0, 1, 0)));
        Assert.That(result.Errors.Select(e => e.ToString()), Has.None.Contains(Canary));
        Assert.That(ContainsBytes(_test.Path, Canary), Is.False, "ledger.db");
        Assert.That(ContainsBytes(_test.Path + "-wal", Canary), Is.False, "ledger.db-wal");
        var export = await ReferenceJsonl.ExportAsync(Ledger, Path.Combine(folder, "export"));
        Assert.That(File.ReadAllText(export.CallsFile), Does.Not.Contain(Canary));
        Assert.That(File.ReadAllText(export.ReceiptsFile), Does.Not.Contain(Canary));
    }

    [Test]
    public async Task ImportAsync_PathForms_FindTheFiles()
    {
        var root = Folder();
        var ledgerFolder = Path.Combine(root, ".cage", "ledger");
        Directory.CreateDirectory(ledgerFolder);
        WriteFile(Path.Combine(ledgerFolder, "calls.jsonl"), CallLine("c_1"));
        WriteFile(Path.Combine(ledgerFolder, "receipts.jsonl"), Receipt("r_1", ""));

        var fromRoot = await ReferenceJsonl.ImportAsync(Ledger, root, PriceCatalog.BuiltIn);
        var fromCage = await ReferenceJsonl.ImportAsync(Ledger, Path.Combine(root, ".cage"), PriceCatalog.BuiltIn);
        var fromFolder = await ReferenceJsonl.ImportAsync(Ledger, ledgerFolder, PriceCatalog.BuiltIn);
        var fromReceiptsFile = await ReferenceJsonl.ImportAsync(Ledger, Path.Combine(ledgerFolder, "receipts.jsonl"), PriceCatalog.BuiltIn);

        Assert.That(fromRoot.Appended, Is.EqualTo(new AppendResult(1, 0, 1, 0)));
        Assert.That(fromCage.Appended, Is.EqualTo(new AppendResult(0, 1, 0, 1)));
        Assert.That(fromFolder.Appended, Is.EqualTo(new AppendResult(0, 1, 0, 1)));
        Assert.That(fromReceiptsFile.Appended, Is.EqualTo(new AppendResult(0, 0, 0, 1)));
        var missing = Assert.ThrowsAsync<FileNotFoundException>(() => ReferenceJsonl.ImportAsync(Ledger, Path.Combine(root, "nowhere"), PriceCatalog.BuiltIn));
        Assert.That(missing!.Message, Does.Contain(Path.Combine(root, "nowhere")));
    }

    [Test]
    public async Task ImportAsync_ManyLines_AppendsInBatchesAndReportsProgress()
    {
        var lines = Enumerable.Range(0, 25_001).Select(i => CallLine($"c_{i:D6}")).ToArray();
        var file = WriteFile("calls.jsonl", lines);
        var progress = new RecordingProgress();

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn, progress);

        Assert.That(result.Appended.CallsAdded, Is.EqualTo(25_001));
        Assert.That(result.LinesRead, Is.EqualTo(25_001));
        // One report per 10,000-record batch (the merge of calls and receipts reads one line ahead of the batch).
        Assert.That(progress.Values, Has.Some.InRange(10_000, 10_002).And.Some.InRange(20_000, 20_002));
        Assert.That(progress.Values[^1], Is.EqualTo(25_001));
        Assert.That(progress.Values, Is.Ordered);
    }

    // Issue 13, item 3: the reference tool's ids carry 16 random bits and collide in large ledgers. Same id with the
    // same content is a repeat; same id with other content is another call, kept under a stable derived id.
    [Test]
    public async Task ImportAsync_SameIdOtherContent_IsKeptUnderAStableDerivedId()
    {
        var other = CallLine("c_dup").Replace("\"tokens_out\": 10", "\"tokens_out\": 20", StringComparison.Ordinal);
        var file = WriteFile("calls.jsonl", CallLine("c_dup"), other, CallLine("c_dup"));

        var first = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);
        var again = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(first.Appended, Is.EqualTo(new AppendResult(2, 1, 0, 0)), "the identical third line is a repeat");
        Assert.That(first.Renamed, Has.Count.EqualTo(1));
        var renamed = first.Renamed[0];
        Assert.That(renamed.Id, Is.EqualTo("c_dup"));
        Assert.That(renamed.StoredAs, Does.Match("^c_dup~[0-9a-f]{8}$"));
        Assert.That(again.Appended, Is.EqualTo(new AppendResult(0, 3, 0, 0)), "a second import adds nothing");
        Assert.That(again.Renamed, Is.Empty);
        var stored = await Ledger.FindCallAsync(renamed.StoredAs);
        Assert.That(stored!.Usage.Output, Is.EqualTo(20));
        Assert.That((await Ledger.FindCallAsync("c_dup"))!.Usage.Output, Is.EqualTo(10));
        var report = await Ledger.ReportAsync(ReportQuery.Default);
        Assert.That(report.Total.Calls, Is.EqualTo(2));
        Assert.That(report.Total.TokensOut, Is.EqualTo(30), "no genuine call is lost");
    }

    [Test]
    public async Task ImportAsync_SameIdOtherContent_AcrossTwoFiles_IsKeptToo()
    {
        await ReferenceJsonl.ImportAsync(Ledger, WriteFile("calls.jsonl", CallLine("c_dup")), PriceCatalog.BuiltIn);
        var later = CallLine("c_dup").Replace("2026-06-20T10:00:00Z", "2026-06-21T09:00:00Z", StringComparison.Ordinal);

        var result = await ReferenceJsonl.ImportAsync(Ledger, WriteFile("calls.jsonl", later), PriceCatalog.BuiltIn);

        Assert.That(result.Appended.CallsAdded, Is.EqualTo(1));
        Assert.That(result.Renamed.Single().Id, Is.EqualTo("c_dup"));
    }

    [Test]
    public async Task ImportAsync_SameCallsWithNewerPrices_IsStillARepeat()
    {
        var file = WriteFile("calls.jsonl", CallLine("c_1"));
        await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.Empty);

        Assert.That(result.Appended, Is.EqualTo(new AppendResult(0, 1, 0, 0)));
        Assert.That(result.Renamed, Is.Empty);
    }

    [Test]
    public async Task ImportAsync_ReceiptSameIdOtherAmounts_IsKeptUnderADerivedId()
    {
        var file = WriteFile("receipts.jsonl", Receipt("r_dup", ""), Receipt("r_dup", "").Replace("\"actual\": 5", "\"actual\": 7", StringComparison.Ordinal),
            Receipt("r_dup", "").Replace("\"raw_alternative\": 10", "\"raw_alternative\": 10.0", StringComparison.Ordinal));

        var result = await ReferenceJsonl.ImportAsync(Ledger, file, PriceCatalog.BuiltIn);

        Assert.That(result.Appended, Is.EqualTo(new AppendResult(0, 0, 2, 1)), "10.0 and 10 are one amount: a repeat");
        Assert.That(result.Renamed.Single(), Is.EqualTo(new RenamedRecord("r_dup", result.Renamed[0].StoredAs, IsReceipt: true)));
        Assert.That((await Ledger.ReceiptsForTaskAsync("t")).Select(r => r.Actual), Is.EquivalentTo(new[] { 5m, 7m }));
    }

    // Issue 13, item 5: a rejected field's value is never echoed when it may be a secret.
    [TestCase("ts", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")]
    [TestCase("ts", "jane.doe@example.com")]
    [TestCase("usage_status", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")]
    [TestCase("cost_source", "AKIAABCDEFGHIJKLMNOP")]
    public async Task ImportAsync_RejectedFieldHoldingASecret_IsNotEchoed(string field, string secret)
    {
        var line = field == "ts"
            ? CallLine("c_1").Replace("2026-06-20T10:00:00Z", secret, StringComparison.Ordinal)
            : CallLine("c_1").TrimEnd('}') + $", \"{field}\": \"{secret}\"}}";

        var result = await ReferenceJsonl.ImportAsync(Ledger, WriteFile("calls.jsonl", line), PriceCatalog.BuiltIn);

        var error = result.Errors.Single();
        Assert.That(error.Field, Is.EqualTo(field));
        Assert.That(error.ToString(), Does.Not.Contain(secret).And.Contain("[redacted]"));
    }

    internal static string CallLine(string id) =>
        $"{{\"id\": \"{id}\", \"ts\": \"2026-06-20T10:00:00Z\", \"session\": \"demo\", \"task\": \"t\", \"agent\": \"a\", \"route\": \"r\", " +
        "\"provider\": \"anthropic\", \"model\": \"claude-opus-4-8\", \"tokens_in\": 100, \"tokens_out\": 10, \"cached_in\": 0, " +
        "\"est_cost_usd\": 0.00045, \"latency_ms\": 0, \"ok\": true, \"retries\": 0}";

    private static string Line(string id, string fields) =>
        $"{{\"id\": \"{id}\", \"ts\": \"2026-06-20T10:00:00Z\", {fields}}}";

    private static string Receipt(string id, string fields) =>
        $"{{\"id\": \"{id}\", \"ts\": \"2026-06-20T10:00:00Z\", \"call\": \"c_1\", \"task\": \"t\", \"tool\": \"fux\", \"unit\": \"tokens\", " +
        "\"raw_alternative\": 10, \"actual\": 5" + (fields.Length > 0 ? ", " + fields : "") + "}";

    private string Folder()
    {
        var folder = Path.Combine(_test.Folder, "in-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private string WriteFile(string name, params string[] lines)
    {
        var file = Path.IsPathRooted(name) ? name : Path.Combine(Folder(), name);
        File.WriteAllText(file, string.Join("\n", lines) + "\n");
        return file;
    }

    private static void Write(Stream stream, string text) => stream.Write(Encoding.UTF8.GetBytes(text));

    internal static bool ContainsBytes(string file, string text)
    {
        if (!File.Exists(file))
        {
            return false;
        }

        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray().AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
    }

    private sealed class RecordingProgress : IProgress<int>
    {
        public List<int> Values { get; } = [];

        public void Report(int value) => Values.Add(value);
    }
}
