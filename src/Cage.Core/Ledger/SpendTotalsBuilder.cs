namespace CageNet.Ledger;

/// <summary>Sums calls into <see cref="SpendTotals"/> one at a time (a report over a stream of calls holds one per group, not the calls).</summary>
internal sealed class SpendTotalsBuilder
{
    private long _calls, _input, _cacheRead, _write5m, _write1h, _output, _reasoning, _unpriced, _missing, _local;
    private decimal _cost;

    public void Add(CallRecord call)
    {
        _calls++;
        _input += call.Usage.Input;
        _cacheRead += call.Usage.CacheRead;
        _write5m += call.Usage.CacheWrite5m;
        _write1h += call.Usage.CacheWrite1h;
        _output += call.Usage.Output;
        _reasoning += call.Usage.Reasoning ?? 0;
        _cost += call.CostUsd ?? 0;
        if (call.CostSource == CostSource.Unpriced) _unpriced++;
        if (call.CostSource == CostSource.Local) _local++;
        if (call.UsageStatus == UsageStatus.Missing) _missing++;
    }

    public SpendTotals Build() => new()
    {
        Calls = _calls, Input = _input, CacheRead = _cacheRead, CacheWrite5m = _write5m, CacheWrite1h = _write1h, Output = _output,
        Reasoning = _reasoning, CostUsd = _cost, UnpricedCalls = _unpriced, MissingUsageCalls = _missing, LocalCalls = _local,
    };
}
