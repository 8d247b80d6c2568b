using CageNet.Pricing;

namespace CageNet.Extensions.AI.Tests;

/// <summary>A meter whose every member throws: stands for a metering fault that must not reach the caller.</summary>
internal sealed class ThrowingMeter : ICageMeter
{
    public PriceCatalog Prices => throw new InvalidOperationException("meter fault");

    public TimeProvider TimeProvider => throw new InvalidOperationException("meter fault");

    public MeteringStatistics Statistics => throw new InvalidOperationException("meter fault");

    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => throw new InvalidOperationException("meter fault");

    public MeterScope Meter(string route, string? task = null, string? session = null, string? agent = null, string? user = null, string? category = null) =>
        throw new InvalidOperationException("meter fault");

    public void Record(CallRecord call) => throw new InvalidOperationException("meter fault");

    public void Record(SavingsReceipt receipt) => throw new InvalidOperationException("meter fault");

    public SavingsReceipt RecordReceipt(string tool, decimal rawAlternative, decimal actual, string? call = null, string? task = null, SavingsUnit unit = SavingsUnit.Tokens, SavingsMethod method = SavingsMethod.Modeled, double confidence = 1, IReadOnlyDictionary<string, string>? meta = null) =>
        throw new InvalidOperationException("meter fault");
}
