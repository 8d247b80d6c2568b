using System.Text;
using System.Text.Json;
using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Fuzz.Tests;

/// <summary>
/// The reference ledger's line parser (<c>calls.jsonl</c> / <c>receipts.jsonl</c>): a bad line is rejected only with the
/// exceptions <c>ReferenceJsonl.ImportAsync</c> turns into a line error (<see cref="JsonException"/>,
/// <see cref="CageValidationException"/> naming the field, <see cref="InvalidOperationException"/> for invalid UTF-8),
/// and a line it accepts is a valid record.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ReferenceFuzzTests
{
    [Test]
    public void ReferenceCalls() => Fuzz.Run("reference-calls", Corpus.ReferenceCalls, 1000, c =>
    {
        CallRecord call;
        try
        {
            call = ReferenceLineParser.ParseCall(c.Input, PriceCatalog.BuiltIn);
        }
        catch (Exception ex) when (IsLineRejection(ex))
        {
            return;
        }

        var own = c.Input.AsSpan().IndexOf("\"cost_source\""u8) >= 0 || c.Input.AsSpan().IndexOf("\"usage_status\""u8) >= 0;
        Invariants.Call(call, c.Input, $"the call line ({call.UsageStatus}, cost {call.CostUsd?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"})", costFromSource: own);
        if (string.IsNullOrWhiteSpace(call.Id)) throw new FuzzViolation("a call without an id was accepted");
        if (call.CostUsd is { } cost && !LedgerMoney.InRange(cost)) throw new FuzzViolation($"a cost the ledger cannot store was accepted: {cost}");
    });

    [Test]
    public void ReferenceReceipts() => Fuzz.Run("reference-receipts", Corpus.ReferenceReceipts, 500, c =>
    {
        try
        {
            var receipt = ReferenceLineParser.ParseReceipt(c.Input);
            if (string.IsNullOrWhiteSpace(receipt.Id) || string.IsNullOrWhiteSpace(receipt.Tool)) throw new FuzzViolation("a receipt without an id or tool was accepted");
        }
        catch (Exception ex) when (IsLineRejection(ex))
        {
        }
    });

    /// <summary>What <c>ReferenceJsonl</c>'s line source catches and reports as a line error; anything else would end the import.</summary>
    private static bool IsLineRejection(Exception ex) => ex switch
    {
        JsonException => true,
        CageValidationException v => !string.IsNullOrWhiteSpace(v.Field) ? true : throw new FuzzViolation($"a validation error without a field: {v.Message}"),
        InvalidOperationException when IsUtf8(ex) => true,
        _ => false,
    };

    /// <summary>The importer reports an <see cref="InvalidOperationException"/> as invalid text: it must be one (bad UTF-8, or an escaped lone surrogate).</summary>
    private static bool IsUtf8(Exception ex) =>
        ex.Message.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("UTF-16", StringComparison.OrdinalIgnoreCase)
        || ex.InnerException is DecoderFallbackException;
}
