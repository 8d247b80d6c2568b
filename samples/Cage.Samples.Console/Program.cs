// A console app metering its LLM calls with the fluent API. The "LLM call" is simulated so the sample runs
// offline; in a real app it is your OpenAI / Anthropic / Gemini client call, and the numbers come from the
// response's usage block.
using CageNet;
using CageNet.Ledger;

// The static facade uses the embedded default: a SQLite ledger at <nearest .cage/ folder>/ledger.db.
using (var m = Cage.Meter("code-edit", task: "fix-bug", agent: "console-sample"))
{
    var response = await FakeLlm.CompleteAsync("anthropic", "claude-opus-4-8");
    m.Usage("anthropic", response.Model, input: response.InputTokens, output: response.OutputTokens, cacheRead: response.CachedTokens, requestId: response.Id);

    // A context compressor shrank 10,000 tokens of files to 2,000: it files a receipt against this call.
    m.RecordReceipt("compressor", rawAlternative: 10_000, actual: 2_000, method: SavingsMethod.Measured);
}

// The exact line the design card asks for: a scope with only a route.
using var m2 = Cage.Meter("code-edit");
m2.Usage("openai", "gpt-4o-mini", input: 1200, output: 300);
m2.Dispose();

// Wait until everything is committed, then ask the ledger what was spent.
await Cage.FlushAsync();
using var ledger = SqliteLedger.Open(LedgerLocation.Resolve());
var report = await ledger.ReportAsync(new ReportQuery(ReportDimension.Route, TimeWindow.All));
Console.WriteLine($"ledger: {ledger.Path}");
foreach (var group in report.Groups)
{
    Console.WriteLine($"{group.Key,-12} {group.Totals.Calls,5} calls  {group.Totals.TokensIn,9:N0} in  {group.Totals.TokensOut,7:N0} out  ${group.Totals.CostUsd:0.0000}");
}

internal static class FakeLlm
{
    public static Task<(string Id, string Model, long InputTokens, long CachedTokens, long OutputTokens)> CompleteAsync(string provider, string model)
    {
        _ = provider;
        return Task.FromResult(("msg_" + Guid.NewGuid().ToString("N"), model, 8600L, 0L, 1500L));
    }
}
