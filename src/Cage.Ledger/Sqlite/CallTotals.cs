namespace CageNet.Ledger;

/// <summary>
/// The per-batch side of <c>call_totals</c>: sums of the calls a batch actually inserted, per report dimension,
/// group key and UTC day, written with one upsert per (dimension, key, day) before the batch commits.
/// </summary>
internal sealed class CallTotals
{
    /// <summary>Milliseconds in a UTC day.</summary>
    public const long MillisecondsPerDay = 86_400_000;

    private static readonly ReportDimension[] Dimensions = Enum.GetValues<ReportDimension>();

    private readonly Dictionary<(ReportDimension Dimension, string Key, long Day), Sums> _sums = [];

    // Consecutive calls usually share most keys (same route, model, provider, day…): remember each dimension's
    // last group so the common case skips hashing.
    private readonly string?[] _lastKey = new string?[Dimensions.Length];
    private readonly Sums?[] _lastSums = new Sums?[Dimensions.Length];
    private long _lastDay = long.MinValue;

    /// <summary>The accumulated groups.</summary>
    public IEnumerable<KeyValuePair<(ReportDimension Dimension, string Key, long Day), Sums>> Groups => _sums;

    /// <summary>Whether nothing was added since the last <see cref="Clear"/>.</summary>
    public bool IsEmpty => _sums.Count == 0;

    /// <summary>The UTC day number of an instant in Unix milliseconds (floor division, so 1969 lands on day −1).</summary>
    public static long DayOf(long unixMilliseconds) => Math.DivRem(unixMilliseconds, MillisecondsPerDay) is var (q, r) && r < 0 ? q - 1 : q;

    /// <summary>The group key of a call for a dimension: '' when the call has no value (reports show <c>(none)</c>).</summary>
    public static string KeyOf(CallRecord call, ReportDimension dimension) => dimension switch
    {
        ReportDimension.Route => call.Route,
        ReportDimension.Model => call.Model,
        ReportDimension.Provider => call.Provider,
        ReportDimension.Agent => call.Agent,
        ReportDimension.Task => call.Task,
        ReportDimension.Session => call.Session,
        ReportDimension.Category => call.Category,
        ReportDimension.User => call.User,
        _ => null,
    } ?? "";

    /// <summary>Adds a call that was inserted.</summary>
    public void Add(CallRecord call, long costE10)
    {
        var day = DayOf(call.Timestamp.ToUnixTimeMilliseconds());
        var sameDay = day == _lastDay;
        _lastDay = day;
        for (var i = 0; i < Dimensions.Length; i++)
        {
            var key = KeyOf(call, Dimensions[i]);
            var sums = _lastSums[i];
            if (!sameDay || sums is null || !string.Equals(_lastKey[i], key, StringComparison.Ordinal))
            {
                var group = (Dimensions[i], key, day);
                if (!_sums.TryGetValue(group, out sums))
                {
                    sums = new Sums();
                    _sums.Add(group, sums);
                }

                _lastKey[i] = key;
                _lastSums[i] = sums;
            }

            sums.Add(call, costE10);
        }
    }

    /// <summary>Forgets everything (after the batch committed or rolled back).</summary>
    public void Clear()
    {
        _sums.Clear();
        Array.Clear(_lastKey);
        Array.Clear(_lastSums);
        _lastDay = long.MinValue;
    }

    /// <summary>Running sums of one group.</summary>
    internal sealed class Sums
    {
        public long Calls, Input, CacheRead, CacheWrite5m, CacheWrite1h, Output, Reasoning, CostE10, Unpriced, Missing, Local;

        public void Add(CallRecord call, long costE10)
        {
            var usage = call.Usage;
            Calls++;
            Input += usage.Input;
            CacheRead += usage.CacheRead;
            CacheWrite5m += usage.CacheWrite5m;
            CacheWrite1h += usage.CacheWrite1h;
            Output += usage.Output;
            Reasoning += usage.Reasoning ?? 0;
            CostE10 += costE10;
            Unpriced += call.CostSource == CostSource.Unpriced ? 1 : 0;
            Missing += call.UsageStatus == UsageStatus.Missing ? 1 : 0;
            Local += call.CostSource == CostSource.Local ? 1 : 0;
        }
    }
}
