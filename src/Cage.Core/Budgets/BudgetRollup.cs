using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CageNet.Budgets;

/// <summary>
/// What the ledger writer needs of a budget tree to keep its spend per node and period as calls are stored (SQLite
/// table <c>budget_totals</c>): which nodes a call charges (the tree's routing), the period each node counts it in,
/// and what it charges (its cost, or the fallback price of its tokens when it has none). A guard starting up then
/// reads one row per node instead of replaying the calls of the current periods.
/// </summary>
/// <remarks>
/// The tree is identified by its <see cref="Spec"/>: the node paths with their effective periods, the label maps, the
/// routes, the time zone and the fallback price — everything that decides where and how much a call is charged, and
/// nothing else (caps and warnings do not change the spend). Any process that writes the ledger rebuilds the rollup
/// from the spec stored in the file, so calls written by a hook, an import or another host are summed too. 5-hour
/// periods are not rolled up: they depend on when a window opened or on each call's time, and a start-up reads their
/// last five hours of calls.
/// </remarks>
internal sealed class BudgetRollup
{
    /// <summary>The spec format's version, the first field of every spec.</summary>
    private const int Version = 1;

    private readonly BudgetTree _tree;
    private readonly decimal? _fallback;
    private readonly Dictionary<NodeTemplate, int> _index;
    private readonly long[] _rangeStart;
    private readonly long[] _rangeEnd;
    private readonly long[] _rangeStartMs;

    private BudgetRollup(string spec, BudgetTree tree, decimal? fallback)
    {
        Spec = spec;
        _tree = tree;
        _fallback = fallback;
        _index = new Dictionary<NodeTemplate, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < tree.Templates.Count; i++)
        {
            _index[tree.Templates[i]] = i;
        }

        _rangeStart = new long[tree.Templates.Count];
        _rangeEnd = new long[tree.Templates.Count]; // an empty range: the first call computes its period
        _rangeStartMs = new long[tree.Templates.Count];
    }

    /// <summary>The canonical text of the tree's routing, periods, zone and fallback price.</summary>
    public string Spec { get; }

    /// <summary>The tree.</summary>
    internal BudgetTree Tree => _tree;

    /// <summary>
    /// Whether a template's spend is rolled up: a configured node of any period but the 5-hour ones. (An ancestor that
    /// is only implied by a configured path has no cap and is not shown, so nothing reads its spend.)
    /// </summary>
    public static bool Rolls(NodeTemplate template) => template.Configured && template.Period is not (BudgetPeriod.FiveHours or BudgetPeriod.FiveHoursRolling);

    /// <summary>The rollup of a compiled tree, or <see langword="null"/> when none of its nodes is rolled up.</summary>
    public static BudgetRollup? Of(BudgetTree tree, BudgetOptions options)
    {
        if (!tree.Templates.Any(Rolls))
        {
            return null;
        }

        return new BudgetRollup(SpecOf(tree, options), tree, options.FallbackUsdPerMillionTokens);
    }

    /// <summary>Rebuilds a rollup from its <see cref="Spec"/> (as stored in a ledger).</summary>
    /// <exception cref="BudgetConfigurationException">The spec is not one this code wrote, or its tree no longer compiles.</exception>
    public static BudgetRollup FromSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var options = new BudgetOptions();
        try
        {
            using var document = JsonDocument.Parse(spec);
            var root = document.RootElement;
            if (root.GetProperty("v").GetInt32() != Version)
            {
                throw new BudgetConfigurationException($"budget rollup spec version {root.GetProperty("v")} is not {Version}");
            }

            options.TimeZone = root.GetProperty("zone").GetString();
            if (root.GetProperty("fallback").GetString() is { } fallback)
            {
                options.FallbackUsdPerMillionTokens = decimal.Parse(fallback, NumberStyles.Float, CultureInfo.InvariantCulture);
            }

            foreach (var node in root.GetProperty("nodes").EnumerateArray())
            {
                options.Node(node[0].GetString()!).Every(Enum.Parse<BudgetPeriod>(node[1].GetString()!));
            }

            foreach (var map in root.GetProperty("maps").EnumerateArray())
            {
                options.MapLabel(map[0].GetString()!, map[1].GetString()!, map[2].EnumerateArray().Select(p => KeyValuePair.Create(p[0].GetString()!, p[1].GetString()!)));
            }

            foreach (var route in root.GetProperty("routes").EnumerateArray())
            {
                options.Route(route.GetString()!);
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or OverflowException or IndexOutOfRangeException)
        {
            throw new BudgetConfigurationException($"the budget rollup spec cannot be read: {ex.Message}", ex);
        }

        var rollup = Of(BudgetTree.Compile(options, estimator: null), options)
            ?? throw new BudgetConfigurationException("the budget rollup spec has no rolled-up node");
        return string.Equals(rollup.Spec, spec, StringComparison.Ordinal)
            ? rollup
            : throw new BudgetConfigurationException("the budget rollup spec does not compile back to itself");
    }

    private static string SpecOf(BudgetTree tree, BudgetOptions options)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("v", Version);
            json.WriteString("zone", tree.Zone.Id);
            json.WriteString("fallback", options.FallbackUsdPerMillionTokens is { } fallback ? BudgetTree.Format(fallback) : null);
            json.WriteStartArray("nodes");
            foreach (var template in tree.Templates.Where(t => t.Configured).OrderBy(t => t.Path, StringComparer.Ordinal))
            {
                json.WriteStartArray();
                json.WriteStringValue(template.Path);
                json.WriteStringValue(template.Period.ToString());
                json.WriteEndArray();
            }

            json.WriteEndArray();
            json.WriteStartArray("maps");
            foreach (var (label, map) in options.LabelMaps.OrderBy(m => m.Key.Trim(), StringComparer.Ordinal))
            {
                json.WriteStartArray();
                json.WriteStringValue(label.Trim());
                json.WriteStringValue(map.From.Trim());
                json.WriteStartArray();
                foreach (var (from, to) in map.Values.OrderBy(v => v.Key, StringComparer.Ordinal))
                {
                    json.WriteStartArray();
                    json.WriteStringValue(from);
                    json.WriteStringValue(to);
                    json.WriteEndArray();
                }

                json.WriteEndArray();
                json.WriteEndArray();
            }

            json.WriteEndArray();
            json.WriteStartArray("routes");
            foreach (var route in options.Routes.Select(BudgetPath.Normalize).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                json.WriteStringValue(route);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// The earliest start of a rolled-up node's current period at <paramref name="now"/> (Unix milliseconds): the
    /// rollup must hold every call from there on to answer for the current periods. <see cref="long.MinValue"/> when a
    /// node has a lifetime budget.
    /// </summary>
    public long CoverageStart(DateTimeOffset now)
    {
        var start = long.MaxValue;
        foreach (var template in _tree.Templates.Where(Rolls))
        {
            start = Math.Min(start, template.Period == BudgetPeriod.Lifetime ? long.MinValue : BudgetPeriods.Calendar(template.Period, now, _tree.Zone).Start.ToUnixTimeMilliseconds());
        }

        return start;
    }

    /// <summary>
    /// The earliest start of a calendar node's current period at <paramref name="now"/>: the rows a start-up reads are
    /// those of the periods from there on, and the lifetime rows (<see cref="long.MaxValue"/> when every rolled-up node
    /// is a lifetime one).
    /// </summary>
    public long ReadStart(DateTimeOffset now)
    {
        var start = long.MaxValue;
        foreach (var template in _tree.Templates.Where(t => Rolls(t) && t.Period != BudgetPeriod.Lifetime))
        {
            start = Math.Min(start, BudgetPeriods.Calendar(template.Period, now, _tree.Zone).Start.ToUnixTimeMilliseconds());
        }

        return start;
    }

    /// <summary>
    /// Adds (<paramref name="sign"/> 1) or takes back (−1) what a stored call charges to each rolled-up node it is
    /// routed to, in the node's period of the call's time. Not thread-safe (one writer).
    /// </summary>
    public void Add(CallRecord call, int sign, Dictionary<RollupKey, RollupSums> into)
    {
        var scope = BudgetScope.From(call);
        var tokens = BudgetLimits.ClampTokens(call.Usage.TotalTokens);
        var usd = call.CostUsd is { } cost ? BudgetMoney.ToUnits(cost)
            : _fallback is { } rate && tokens > 0 ? BudgetMoney.ToUnits(rate * tokens / 1_000_000m) : 0;
        var unpriced = call.CostUsd is null ? 1 : 0;
        var ticks = call.Timestamp.UtcTicks;
        foreach (var template in _tree.Route(scope))
        {
            if (!Rolls(template))
            {
                continue;
            }

            var i = _index[template];
            if (ticks < _rangeStart[i] || ticks >= _rangeEnd[i])
            {
                var (start, end) = template.Period == BudgetPeriod.Lifetime
                    ? (DateTimeOffset.MinValue, DateTimeOffset.MaxValue)
                    : BudgetPeriods.Calendar(template.Period, call.Timestamp, _tree.Zone);
                (_rangeStart[i], _rangeEnd[i], _rangeStartMs[i]) = (start.UtcTicks, end.UtcTicks, start.ToUnixTimeMilliseconds());
            }

            var key = new RollupKey(template, template.Key(scope), _rangeStartMs[i]);
            if (!into.TryGetValue(key, out var sums))
            {
                into[key] = sums = new RollupSums();
            }

            sums.Usd += sign * usd;
            sums.Tokens += sign * tokens;
            sums.Unpriced += sign * unpriced;
            sums.Calls += sign;
        }
    }

}

/// <summary>One row of a rollup being summed: a node (its template and bound values) in the period starting at <see cref="PeriodStartMs"/>.</summary>
internal readonly record struct RollupKey(NodeTemplate Template, InstanceKey Values, long PeriodStartMs)
{
    /// <summary>The node's concrete path.</summary>
    public string Node => Template.Concrete(Values);
}

/// <summary>The running sums of one rollup row: 1e-10 USD, tokens, calls without a cost, calls.</summary>
internal sealed class RollupSums
{
    public long Usd, Tokens, Unpriced, Calls;
}

/// <summary>A stored rollup row: a node's spend in the period that starts at <see cref="PeriodStartMs"/>.</summary>
internal readonly record struct RollupRow(string Node, long PeriodStartMs, long Usd, long Tokens, long Unpriced, long Calls);

/// <summary>
/// A ledger that keeps budget rollups as it stores calls (the SQLite ledger). The guard's start-up asks it for the
/// current periods' rows instead of replaying the calls.
/// </summary>
internal interface IBudgetRollupStore
{
    /// <summary>
    /// The rollup's rows of the periods that start at or after <paramref name="readFromMs"/> and the lifetime rows, less
    /// the calls stamped after <paramref name="nowMs"/> (a guard charges those live), read in one snapshot; registering
    /// the rollup first (summing the stored calls from <paramref name="coverFromMs"/> on, once) when the ledger does not
    /// keep it yet and <paramref name="register"/> allows. <see langword="null"/> when the ledger cannot answer: the
    /// rollup is not kept (and was not registered), or it was registered after <paramref name="coverFromMs"/> and so
    /// misses calls.
    /// </summary>
    IReadOnlyList<RollupRow>? ReadBudgetRollup(BudgetRollup rollup, long coverFromMs, long readFromMs, long nowMs, bool register);

    /// <summary>
    /// The stored calls stamped at or after <paramref name="fromMs"/>, in time order, with only what a budget charges
    /// by: time, user, agent, session, task, labels, token buckets and cost (the rest of each record is left empty).
    /// </summary>
    IEnumerable<CallRecord> ReadBudgetCalls(long fromMs);
}
