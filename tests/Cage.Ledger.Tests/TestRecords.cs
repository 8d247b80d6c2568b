namespace CageNet.Tests;

/// <summary>Small factories for records with hand-picked values.</summary>
internal static class TestRecords
{
    public static DateTimeOffset At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    public static CallRecord Call(
        string id,
        string ts = "2026-03-01T10:00:00Z",
        string? route = "code-edit",
        string? task = "t1",
        string? session = "s1",
        string? agent = "a1",
        string? category = null,
        string? user = null,
        string provider = "anthropic",
        string model = "claude-opus-4-8",
        TokenUsage usage = default,
        decimal? cost = 0.01m,
        CostSource source = CostSource.Catalog,
        UsageStatus status = UsageStatus.Reported,
        string? requestId = null,
        IReadOnlyDictionary<string, string>? tags = null) => new()
        {
            Id = id,
            Timestamp = At(ts),
            Route = route,
            Task = task,
            Session = session,
            Agent = agent,
            Category = category,
            User = user,
            Provider = provider,
            Model = model,
            Usage = usage,
            CostUsd = cost,
            CostSource = source,
            PriceKey = source == CostSource.Catalog ? provider + "/" + model : null,
            UsageStatus = status,
            RequestId = requestId,
            Tags = tags,
        };

    public static SavingsReceipt Receipt(
        string id,
        string ts = "2026-03-01T10:00:00Z",
        string tool = "fux",
        decimal raw = 8000m,
        decimal actual = 1600m,
        string? callId = null,
        string? task = null,
        SavingsUnit unit = SavingsUnit.Tokens,
        SavingsMethod method = SavingsMethod.Modeled) =>
        SavingsReceipt.Create(id, At(ts), tool, raw, actual, callId, task, unit, method);

    public static CageNet.Ledger.LedgerBatch Batch(params CallRecord[] calls) => new(calls, []);

    public static CageNet.Ledger.LedgerBatch Batch(params SavingsReceipt[] receipts) => new([], receipts);
}
