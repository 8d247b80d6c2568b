using System.Collections.Concurrent;
using System.Globalization;
using CageNet.Budgets.Subscription;

namespace CageNet.Budgets;

/// <summary>Node paths: <c>/</c>-separated segments; <c>{user}</c>, <c>{agent}</c>, <c>{session}</c>, <c>{task}</c> are template segments.</summary>
internal static class BudgetPath
{
    public const int User = 1, Agent = 2, Session = 4, Task = 8;

    public static string Normalize(string path)
    {
        var segments = path.Trim().Trim('/').Split('/');
        if (segments.Any(s => s.Trim().Length == 0))
        {
            throw new BudgetConfigurationException($"Cage:Budgets: node path '{path}' has an empty segment");
        }

        return string.Join('/', segments.Select(s => s.Trim()));
    }

    /// <summary>The template variable of a segment (0 for a literal), or -1 for an unknown <c>{name}</c>.</summary>
    public static int Variable(string segment)
    {
        if (segment.Length < 2 || segment[0] != '{' || segment[^1] != '}')
        {
            return segment.Contains('{', StringComparison.Ordinal) || segment.Contains('}', StringComparison.Ordinal) ? -1 : 0;
        }

        return segment[1..^1].Trim().ToLowerInvariant() switch
        {
            "user" => User,
            "agent" => Agent,
            "session" => Session,
            "task" => Task,
            _ => -1,
        };
    }

    public static string? Value(in BudgetScope scope, int variable) => variable switch
    {
        User => scope.User,
        Agent => scope.Agent,
        Session => scope.Session,
        Task => scope.Task,
        _ => null,
    };
}

/// <summary>The key of one instance of a templated node: the scope's values for the template's variables only.</summary>
internal readonly record struct InstanceKey(string? User, string? Agent, string? Session, string? Task)
{
    public static InstanceKey For(in BudgetScope scope, int mask) => new(
        (mask & BudgetPath.User) != 0 ? scope.User : null,
        (mask & BudgetPath.Agent) != 0 ? scope.Agent : null,
        (mask & BudgetPath.Session) != 0 ? scope.Session : null,
        (mask & BudgetPath.Task) != 0 ? scope.Task : null);
}

internal enum BudgetMetric
{
    Usd,
    Tokens,
}

/// <summary>A warn threshold: a fixed amount, or a percent of the node's cap.</summary>
internal sealed record BudgetThreshold(BudgetMetric Metric, string Key, long? Fixed, decimal? PctOfCap, int Bit);

/// <summary>A configured (or implied) node of the tree; templated ones have one <see cref="BudgetNode"/> per distinct value.</summary>
internal sealed class NodeTemplate
{
    private readonly ConcurrentDictionary<InstanceKey, BudgetNode> _instances = new();
    private BudgetNode? _single;
    private int _tokenCapVersion = -1;
    private long[]? _thresholdValues;
    private int _thresholdVersion = -1;
    private long _tokenCap;

    public NodeTemplate(string path, NodeTemplate? parent)
    {
        Path = path;
        Parent = parent;
        Segments = path.Split('/');
        Variables = [.. Segments.Select(BudgetPath.Variable)];
        Mask = Variables.Aggregate(0, (m, v) => m | v);
        Depth = Segments.Length;
    }

    public string Path { get; }
    public NodeTemplate? Parent { get; }
    public List<NodeTemplate> Children { get; } = [];
    public string[] Segments { get; }
    public int[] Variables { get; }
    public int Mask { get; }
    public int Depth { get; }
    public bool Configured { get; set; }
    public BudgetPeriod Period { get; set; }

    /// <summary>Whether neither the node nor its limits named a period (a subscription-percent cap then takes its window's).</summary>
    public bool PeriodDefaulted { get; set; }
    public BudgetExceedAction OnExceed { get; set; }
    public bool Blocks => OnExceed == BudgetExceedAction.Block;

    /// <summary>The dollar cap in 1e-10 USD, or <see langword="null"/>.</summary>
    public long? UsdCap { get; set; }

    /// <summary>The dollar percent of the parent, when the cap was given that way (for the clamp and for display).</summary>
    public decimal? UsdPctOfParent { get; set; }

    public long? StaticTokenCap { get; set; }
    public decimal? TokensPctOfParent { get; set; }

    /// <summary>A token cap that is a percent of a subscription window (already multiplied through percent-of-parent ancestors).</summary>
    public decimal? SubscriptionPct { get; set; }
    public string? SubscriptionClass { get; set; }
    public string? SubscriptionWindow { get; set; }
    public SubscriptionEstimator? Estimator { get; set; }
    public BudgetThreshold[] Thresholds { get; set; } = [];

    public bool HasTokenCap => StaticTokenCap is not null || SubscriptionPct is not null;

    /// <summary>The token cap now: fixed, or converted from subscription percent with the estimator's current tokens-per-percent.</summary>
    public long? TokenCap
    {
        get
        {
            if (StaticTokenCap is { } fixedCap) return fixedCap;
            if (SubscriptionPct is not { } pct || Estimator is null) return null;
            var version = Estimator.Version;
            if (Volatile.Read(ref _tokenCapVersion) != version)
            {
                var perPct = Estimator.TokensPerPercent(SubscriptionClass ?? Estimator.Options.DefaultClass, SubscriptionWindow ?? SubscriptionEstimator.FiveHourWindow);
                var tokens = Math.Floor((double)pct * perPct);
                Volatile.Write(ref _tokenCap, tokens >= BudgetLimits.MaxTokens ? BudgetLimits.MaxTokens : (long)tokens);
                Volatile.Write(ref _tokenCapVersion, version);
            }

            return Volatile.Read(ref _tokenCap);
        }
    }

    public long? Cap(BudgetMetric metric) => metric == BudgetMetric.Usd ? UsdCap : TokenCap;

    public long? ThresholdValue(BudgetThreshold threshold)
    {
        if (threshold.Fixed is { } value) return value;
        if (Cap(threshold.Metric) is not { } cap) return null;
        return (long)Math.Ceiling(cap * threshold.PctOfCap!.Value / 100m);
    }

    /// <summary>
    /// Every threshold's value (−1 for none), computed once and again only when a subscription-converted cap moves, so
    /// the settle path does no decimal arithmetic.
    /// </summary>
    public long[] ThresholdValues()
    {
        var version = SubscriptionPct is not null && Estimator is not null ? Estimator.Version : 0;
        var cached = Volatile.Read(ref _thresholdValues);
        if (cached is not null && Volatile.Read(ref _thresholdVersion) == version)
        {
            return cached;
        }

        var values = new long[Thresholds.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = ThresholdValue(Thresholds[i]) ?? -1;
        }

        Volatile.Write(ref _thresholdValues, values);
        Volatile.Write(ref _thresholdVersion, version);
        return values;
    }

    public BudgetNode Instance(BudgetGuard guard, in BudgetScope scope)
    {
        if (Mask == 0)
        {
            return _single ?? Interlocked.CompareExchange(ref _single, new BudgetNode(this, Path, guard), null) ?? _single;
        }

        var key = InstanceKey.For(scope, Mask);
        if (_instances.TryGetValue(key, out var node))
        {
            return node;
        }

        return _instances.GetOrAdd(key, static (k, state) => new BudgetNode(state.Template, state.Template.Concrete(k), state.Guard), (Template: this, Guard: guard));
    }

    public IEnumerable<BudgetNode> Instances => _single is { } single ? [single] : _instances.Values;

    public string Concrete(in InstanceKey key)
    {
        if (Mask == 0) return Path;
        var scope = new BudgetScope(key.User, key.Agent, key.Session, key.Task);
        var parts = new string[Segments.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = Variables[i] > 0 ? BudgetPath.Value(scope, Variables[i]) ?? Segments[i] : Segments[i];
        }

        return string.Join('/', parts);
    }

    /// <summary>Matches a concrete path against this template: the variables it binds, or <see langword="null"/>.</summary>
    public BudgetScope? Match(string[] concrete)
    {
        if (concrete.Length != Segments.Length) return null;
        string? user = null, agent = null, session = null, task = null;
        for (var i = 0; i < Segments.Length; i++)
        {
            switch (Variables[i])
            {
                case 0 when !string.Equals(Segments[i], concrete[i], StringComparison.Ordinal): return null;
                case BudgetPath.User: user = concrete[i]; break;
                case BudgetPath.Agent: agent = concrete[i]; break;
                case BudgetPath.Session: session = concrete[i]; break;
                case BudgetPath.Task: task = concrete[i]; break;
            }
        }

        return new BudgetScope(user, agent, session, task);
    }
}

/// <summary>The compiled tree: templates in parent-before-child order, caps converted, the clamp checked (SPEC 7.2, 7.3).</summary>
internal sealed class BudgetTree
{
    private readonly NodeTemplate[][] _byMask = new NodeTemplate[16][];

    private BudgetTree(List<NodeTemplate> templates, TimeZoneInfo zone)
    {
        Templates = templates;
        Zone = zone;
        for (var mask = 0; mask < 16; mask++)
        {
            _byMask[mask] = [.. templates.Where(t => (t.Mask & ~mask) == 0)];
        }
    }

    public IReadOnlyList<NodeTemplate> Templates { get; }
    public TimeZoneInfo Zone { get; }

    /// <summary>The templates a scope with these variables charges (every ancestor of a charged node is charged too).</summary>
    public NodeTemplate[] ForMask(int mask) => _byMask[mask];

    public static BudgetTree Compile(BudgetOptions options, SubscriptionEstimator? estimator)
    {
        ArgumentNullException.ThrowIfNull(options);
        var zone = BudgetPeriods.Zone(options.TimeZone);
        if (options.LeaseDuration <= TimeSpan.Zero)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:LeaseDuration must be positive (got {options.LeaseDuration})");
        }

        if (options.FallbackUsdPerMillionTokens is { } fallback && (fallback < 0 || fallback > 1_000_000m))
        {
            throw new BudgetConfigurationException($"Cage:Budgets:FallbackUsdPerMillionTokens must be in [0, 1000000] dollars per million tokens (got {Format(fallback)})");
        }

        var byPath = new Dictionary<string, NodeTemplate>(StringComparer.Ordinal);
        var ordered = new List<NodeTemplate>();
        NodeTemplate Get(string path)
        {
            if (byPath.TryGetValue(path, out var existing)) return existing;
            var slash = path.LastIndexOf('/');
            var parent = slash > 0 ? Get(path[..slash]) : null;
            var template = new NodeTemplate(path, parent) { OnExceed = options.OnExceed };
            if (template.Variables.Any(v => v < 0))
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{path}: a template segment must be {{user}}, {{agent}}, {{session}} or {{task}}");
            }

            if (template.Variables.Where(v => v > 0).GroupBy(v => v).Any(g => g.Count() > 1))
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{path}: a template variable appears twice");
            }

            parent?.Children.Add(template);
            byPath[path] = template;
            ordered.Add(template);
            return template;
        }

        foreach (var node in options.Nodes.Values.OrderBy(n => n.Path, StringComparer.Ordinal))
        {
            var template = Get(node.Path);
            template.Configured = true;
            template.OnExceed = node.OnExceed ?? options.OnExceed;
            var period = node.Period;
            foreach (var limit in new[] { node.Usd, node.Tokens })
            {
                if (limit?.Period is { } limitPeriod)
                {
                    if (period is { } explicitPeriod && explicitPeriod != limitPeriod)
                    {
                        throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}: the limit's period '{BudgetPeriods.Name(limitPeriod)}' contradicts the node's period '{BudgetPeriods.Name(explicitPeriod)}'");
                    }

                    period = limitPeriod;
                }
            }

            template.Period = period ?? BudgetPeriod.Lifetime;
            template.PeriodDefaulted = period is null;
        }

        // Parents before children: resolve caps top-down, then check each family.
        foreach (var template in ordered.OrderBy(t => t.Depth).ThenBy(t => t.Path, StringComparer.Ordinal))
        {
            if (!options.Nodes.TryGetValue(template.Path, out var node)) continue;
            ResolveUsd(template, node);
            ResolveTokens(template, node, estimator);
            if (template.PeriodDefaulted && template.SubscriptionWindow is { } window)
            {
                // A percent of a subscription window resets with that window: 5h → a 5-hour window, 7d → the week.
                template.Period = window == SubscriptionEstimator.WeeklyWindow ? BudgetPeriod.Week : BudgetPeriod.FiveHours;
            }

            template.Estimator = estimator;
            template.Thresholds = Thresholds(template, node);
        }

        foreach (var parent in ordered)
        {
            Clamp(parent, BudgetMetric.Usd);
            Clamp(parent, BudgetMetric.Tokens);
        }

        return new BudgetTree([.. ordered.OrderBy(t => t.Depth).ThenBy(t => t.Path, StringComparer.Ordinal)], zone);
    }

    private static void ResolveUsd(NodeTemplate template, BudgetNodeOptions node)
    {
        if (node.Usd is not { } limit) return;
        if (limit.IsPercentOfSubscription)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Usd: a subscription percent caps tokens, not dollars (use Tokens)");
        }

        if (limit.IsPercentOfParent)
        {
            var parent = template.Parent;
            if (parent?.UsdCap is not { } parentCap)
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Usd is {Format(limit.Pct!.Value)}% of its parent, but {(parent is null ? "it has no parent" : $"the parent '{parent.Path}' has no Usd cap")}");
            }

            template.UsdPctOfParent = limit.Pct;
            template.UsdCap = (long)decimal.Round(parentCap * limit.Pct!.Value / 100m, MidpointRounding.ToZero);
            return;
        }

        if (limit.Pct is not null || limit.Amount is not { } amount)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Usd: 'Of' must be 'parent' for a dollar percent");
        }

        template.UsdCap = BudgetMoney.ToUnits(BudgetLimits.CheckUsd(amount, $"Cage:Budgets:Nodes:{node.Path}:Usd"));
    }

    private static void ResolveTokens(NodeTemplate template, BudgetNodeOptions node, SubscriptionEstimator? estimator)
    {
        if (node.Tokens is not { } limit) return;
        if (limit.IsPercentOfParent)
        {
            var parent = template.Parent;
            if (parent is null || !parent.HasTokenCap)
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Tokens is {Format(limit.Pct!.Value)}% of its parent, but {(parent is null ? "it has no parent" : $"the parent '{parent.Path}' has no Tokens cap")}");
            }

            template.TokensPctOfParent = limit.Pct;
            if (parent.StaticTokenCap is { } parentCap)
            {
                template.StaticTokenCap = (long)Math.Floor(parentCap * limit.Pct!.Value / 100m);
            }
            else
            {
                template.SubscriptionPct = parent.SubscriptionPct * limit.Pct / 100m;
                template.SubscriptionClass = parent.SubscriptionClass;
                template.SubscriptionWindow = parent.SubscriptionWindow;
            }

            return;
        }

        if (limit.IsPercentOfSubscription)
        {
            if (estimator is null)
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Tokens is a percent of a subscription window, but no estimator was given");
            }

            if (limit.Pct > BudgetLimits.MaxPct)
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Tokens:Pct {Format(limit.Pct.Value)} is above {Format(BudgetLimits.MaxPct)}% of the window");
            }

            template.SubscriptionPct = limit.Pct;
            template.SubscriptionClass = limit.ModelClass;
            template.SubscriptionWindow = SubscriptionEstimator.KnownWindow(limit.Window)
                ?? throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Tokens:Of '{limit.Of}' is not a subscription window (subscription_5h or subscription_7d)");
            return;
        }

        if (limit.Amount is not { } amount || amount != decimal.Truncate(amount))
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:Tokens must be a whole number of tokens (got {limit})");
        }

        template.StaticTokenCap = (long)BudgetLimits.CheckTokens(amount, $"Cage:Budgets:Nodes:{node.Path}:Tokens");
    }

    private static BudgetThreshold[] Thresholds(NodeTemplate template, BudgetNodeOptions node)
    {
        var list = new List<BudgetThreshold>();
        if (node.WarnAtUsd is { } usd)
        {
            if (usd < 0) throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:WarnAtUsd must be ≥ 0 (got {usd})");
            list.Add(new BudgetThreshold(BudgetMetric.Usd, "usd:" + Format(usd), BudgetMoney.ToUnits(BudgetLimits.CheckUsd(usd, $"Cage:Budgets:Nodes:{node.Path}:WarnAtUsd")), null, 0));
        }

        if (node.WarnAtTokens is { } tokens)
        {
            if (tokens < 0) throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:WarnAtTokens must be ≥ 0 (got {tokens})");
            BudgetLimits.CheckTokens(tokens, $"Cage:Budgets:Nodes:{node.Path}:WarnAtTokens");
            list.Add(new BudgetThreshold(BudgetMetric.Tokens, "tokens:" + tokens.ToString(CultureInfo.InvariantCulture), tokens, null, 0));
        }

        var percents = node.WarnAtPct.Distinct().Order().ToList();
        if (percents.Any(p => p <= 0))
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:WarnAtPct values must be > 0");
        }

        if (percents.FirstOrDefault(p => p > BudgetLimits.MaxPct) is var tooBig && tooBig > 0)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}:WarnAtPct {Format(tooBig)} is above {Format(BudgetLimits.MaxPct)}%");
        }

        if (!percents.Contains(100m)) percents.Add(100m); // crossing a cap always warns once
        foreach (var metric in new[] { BudgetMetric.Usd, BudgetMetric.Tokens })
        {
            var capped = metric == BudgetMetric.Usd ? template.UsdCap is not null : template.HasTokenCap;
            if (!capped) continue;
            foreach (var pct in percents)
            {
                list.Add(new BudgetThreshold(metric, $"{(metric == BudgetMetric.Usd ? "usd" : "tokens")}:{Format(pct)}%", null, pct, 0));
            }
        }

        if (list.Count > 32)
        {
            throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{node.Path}: at most 32 warn thresholds (got {list.Count})");
        }

        return [.. list.Select((t, i) => t with { Bit = 1 << i })];
    }

    private static void Clamp(NodeTemplate parent, BudgetMetric metric)
    {
        var name = metric == BudgetMetric.Usd ? "usd" : "tokens";
        var children = parent.Children.Where(c => c.Configured).OrderBy(c => c.Path, StringComparer.Ordinal).ToList();
        decimal? Pct(NodeTemplate t) => metric == BudgetMetric.Usd ? t.UsdPctOfParent : t.TokensPctOfParent;

        // Percent children: each must fit in 100 − Σ the percents of the siblings before it.
        var taken = new List<(string Path, decimal Pct)>();
        foreach (var child in children)
        {
            if (Pct(child) is not { } pct) continue;
            var used = taken.Sum(t => t.Pct);
            if (pct > 100m - used)
            {
                var siblings = taken.Select(t => $"{t.Path} ({Format(t.Pct)}%)").ToList();
                var headroom = 100m - used;
                throw new BudgetClampException(child.Path, name, siblings, headroom,
                    $"Cage:Budgets:Nodes:{child.Path}:{(metric == BudgetMetric.Usd ? "Usd" : "Tokens")} is {Format(pct)}% of '{parent.Path}', but its siblings " +
                    $"{(siblings.Count == 0 ? "(none)" : string.Join(", ", siblings))} already take {Format(used)}%: the headroom is {Format(headroom)}%" +
                    HeadroomAmount(parent, metric, headroom));
            }

            taken.Add((child.Path, pct));
        }

        // Amount children: each at most the parent's cap.
        var parentCap = metric == BudgetMetric.Usd ? parent.UsdCap : parent.StaticTokenCap;
        if (parentCap is not { } cap) return;
        foreach (var child in children)
        {
            if (Pct(child) is not null) continue;
            var childCap = metric == BudgetMetric.Usd ? child.UsdCap : child.StaticTokenCap;
            if (childCap is { } value && value > cap)
            {
                var siblings = children.Where(c => c != child).Select(c => $"{c.Path} ({Describe(c, metric)})").ToList();
                var headroom = metric == BudgetMetric.Usd ? BudgetMoney.FromUnits(cap) : cap;
                throw new BudgetClampException(child.Path, name, siblings, headroom,
                    $"Cage:Budgets:Nodes:{child.Path}:{(metric == BudgetMetric.Usd ? "Usd" : "Tokens")} {Amount(metric, value)} exceeds the cap of its parent '{parent.Path}' " +
                    $"({Amount(metric, cap)}); siblings: {(siblings.Count == 0 ? "(none)" : string.Join(", ", siblings))}; the headroom is {Amount(metric, cap)}");
            }
        }
    }

    private static string HeadroomAmount(NodeTemplate parent, BudgetMetric metric, decimal headroomPct)
    {
        var cap = metric == BudgetMetric.Usd ? parent.UsdCap : parent.StaticTokenCap;
        return cap is { } c ? $" ({Amount(metric, (long)(c * headroomPct / 100m))} of {Amount(metric, c)})" : "";
    }

    private static string Describe(NodeTemplate t, BudgetMetric metric) =>
        (metric == BudgetMetric.Usd ? t.UsdCap : t.StaticTokenCap) is { } v ? Amount(metric, v) : "no cap";

    internal static string Amount(BudgetMetric metric, long value) =>
        metric == BudgetMetric.Usd ? BudgetMoney.Format(BudgetMoney.FromUnits(value)) : value.ToString("N0", CultureInfo.InvariantCulture) + " tokens";

    internal static string Format(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The ranges budget amounts must fit: configured caps and thresholds above them are a configuration error naming the
/// setting; runtime estimates and costs above them are clamped to them (a block node then refuses with a normal message).
/// </summary>
internal static class BudgetLimits
{
    /// <summary>The largest dollar amount: $100,000,000 (1e18 units of 1e-10 USD, far from <see cref="long.MaxValue"/>).</summary>
    public const decimal MaxUsd = 100_000_000m;

    /// <summary>The largest token amount: 10^15.</summary>
    public const long MaxTokens = 1_000_000_000_000_000;

    /// <summary>The largest percent (of a subscription window, or a warn threshold of a cap).</summary>
    public const decimal MaxPct = 10_000m;

    public static decimal CheckUsd(decimal usd, string setting) => usd <= MaxUsd ? usd
        : throw new BudgetConfigurationException($"{setting} {BudgetTree.Format(usd)} is above the largest supported amount (${MaxUsd.ToString("N0", CultureInfo.InvariantCulture)})");

    public static decimal CheckTokens(decimal tokens, string setting) => tokens <= MaxTokens ? tokens
        : throw new BudgetConfigurationException($"{setting} {BudgetTree.Format(tokens)} is above the largest supported token count ({MaxTokens.ToString("N0", CultureInfo.InvariantCulture)})");

    public static long ClampTokens(long tokens) => tokens > MaxTokens ? MaxTokens : tokens;
}

/// <summary>Dollars on the hot path: integers of 1e-10 USD (exact for every catalog price, like the ledger's cost_e10).</summary>
internal static class BudgetMoney
{
    public const decimal UnitsPerUsd = 10_000_000_000m;

    /// <summary>
    /// Dollars to units; finer than 1e-10 USD is truncated (catalog costs are exact at this scale). Amounts above
    /// <see cref="BudgetLimits.MaxUsd"/> saturate there (configured ones are rejected before they get here).
    /// </summary>
    public static long ToUnits(decimal usd) => usd == 0m ? 0 : usd >= BudgetLimits.MaxUsd ? (long)(BudgetLimits.MaxUsd * UnitsPerUsd) : (long)(usd * UnitsPerUsd);

    public static decimal FromUnits(long units) => units / UnitsPerUsd;

    /// <summary>Six decimals, as warnings and session summaries show money (sub-cent costs stay visible).</summary>
    public static string Format(decimal usd) => "$" + usd.ToString("0.000000", CultureInfo.InvariantCulture);
}
