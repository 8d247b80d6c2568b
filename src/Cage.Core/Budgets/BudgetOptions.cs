using CageNet.Budgets.Subscription;

namespace CageNet.Budgets;

/// <summary>
/// The budget tree and its settings: the <c>Cage:Budgets</c> configuration section (see
/// <see cref="BudgetConfiguration"/>) or built with the fluent <see cref="Node(string)"/> API.
/// </summary>
/// <example>
/// <code>
/// options.Node("org").CapUsd(100m).Every(BudgetPeriod.Month).Block();
/// options.Node("org/users/{user}").CapUsd(BudgetLimit.PercentOfParent(5)).Every(BudgetPeriod.Day).WarnAt(pct: [50, 80]);
/// </code>
/// </example>
public sealed class BudgetOptions
{
    /// <summary>The time zone day, week and month periods follow (IANA or Windows id). Default <c>UTC</c>.</summary>
    public string? TimeZone { get; set; }

    /// <summary>The action of nodes that do not set one. Default <see cref="BudgetExceedAction.Warn"/>.</summary>
    public BudgetExceedAction OnExceed { get; set; } = BudgetExceedAction.Warn;

    /// <summary>
    /// How long a reservation holds budget before it expires and is reclaimed (a crashed or hung caller cannot leak
    /// budget). A late settle of an expired reservation still charges what was spent. Default 10 minutes.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long an instance of a templated node (<c>org/{user}</c> for one user) stays in memory with no call and no
    /// open reservation; the lease timer then drops it, keeping only its spend for the current period (a few numbers),
    /// and the next call for it rebuilds it. <see cref="Timeout.InfiniteTimeSpan"/> keeps every instance. Default 10
    /// minutes.
    /// </summary>
    public TimeSpan EvictIdleAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Whether the guard refuses calls when its state cannot be loaded (the store or the ledger failed at start-up), or
    /// when the fleet's shared reservations (<see cref="BudgetGuard.Shared"/>) cannot be reached for a call.
    /// Default <see langword="false"/>: fail-open, the fault is logged and calls go on (on this process's counters alone).
    /// </summary>
    public bool FailClosed { get; set; }

    /// <summary>
    /// The price, in dollars per million tokens, charged for a settled call whose cost is unknown (an unpriced model, or
    /// usage that never arrived) but whose tokens are known. Default <see langword="null"/>: such a call is charged its
    /// reservation's estimate (or $0 without a reservation), so token caps still apply but dollar spend is a lower bound.
    /// Either way the call is counted in <see cref="BudgetNodeStatus.UnpricedCalls"/> and logged once per node and period.
    /// </summary>
    public decimal? FallbackUsdPerMillionTokens { get; set; }

    /// <summary>The nodes, keyed by path (<c>org/team-a/{user}</c>). Use <see cref="Node(string)"/> to add one.</summary>
    public IDictionary<string, BudgetNodeOptions> Nodes { get; } = new SortedDictionary<string, BudgetNodeOptions>(StringComparer.Ordinal);

    /// <summary>Subscription-window estimation settings (SPEC 7.6).</summary>
    public SubscriptionOptions Subscription { get; set; } = new();

    /// <summary>
    /// Labels derived from another label, keyed by the label they set (<c>team</c> from <c>agent</c>: agent-x → team-a).
    /// A label the scope carries itself wins over its mapping. Use <see cref="MapLabel"/> to add one.
    /// </summary>
    public IDictionary<string, BudgetLabelMap> LabelMaps { get; } = new SortedDictionary<string, BudgetLabelMap>(StringComparer.Ordinal);

    /// <summary>
    /// Route paths such as <c>org/{team}/{agent}/{session}</c>: they name the label whose value each literal segment at
    /// that position is, so <c>org/team-a</c> is charged only by calls with <c>team = team-a</c>. A templated node path
    /// routes the same way without being listed here. Use <see cref="Route"/> to add one.
    /// </summary>
    public IList<string> Routes { get; } = [];

    /// <summary>Derives the label <paramref name="label"/> from the label <paramref name="from"/> (for example team from agent).</summary>
    /// <param name="label">The label to set (not user, agent, session or task).</param>
    /// <param name="from">The label it is derived from (user, agent, session, task, or another label).</param>
    /// <param name="values">Each value of <paramref name="from"/> and the value of <paramref name="label"/> it gives.</param>
    /// <returns>These options.</returns>
    public BudgetOptions MapLabel(string label, string from, IEnumerable<KeyValuePair<string, string>> values)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(label);
        ArgumentNullException.ThrowIfNull(values);
        var map = new BudgetLabelMap(from);
        foreach (var (key, value) in values) map.Values[key] = value;
        LabelMaps[label.Trim()] = map;
        return this;
    }

    /// <summary>Adds a route path (see <see cref="Routes"/>).</summary>
    /// <param name="path">A path with template segments, such as <c>org/{team}/{agent}</c>.</param>
    /// <returns>These options.</returns>
    public BudgetOptions Route(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Routes.Add(path);
        return this;
    }

    /// <summary>Gets or adds the node at <paramref name="path"/>, for fluent configuration.</summary>
    /// <param name="path">
    /// The node path: segments separated by <c>/</c>; a segment <c>{name}</c> (<c>{user}</c>, <c>{agent}</c>,
    /// <c>{session}</c>, <c>{task}</c> or a label such as <c>{team}</c>) makes one counter per distinct value, and a
    /// literal at a position some templated node or route gives a label (<c>org/team-a</c> beside <c>org/{team}</c>)
    /// is that value's own node.
    /// </param>
    /// <returns>The node's options.</returns>
    public BudgetNodeOptions Node(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var key = BudgetPath.Normalize(path);
        if (!Nodes.TryGetValue(key, out var node))
        {
            node = new BudgetNodeOptions(key);
            Nodes[key] = node;
        }

        return node;
    }

    /// <summary>
    /// The monthly budget the tree implies (the default of <c>cage forecast</c> and the MCP <c>forecast</c> tool): the
    /// smallest dollar cap of a top-level, untemplated node with period <c>month</c>, else of one with period <c>day</c>
    /// × the days of the month of <paramref name="now"/> (UTC); <see langword="null"/> when there is neither.
    /// </summary>
    internal decimal? MonthlyUsd(DateTimeOffset now)
    {
        var caps = Nodes.Values
            .Where(n => !n.Path.Contains('/', StringComparison.Ordinal) && !n.Path.Contains('{', StringComparison.Ordinal) && n.Usd?.Amount is not null)
            .ToList();
        var month = caps.Where(n => n.Period == BudgetPeriod.Month).Select(n => n.Usd!.Amount!.Value).DefaultIfEmpty(-1m).Min();
        if (month >= 0)
        {
            return month;
        }

        var day = caps.Where(n => n.Period == BudgetPeriod.Day).Select(n => n.Usd!.Amount!.Value).DefaultIfEmpty(-1m).Min();
        return day >= 0 ? day * DateTime.DaysInMonth(now.Year, now.Month) : null;
    }
}

/// <summary>A label derived from another label's value (<see cref="BudgetOptions.MapLabel"/>).</summary>
public sealed class BudgetLabelMap
{
    /// <summary>Creates a mapping.</summary>
    /// <param name="from">The label it reads (user, agent, session, task, or another label).</param>
    public BudgetLabelMap(string from)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(from);
        From = from.Trim();
    }

    /// <summary>The label it reads.</summary>
    public string From { get; }

    /// <summary>Each value of <see cref="From"/> and the value it gives.</summary>
    public IDictionary<string, string> Values { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>One node of the budget tree: caps in dollars and tokens over a period, warn thresholds and the exceed action.</summary>
public sealed class BudgetNodeOptions
{
    /// <summary>Creates a node's options.</summary>
    /// <param name="path">The node path.</param>
    public BudgetNodeOptions(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = BudgetPath.Normalize(path);
    }

    /// <summary>The node path.</summary>
    public string Path { get; }

    /// <summary>The period; default lifetime, or the period a subscription-percent limit names.</summary>
    public BudgetPeriod? Period { get; set; }

    /// <summary>The exceed action; default <see cref="BudgetOptions.OnExceed"/>.</summary>
    public BudgetExceedAction? OnExceed { get; set; }

    /// <summary>The dollar cap (an amount, or a percent of the parent's dollar cap); none when <see langword="null"/>.</summary>
    public BudgetLimit? Usd { get; set; }

    /// <summary>The token cap (a count, a percent of the parent's, or a percent of a subscription window); none when <see langword="null"/>.</summary>
    public BudgetLimit? Tokens { get; set; }

    /// <summary>Warn once per period when spend crosses this many dollars.</summary>
    public decimal? WarnAtUsd { get; set; }

    /// <summary>Warn once per period when spend crosses this many tokens.</summary>
    public long? WarnAtTokens { get; set; }

    /// <summary>Warn once per period when spend crosses each of these percents of each cap (for example 50, 80, 100). Crossing a cap always warns once.</summary>
    public IList<decimal> WarnAtPct { get; } = [];

    /// <summary>Caps dollars at an amount.</summary>
    /// <param name="usd">The cap, ≥ 0.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions CapUsd(decimal usd) => CapUsd(BudgetLimit.Absolute(usd));

    /// <summary>Caps dollars.</summary>
    /// <param name="limit">The limit.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions CapUsd(BudgetLimit limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        Usd = limit;
        return this;
    }

    /// <summary>Caps tokens at a count.</summary>
    /// <param name="tokens">The cap, ≥ 0.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions CapTokens(long tokens) => CapTokens(BudgetLimit.Absolute(tokens));

    /// <summary>Caps tokens.</summary>
    /// <param name="limit">The limit.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions CapTokens(BudgetLimit limit)
    {
        ArgumentNullException.ThrowIfNull(limit);
        Tokens = limit;
        return this;
    }

    /// <summary>Sets the period.</summary>
    /// <param name="period">The period.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions Every(BudgetPeriod period)
    {
        Period = period;
        return this;
    }

    /// <summary>Refuses calls past the cap.</summary>
    /// <returns>This node.</returns>
    public BudgetNodeOptions Block()
    {
        OnExceed = BudgetExceedAction.Block;
        return this;
    }

    /// <summary>Only warns past the cap.</summary>
    /// <returns>This node.</returns>
    public BudgetNodeOptions WarnOnly()
    {
        OnExceed = BudgetExceedAction.Warn;
        return this;
    }

    /// <summary>Sets warn thresholds.</summary>
    /// <param name="usd">A dollar threshold.</param>
    /// <param name="tokens">A token threshold.</param>
    /// <param name="pct">Percents of each cap.</param>
    /// <returns>This node.</returns>
    public BudgetNodeOptions WarnAt(decimal? usd = null, long? tokens = null, params decimal[] pct)
    {
        WarnAtUsd = usd ?? WarnAtUsd;
        WarnAtTokens = tokens ?? WarnAtTokens;
        foreach (var p in pct ?? [])
        {
            WarnAtPct.Add(p);
        }

        return this;
    }
}

/// <summary>
/// A cap in one of the accepted forms (SPEC 7.2): an amount (<c>1000</c> or <c>{ "Limit": 1000 }</c>), a percent of the
/// parent's cap converted at registration (<c>{ "Pct": 30, "Of": "parent" }</c>), or a percent of a subscription
/// window converted at lookup from the estimator (<c>{ "Pct": 80, "Of": "subscription_5h", "Period": "week" }</c>).
/// </summary>
public sealed class BudgetLimit
{
    /// <summary>The <c>Of</c> value for a percent of the parent's cap.</summary>
    public const string OfParent = "parent";

    private BudgetLimit(decimal? amount, decimal? pct, string? of, BudgetPeriod? period, string? modelClass)
    {
        Amount = amount;
        Pct = pct;
        Of = of;
        Period = period;
        ModelClass = modelClass;
    }

    /// <summary>The absolute amount, for the amount form.</summary>
    public decimal? Amount { get; }

    /// <summary>The percent, for the percent forms.</summary>
    public decimal? Pct { get; }

    /// <summary><c>parent</c>, or the subscription window (<c>subscription_5h</c>, <c>subscription_7d</c>).</summary>
    public string? Of { get; }

    /// <summary>The period a subscription-percent limit applies over (it becomes the node's period).</summary>
    public BudgetPeriod? Period { get; }

    /// <summary>The model class whose tokens-per-percent converts a subscription percent (default: the estimator's default class).</summary>
    public string? ModelClass { get; }

    /// <summary>Whether this is a percent of the parent's cap.</summary>
    public bool IsPercentOfParent => Pct is not null && string.Equals(Of, OfParent, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this is a percent of a subscription window.</summary>
    public bool IsPercentOfSubscription => Pct is not null && !IsPercentOfParent;

    /// <summary>The subscription window a subscription-percent limit refers to (<c>5h</c>, <c>7d</c>).</summary>
    public string? Window => IsPercentOfSubscription && Of is { } of ? (of.StartsWith("subscription_", StringComparison.OrdinalIgnoreCase) ? of["subscription_".Length..] : of) : null;

    /// <summary>An absolute amount.</summary>
    /// <param name="amount">Dollars or tokens, ≥ 0 (a negative amount is a <see cref="BudgetConfigurationException"/> naming the node when the tree is compiled).</param>
    /// <returns>The limit.</returns>
    public static BudgetLimit Absolute(decimal amount) => new(amount, null, null, null, null);

    /// <summary>A percent of the parent's cap, converted at registration to <c>parent_cap × pct / 100</c>.</summary>
    /// <param name="pct">0..100 (outside it, compiling the tree fails with a <see cref="BudgetConfigurationException"/> naming the node).</param>
    /// <returns>The limit.</returns>
    public static BudgetLimit PercentOfParent(decimal pct) => new(null, pct, OfParent, null, null);

    /// <summary>A percent of a subscription window, converted to tokens at lookup from the current estimator.</summary>
    /// <param name="pct">The percent of the window, ≥ 0 (checked with the node's name when the tree is compiled).</param>
    /// <param name="window">The window: <c>5h</c> (default) or <c>7d</c> (another is an error naming the node when the tree is compiled).</param>
    /// <param name="period">The period the cap applies over; default the node's.</param>
    /// <param name="modelClass">The model class to convert with; default the estimator's default class.</param>
    /// <returns>The limit.</returns>
    public static BudgetLimit PercentOfSubscription(decimal pct, string window = "5h", BudgetPeriod? period = null, string? modelClass = null) =>
        new(null, pct, "subscription_" + window?.Trim(), period, modelClass);

    internal static BudgetLimit Create(decimal? amount, decimal? pct, string? of, BudgetPeriod? period, string? modelClass) =>
        new(amount, pct, of, period, modelClass);

    /// <inheritdoc/>
    public override string ToString() =>
        Amount is { } a ? a.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Pct}% of {Of}");
}

/// <summary>A budget configuration that cannot be used: the message names the setting (and, for a clamp, the siblings and the headroom).</summary>
public class BudgetConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BudgetConfigurationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public BudgetConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BudgetConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A child's cap does not fit in its parent (SPEC 7.3): a percent above <c>100 − Σ siblings' percents</c>, or an
/// amount above the parent's cap.
/// </summary>
public sealed class BudgetClampException : BudgetConfigurationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="node">The node that does not fit.</param>
    /// <param name="metric"><c>usd</c> or <c>tokens</c>.</param>
    /// <param name="siblings">The siblings and what they take.</param>
    /// <param name="headroom">What is left for the node: a percent of the parent for percent caps, an amount for amount caps.</param>
    /// <param name="message">The message.</param>
    public BudgetClampException(string node, string metric, IReadOnlyList<string> siblings, decimal headroom, string message)
        : base(message)
    {
        Node = node;
        Metric = metric;
        Siblings = siblings;
        Headroom = headroom;
    }

    /// <summary>Creates the exception.</summary>
    public BudgetClampException()
    {
        Node = Metric = "";
        Siblings = [];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public BudgetClampException(string message)
        : base(message)
    {
        Node = Metric = "";
        Siblings = [];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BudgetClampException(string message, Exception innerException)
        : base(message, innerException)
    {
        Node = Metric = "";
        Siblings = [];
    }

    /// <summary>The node that does not fit.</summary>
    public string Node { get; }

    /// <summary><c>usd</c> or <c>tokens</c>.</summary>
    public string Metric { get; }

    /// <summary>The siblings, each as <c>path (what it takes)</c>.</summary>
    public IReadOnlyList<string> Siblings { get; }

    /// <summary>What is left for the node (percent of the parent for percent caps, amount for amount caps).</summary>
    public decimal Headroom { get; }
}
