namespace CageNet.Ledger;

/// <summary>
/// The per-batch side of <c>call_totals</c> and <c>call_totals_hour</c>: sums of the calls a batch actually inserted,
/// per report dimension, group key and UTC day (and per hour for <see cref="HourlyDimensions"/>), written with one
/// upsert per (dimension, key, day or hour) before the batch commits.
/// </summary>
internal sealed class CallTotals
{
    /// <summary>Milliseconds in a UTC day.</summary>
    public const long MillisecondsPerDay = 86_400_000;

    private static readonly ReportDimension[] Dimensions = Enum.GetValues<ReportDimension>();

    /// <summary>
    /// The <c>dim</c> of the route × task pairs: not a <see cref="ReportDimension"/> of its own, the totals per route and
    /// task (key <c>route U+001F task</c>) that the recommend view and <c>report --by route,task</c> read.
    /// </summary>
    public const ReportDimension RouteTask = (ReportDimension)100;

    /// <summary>
    /// The dimensions also summed per UTC hour (<c>call_totals_hour</c>): those the dashboard's spend-over-time chart
    /// stacks by. Their hourly groups carry the dimension plus <see cref="HourlyOffset"/>, and the hour number in the
    /// group's <c>Day</c> slot.
    /// </summary>
    public static readonly ReportDimension[] HourlyDimensions = [ReportDimension.Model, ReportDimension.Route, ReportDimension.Agent];

    /// <summary>Added to a dimension's number for its hourly groups.</summary>
    public const int HourlyOffset = 200;

    /// <summary>Milliseconds in an hour.</summary>
    public const long MillisecondsPerHour = 3_600_000;

    // The lanes of the recent-group cache: one per dimension, then the route × task pairs, then the hourly dimensions.
    private static readonly ReportDimension[] LaneDimensions =
        [.. Dimensions, RouteTask, .. HourlyDimensions.Select(d => (ReportDimension)((int)d + HourlyOffset))];

    private static readonly int Lanes = LaneDimensions.Length;

    // Groups a dimension's recent-group cache holds: routes, models, providers and agents usually take a handful of
    // values that alternate from call to call.
    private const int Ways = 8;

    private readonly Dictionary<(ReportDimension Dimension, string Key, long Day), Sums> _sums = [];

    // Per dimension, the groups it used last (Ways slots each: key, day, sums), found by reference to the key string
    // first (keys usually come from a few shared strings), then by value in the slot used last (keys rebuilt per call,
    // such as task ids). A miss goes to the dictionary, which alone decides which group a key belongs to: the cache
    // only remembers its answers, so it can never split or merge groups.
    private readonly string?[] _cacheKeys = new string?[Lanes * Ways];
    private readonly long[] _cacheDays = new long[Lanes * Ways];
    private readonly Sums?[] _cacheSums = new Sums?[Lanes * Ways];
    private readonly int[] _lastSlot = new int[Lanes];
    private readonly int[] _nextSlot = new int[Lanes];

    // The pair keys built last, by reference to their route and task strings, so a run of calls of one task and a few
    // routes builds each key once rather than once per call.
    private readonly string?[] _pairRoutes = new string?[Ways];
    private readonly string?[] _pairTasks = new string?[Ways];
    private readonly string[] _pairKeys = new string[Ways];
    private int _nextPair;

    /// <summary>The accumulated groups.</summary>
    public IEnumerable<KeyValuePair<(ReportDimension Dimension, string Key, long Day), Sums>> Groups => _sums;

    /// <summary>Whether nothing was added since the last <see cref="Clear"/>.</summary>
    public bool IsEmpty => _sums.Count == 0;

    /// <summary>The UTC day number of an instant in Unix milliseconds (floor division, so 1969 lands on day −1).</summary>
    public static long DayOf(long unixMilliseconds) => Math.DivRem(unixMilliseconds, MillisecondsPerDay) is var (q, r) && r < 0 ? q - 1 : q;

    /// <summary>The hour number (hours since the Unix epoch, floor division) of an instant in Unix milliseconds.</summary>
    public static long HourOf(long unixMilliseconds) => Math.DivRem(unixMilliseconds, MillisecondsPerHour) is var (q, r) && r < 0 ? q - 1 : q;

    /// <summary>The dimension of an hourly group (see <see cref="HourlyDimensions"/>), or null for a per-day group.</summary>
    public static ReportDimension? HourlyDimensionOf(ReportDimension group) =>
        (int)group >= HourlyOffset ? (ReportDimension)((int)group - HourlyOffset) : null;

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
        var ms = call.Timestamp.ToUnixTimeMilliseconds();
        var day = DayOf(ms);
        var delta = new Delta(call, costE10);
        for (var i = 0; i < Dimensions.Length; i++)
        {
            Find(i, KeyOf(call, Dimensions[i]), day).Add(in delta);
        }

        var hour = HourOf(ms);
        for (var h = 0; h < HourlyDimensions.Length; h++)
        {
            Find(Dimensions.Length + 1 + h, KeyOf(call, HourlyDimensions[h]), hour).Add(in delta);
        }

        Find(Dimensions.Length, PairKey(call), day).Add(in delta);
    }

    /// <summary>The key of a call's route × task pair: route, U+001F, task ('' for none on either side).</summary>
    public static string PairKeyOf(CallRecord call) => (call.Route ?? "") + SpendReport.PairSeparator + (call.Task ?? "");

    private string PairKey(CallRecord call)
    {
        var route = call.Route ?? "";
        var task = call.Task ?? "";
        for (var slot = 0; slot < Ways; slot++)
        {
            if (ReferenceEquals(_pairRoutes[slot], route) && ReferenceEquals(_pairTasks[slot], task))
            {
                return _pairKeys[slot];
            }
        }

        var key = route + SpendReport.PairSeparator + task;
        var next = _nextPair;
        _nextPair = (next + 1) % Ways;
        (_pairRoutes[next], _pairTasks[next], _pairKeys[next]) = (route, task, key);
        return key;
    }

    /// <summary>Takes back a call that was added earlier (its stored usage and cost are being replaced).</summary>
    public void Remove(CallRecord call, long costE10)
    {
        var ms = call.Timestamp.ToUnixTimeMilliseconds();
        var day = DayOf(ms);
        var delta = new Delta(call, costE10);
        for (var i = 0; i < Dimensions.Length; i++)
        {
            Find(i, KeyOf(call, Dimensions[i]), day).Remove(in delta);
        }

        var hour = HourOf(ms);
        for (var h = 0; h < HourlyDimensions.Length; h++)
        {
            Find(Dimensions.Length + 1 + h, KeyOf(call, HourlyDimensions[h]), hour).Remove(in delta);
        }

        Find(Dimensions.Length, PairKey(call), day).Remove(in delta);
    }

    /// <summary>Forgets everything (after the batch committed or rolled back).</summary>
    public void Clear()
    {
        _sums.Clear();
        Array.Clear(_cacheKeys);
        Array.Clear(_cacheSums);
        Array.Clear(_lastSlot);
        Array.Clear(_nextSlot);
        Array.Clear(_pairRoutes);
        Array.Clear(_pairTasks);
    }

    /// <summary>The sums of lane <paramref name="i"/>'s group for <paramref name="key"/> on <paramref name="day"/> (an hour for the hourly lanes).</summary>
    private Sums Find(int i, string key, long day)
    {
        var first = i * Ways;
        for (var slot = first; slot < first + Ways; slot++)
        {
            if (ReferenceEquals(_cacheKeys[slot], key) && _cacheDays[slot] == day)
            {
                _lastSlot[i] = slot - first;
                return _cacheSums[slot]!;
            }
        }

        var last = first + _lastSlot[i];
        if (_cacheDays[last] == day && _cacheKeys[last] is { } lastKey && string.Equals(lastKey, key, StringComparison.Ordinal))
        {
            _cacheKeys[last] = key; // the newer instance: the next call with this key likely shares it
            return _cacheSums[last]!;
        }

        var group = (LaneDimensions[i], key, day);
        if (!_sums.TryGetValue(group, out var sums))
        {
            sums = new Sums();
            _sums.Add(group, sums);
        }

        var next = _nextSlot[i];
        _nextSlot[i] = (next + 1) % Ways;
        _lastSlot[i] = next;
        _cacheKeys[first + next] = key;
        _cacheDays[first + next] = day;
        _cacheSums[first + next] = sums;
        return sums;
    }

    /// <summary>What one call adds to each of its groups, read from the record once.</summary>
    internal readonly struct Delta(CallRecord call, long costE10)
    {
        public readonly long Input = call.Usage.Input;
        public readonly long CacheRead = call.Usage.CacheRead;
        public readonly long CacheWrite5m = call.Usage.CacheWrite5m;
        public readonly long CacheWrite1h = call.Usage.CacheWrite1h;
        public readonly long Output = call.Usage.Output;
        public readonly long Reasoning = call.Usage.Reasoning ?? 0;
        public readonly long CostE10 = costE10;
        public readonly long Unpriced = call.CostSource == CostSource.Unpriced ? 1 : 0;
        public readonly long Missing = call.UsageStatus == UsageStatus.Missing ? 1 : 0;
        public readonly long Local = call.CostSource == CostSource.Local ? 1 : 0;
    }

    /// <summary>Running sums of one group.</summary>
    internal sealed class Sums
    {
        public long Calls, Input, CacheRead, CacheWrite5m, CacheWrite1h, Output, Reasoning, CostE10, Unpriced, Missing, Local;

        public void Add(in Delta delta)
        {
            Calls++;
            Input += delta.Input;
            CacheRead += delta.CacheRead;
            CacheWrite5m += delta.CacheWrite5m;
            CacheWrite1h += delta.CacheWrite1h;
            Output += delta.Output;
            Reasoning += delta.Reasoning;
            CostE10 += delta.CostE10;
            Unpriced += delta.Unpriced;
            Missing += delta.Missing;
            Local += delta.Local;
        }

        public void Remove(in Delta delta)
        {
            Calls--;
            Input -= delta.Input;
            CacheRead -= delta.CacheRead;
            CacheWrite5m -= delta.CacheWrite5m;
            CacheWrite1h -= delta.CacheWrite1h;
            Output -= delta.Output;
            Reasoning -= delta.Reasoning;
            CostE10 -= delta.CostE10;
            Unpriced -= delta.Unpriced;
            Missing -= delta.Missing;
            Local -= delta.Local;
        }
    }
}
