using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Cli.Commands;

/// <summary>
/// SPEC 12's worked example with the reference fixture's fixed ids: one <c>anthropic/claude-opus-4-8</c> call (8,600 in /
/// 1,500 out, $0.0483 at $3 / $15 per 1M) and three token receipts against it (graphify, fux, compressor).
/// </summary>
internal static class WorkedExample
{
    public const string CallId = "c_s1call000001";
    public const string Task = "fix-handover-bug";

    public static readonly DateTimeOffset At = new(2026, 6, 20, 10, 0, 0, TimeSpan.Zero);

    public static LedgerBatch Batch(PriceCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var usage = new TokenUsage(Input: 8_600, Output: 1_500);
        var quote = catalog.Price("anthropic", "claude-opus-4-8", usage);
        var call = new CallRecord
        {
            Id = CallId,
            Timestamp = At,
            Session = "demo",
            Task = Task,
            Agent = "claude-code",
            Route = "code-edit",
            Provider = "anthropic",
            Model = "claude-opus-4-8",
            Usage = usage,
            CostUsd = quote.CostUsd,
            CostSource = quote.Source,
            PriceKey = quote.PriceKey,
            UsageStatus = UsageStatus.Reported,
            LatencyMs = 0,
            Ok = true,
            Retries = 0,
        };

        SavingsReceipt[] receipts =
        [
            SavingsReceipt.Create("r_s1graphify01", At, "graphify", 30_000m, 3_000m, CallId, Task, SavingsUnit.Tokens, SavingsMethod.Modeled),
            SavingsReceipt.Create("r_s1fux0000001", At, "fux", 8_000m, 1_600m, CallId, Task, SavingsUnit.Tokens, SavingsMethod.Modeled),
            SavingsReceipt.Create("r_s1compress01", At, "compressor", 10_000m, 2_000m, CallId, Task, SavingsUnit.Tokens, SavingsMethod.Measured),
        ];

        return new LedgerBatch([call], receipts);
    }
}
