using System.Collections.Concurrent;
using System.Globalization;
using CageNet.Budgets.Subscription;

namespace CageNet.Budgets;

/// <summary>
/// Node paths: <c>/</c>-separated segments. A segment <c>{name}</c> is a template segment bound by the scope's
/// <c>name</c>: <c>user</c>, <c>agent</c>, <c>session</c>, <c>task</c>, or any other label (<c>{team}</c>).
/// </summary>
internal static class BudgetPath
{
    public const string User = "user", Agent = "agent", Session = "session", Task = "task";

    public static string Normalize(string path)
    {
        var segments = path.Trim().Trim('/').Split('/');
        if (segments.Any(s => s.Trim().Length == 0))
        {
            throw new BudgetConfigurationException($"Cage:Budgets: node path '{path}' has an empty segment");
        }

        return string.Join('/', segments.Select(s => s.Trim()));
    }

    /// <summary>
    /// The label a template segment binds (<c>user</c>, <c>agent</c>, <c>session</c>, <c>task</c> in lower case, any
    /// other name as written), <see langword="null"/> for a literal, or <c>""</c> for a malformed one.
    /// </summary>
    public static string? Variable(string segment)
    {
        if (segment.Length < 2 || segment[0] != '{' || segment[^1] != '}')
        {
            return segment.Contains('{', StringComparison.Ordinal) || segment.Contains('}', StringComparison.Ordinal) ? "" : null;
        }

        var name = segment[1..^1].Trim();
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            return "";
        }

        return name.ToLowerInvariant() switch
        {
            User => User,
            Agent => Agent,
            Session => Session,
            Task => Task,
            _ => name,
        };
    }

    /// <summary>Whether <paramref name="name"/> is one of the scope's own fields (not a free label).</summary>
    public static bool IsStandard(string name) => name is User or Agent or Session or Task;
}

/// <summary>
/// The key of one instance of a templated node: the scope's values for the template's variables, in path order (more
/// than four are joined into <see cref="V0"/>).
/// </summary>
internal readonly record struct InstanceKey(string? V0, string? V1, string? V2, string? V3);

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
    private readonly Dictionary<InstanceKey, EvictedSpend> _evicted = [];
    private readonly Lock _gate = new();
    private BudgetNode? _single;
    private int _tokenCapVersion = -1;
    private long[]? _thresholdValues;
    private int _thresholdVersion = -1;
    private long _tokenCap;

    public NodeTemplate(string path, NodeTemplate? parent, BudgetLabels labels)
    {
        Path = path;
        Parent = parent;
        Labels = labels;
        Segments = path.Split('/');
        SegmentVariables = [.. Segments.Select(BudgetPath.Variable)];
        InstanceVariables = [.. SegmentVariables.OfType<string>()];
        Depth = Segments.Length;
    }

    public string Path { get; }
    public NodeTemplate? Parent { get; }
    public BudgetLabels Labels { get; }
    public List<NodeTemplate> Children { get; } = [];
    public string[] Segments { get; }

    /// <summary>Per segment: the label a template segment binds, or <see langword="null"/> for a literal.</summary>
    public string?[] SegmentVariables { get; }

    /// <summary>The labels the template's own template segments bind, in path order (empty for a literal path).</summary>
    public string[] InstanceVariables { get; }

    /// <summary>
    /// For a path ending in a literal segment: the label whose value that literal is (<c>team</c> for <c>org/team-a</c>
    /// when <c>org/{team}</c> is a node or a route), so only calls with <c>team = team-a</c> charge it; <see langword="null"/>
    /// for a literal every call passes through (<c>org</c>, <c>users</c> in <c>users/{user}</c>).
    /// </summary>
    public string? RouteVariable { get; set; }

    public bool IsTemplated => InstanceVariables.Length > 0;
    public bool EndsInVariable => SegmentVariables[^1] is not null;
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

    /// <summary>The instance <paramref name="scope"/> binds, for reading (an instance evicted meanwhile still reads what it held).</summary>
    public BudgetNode Instance(BudgetGuard guard, in BudgetScope scope) => IsTemplated ? Instance(guard, Key(scope), pin: false, 0) : Single(guard);

    /// <summary>The instance <paramref name="scope"/> binds, pinned (<see cref="BudgetNode.TryPin"/>) for writing: unpin it when done.</summary>
    public BudgetNode Pinned(BudgetGuard guard, in BudgetScope scope, long nowTicks) => IsTemplated ? Instance(guard, Key(scope), pin: true, nowTicks) : Single(guard);

    private BudgetNode Single(BudgetGuard guard) =>
        _single ?? Interlocked.CompareExchange(ref _single, new BudgetNode(this, default, Path, guard), null) ?? _single;

    /// <summary>
    /// The instance for <paramref name="key"/>: found without a lock; created (from the spend its eviction left, if
    /// any) under the template's lock, which the sweeper also holds while it evicts, so an instance is never created
    /// twice nor from a record its eviction has not written yet.
    /// </summary>
    public BudgetNode Instance(BudgetGuard guard, in InstanceKey key, bool pin, long nowTicks)
    {
        if (_instances.TryGetValue(key, out var node) && (!pin || node.TryPin(nowTicks)))
        {
            return node;
        }

        lock (_gate)
        {
            // Under the lock a listed instance is not evicted (the sweeper evicts and unlists it under this lock).
            if (_instances.TryGetValue(key, out node))
            {
                if (pin && !node.TryPin(nowTicks))
                {
                    throw new InvalidOperationException($"budget node '{node.Path}' is evicted but still listed");
                }

                return node;
            }

            node = new BudgetNode(this, key, Concrete(key), guard, _evicted.Remove(key, out var evicted) ? evicted : null);
            if (pin) node.TryPin(nowTicks);
            _instances[key] = node;
            return node;
        }
    }

    /// <summary>
    /// Evicts the instances no one holds and no call touched since <paramref name="idleBeforeTicks"/>, keeping the
    /// spend of each one's current period in a compact record, and drops the records of periods that have ended.
    /// </summary>
    /// <returns>How many instances were evicted.</returns>
    public int Evict(long idleBeforeTicks, long nowTicks)
    {
        if (!IsTemplated)
        {
            return 0;
        }

        var evicted = 0;
        foreach (var (key, node) in _instances)
        {
            if (node.Pins != 0 || node.Touched >= idleBeforeTicks)
            {
                continue;
            }

            lock (_gate)
            {
                if (!node.TryEvict(idleBeforeTicks))
                {
                    continue;
                }

                var counter = node.Current;
                if ((counter.Rolling is { } rolling && rolling.NextExpiry is not null) || (counter.ResetAtTicks != 0 && counter.IsOpenAt(nowTicks)))
                {
                    node.Unevict(); // a rolling sum with spend in it keeps its minute buckets, and a reset period its reset: not compact
                    continue;
                }

                if (counter.Rolling is null && EvictedSpend.Of(counter, nowTicks) is { } spend)
                {
                    _evicted[key] = spend;
                }
                else
                {
                    _evicted.Remove(key);
                }

                _instances.TryRemove(new KeyValuePair<InstanceKey, BudgetNode>(key, node));
                evicted++;
            }
        }

        lock (_gate)
        {
            if (_evicted.Count > 0)
            {
                foreach (var (key, spend) in _evicted)
                {
                    if (spend.EndTicks <= nowTicks) _evicted.Remove(key);
                }

                if (_evicted.Count < _evicted.EnsureCapacity(0) * 3 / 4) _evicted.TrimExcess(); // the records are what memory is left: no slack
            }
        }

        return evicted;
    }

    /// <summary>
    /// Keeps the spend a rebuild read for an instance that is not in memory, as an eviction would: the instance is
    /// created with it when a call first needs it, so a start-up over many instances creates none of them.
    /// </summary>
    /// <param name="key">The instance.</param>
    /// <param name="spend">Its spend in the current period.</param>
    /// <param name="replace">Whether it replaces a record kept before (a row of an earlier period keeps only a zero one, if none).</param>
    /// <returns>Whether it was kept; <see langword="false"/> when the instance is already in memory (add to it instead).</returns>
    public bool KeepRebuilt(in InstanceKey key, in EvictedSpend spend, bool replace)
    {
        lock (_gate)
        {
            if (_instances.ContainsKey(key))
            {
                return false;
            }

            if (replace || !_evicted.ContainsKey(key)) _evicted[key] = spend;
            return true;
        }
    }

    /// <summary>Creates every instance whose spend is kept outside memory (for <c>cage budget</c>, which lists them all).</summary>
    public void CreateKept(BudgetGuard guard)
    {
        if (!IsTemplated)
        {
            return;
        }

        List<InstanceKey> keys;
        lock (_gate)
        {
            keys = [.. _evicted.Keys];
        }

        foreach (var key in keys)
        {
            Instance(guard, key, pin: false, 0);
        }
    }

    public IEnumerable<BudgetNode> Instances => _single is { } single ? [single] : _instances.Values;

    /// <summary>The number of instances in memory.</summary>
    public int InstanceCount => _single is null ? _instances.Count : 1;

    /// <summary>The number of evicted instances whose current period's spend is kept.</summary>
    public int EvictedCount
    {
        get
        {
            lock (_gate)
            {
                return _evicted.Count;
            }
        }
    }

    /// <summary>The scope's values for the template's variables.</summary>
    public InstanceKey Key(in BudgetScope scope)
    {
        var vars = InstanceVariables;
        switch (vars.Length)
        {
            case 0: return default;
            case 1: return new(Labels.Value(scope, vars[0]), null, null, null);
            case 2: return new(Labels.Value(scope, vars[0]), Labels.Value(scope, vars[1]), null, null);
            case 3: return new(Labels.Value(scope, vars[0]), Labels.Value(scope, vars[1]), Labels.Value(scope, vars[2]), null);
            case 4: return new(Labels.Value(scope, vars[0]), Labels.Value(scope, vars[1]), Labels.Value(scope, vars[2]), Labels.Value(scope, vars[3]));
            default:
                var values = new string?[vars.Length];
                for (var i = 0; i < vars.Length; i++) values[i] = Labels.Value(scope, vars[i]);
                return new(string.Join('\u0001', values), null, null, null);
        }
    }

    /// <summary>The values a key holds, in the order of <see cref="InstanceVariables"/>.</summary>
    public string?[] Values(in InstanceKey key) => InstanceVariables.Length switch
    {
        0 => [],
        1 => new[] { key.V0 },
        2 => new[] { key.V0, key.V1 },
        3 => new[] { key.V0, key.V1, key.V2 },
        4 => new[] { key.V0, key.V1, key.V2, key.V3 },
        _ => key.V0!.Split('\u0001'),
    };

    public string Concrete(in InstanceKey key)
    {
        if (!IsTemplated) return Path;
        var values = Values(key);
        var parts = new string[Segments.Length];
        for (int i = 0, v = 0; i < parts.Length; i++)
        {
            parts[i] = SegmentVariables[i] is not null ? values[v++] ?? Segments[i] : Segments[i];
        }

        return string.Join('/', parts);
    }

    /// <summary>The labels an instance binds (template segments and routed literals along its path), root first.</summary>
    public IReadOnlyDictionary<string, string> BoundLabels(string concretePath)
    {
        var found = new List<KeyValuePair<string, string>>();
        var concrete = concretePath.Split('/');
        var t = this;
        for (var i = Segments.Length - 1; i >= 0 && t is not null; i--, t = t.Parent)
        {
            if ((SegmentVariables[i] ?? t.RouteVariable) is { } name && i < concrete.Length)
            {
                found.Add(new(name, concrete[i]));
            }
        }

        found.Reverse();
        return new Dictionary<string, string>(found, StringComparer.Ordinal);
    }

    /// <summary>
    /// Matches a concrete path against this template: the scope that routes a call to it (its template segments, and
    /// the labels its routed literals stand for), or <see langword="null"/>.
    /// </summary>
    public BudgetScope? Match(string[] concrete)
    {
        if (concrete.Length != Segments.Length) return null;
        for (var i = 0; i < Segments.Length; i++)
        {
            if (SegmentVariables[i] is null && !string.Equals(Segments[i], concrete[i], StringComparison.Ordinal)) return null;
        }

        return BudgetLabels.Scope(BoundLabels(string.Join('/', concrete)));
    }

    /// <summary>
    /// Orders templates of one depth from the most specific: at the first segment where they differ, a literal comes
    /// before a template segment (<c>org/team-a/{agent}</c> before <c>org/{team}/agent-x</c> before <c>org/{team}/{agent}</c>).
    /// </summary>
    public static int Specificity(NodeTemplate a, NodeTemplate b)
    {
        for (var i = 0; i < Math.Min(a.Segments.Length, b.Segments.Length); i++)
        {
            var (va, vb) = (a.SegmentVariables[i] is null, b.SegmentVariables[i] is null);
            if (va != vb) return va ? -1 : 1;
        }

        return string.CompareOrdinal(a.Path, b.Path);
    }
}

/// <summary>The compiled tree: templates in parent-before-child order, caps converted, the clamp checked (SPEC 7.2, 7.3).</summary>
internal sealed class BudgetTree
{
    [ThreadStatic]
    private static List<NodeTemplate>? t_route;

    private readonly RouteNode _root;
    private readonly string[]? _maskVariables;
    private readonly NodeTemplate[]?[]? _byMask;

    private BudgetTree(List<NodeTemplate> templates, TimeZoneInfo zone, BudgetLabels labels)
    {
        Templates = templates;
        Zone = zone;
        Labels = labels;
        _root = RouteNode.Build([], templates.Where(t => t.Parent is null));
        if (!templates.Any(t => t.RouteVariable is not null))
        {
            // No routed literal: which nodes a call charges depends only on which labels it binds, so cache by that.
            var variables = templates.SelectMany(t => t.InstanceVariables).Distinct(StringComparer.Ordinal).ToArray();
            if (variables.Length <= 10)
            {
                _maskVariables = variables;
                _byMask = new NodeTemplate[]?[1 << variables.Length];
            }
        }
    }

    public IReadOnlyList<NodeTemplate> Templates { get; }
    public TimeZoneInfo Zone { get; }
    public BudgetLabels Labels { get; }

    /// <summary>
    /// The templates a call with <paramref name="scope"/> charges, parents first: from each root down through every
    /// literal it passes through and the child its labels select; where a label is missing the call stops (it is
    /// charged at the nearest node it reached). Each node once; every ancestor of a charged node is charged.
    /// </summary>
    public NodeTemplate[] Route(in BudgetScope scope)
    {
        if (_byMask is not null)
        {
            var mask = 0;
            for (var i = 0; i < _maskVariables!.Length; i++)
            {
                if (Labels.Value(scope, _maskVariables[i]) is not null) mask |= 1 << i;
            }

            return _byMask[mask] ?? (_byMask[mask] = Walk(scope));
        }

        return Walk(scope);
    }

    private NodeTemplate[] Walk(in BudgetScope scope)
    {
        var list = t_route ??= [];
        list.Clear();
        _root.Walk(Labels, scope, list);
        return [.. list];
    }

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

        var labels = new BudgetLabels(options);
        var byPath = new Dictionary<string, NodeTemplate>(StringComparer.Ordinal);
        var ordered = new List<NodeTemplate>();
        NodeTemplate Get(string path)
        {
            if (byPath.TryGetValue(path, out var existing)) return existing;
            var slash = path.LastIndexOf('/');
            var parent = slash > 0 ? Get(path[..slash]) : null;
            var template = new NodeTemplate(path, parent, labels) { OnExceed = options.OnExceed };
            if (template.SegmentVariables.Any(v => v is ""))
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Nodes:{path}: a template segment is {{name}}, a label name of letters, digits, '_', '-' or '.' ({{user}}, {{agent}}, {{session}}, {{task}}, or a label such as {{team}})");
            }

            if (template.InstanceVariables.GroupBy(v => v, StringComparer.Ordinal).Any(g => g.Count() > 1))
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

        AssignRoutes(ordered, options);
        return new BudgetTree([.. ordered.OrderBy(t => t.Depth).ThenBy(t => t.Path, StringComparer.Ordinal)], zone, labels);
    }

    /// <summary>
    /// Finds the label each literal segment stands for: <c>team</c> for <c>org/team-a</c> when a node or a route path
    /// has <c>{team}</c> at that position under the same ancestors (<c>org/{team}</c>, <c>org/{team}/{agent}/{session}</c>).
    /// Such a literal is charged only by calls whose label has that value; other literals by every call.
    /// </summary>
    private static void AssignRoutes(List<NodeTemplate> templates, BudgetOptions options)
    {
        var shapes = new List<(string Source, string?[] Variables, string[] Segments)>();
        foreach (var route in options.Routes)
        {
            string normalized;
            try
            {
                normalized = BudgetPath.Normalize(route);
            }
            catch (BudgetConfigurationException ex)
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Routes: '{route}': {ex.Message}", ex);
            }

            var segments = normalized.Split('/');
            var variables = segments.Select(BudgetPath.Variable).ToArray();
            if (variables.Any(v => v is ""))
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Routes: '{route}' has a template segment that is not {{name}} (a label name of letters, digits, '_', '-' or '.')");
            }

            if (variables.All(v => v is null))
            {
                throw new BudgetConfigurationException($"Cage:Budgets:Routes: '{route}' has no template segment: a route names the labels that pick literal nodes, as in org/{{team}}/{{agent}}");
            }

            shapes.Add(("route " + normalized, variables, segments));
        }

        shapes.AddRange(templates.Where(t => t.IsTemplated).Select(t => ("node " + t.Path, t.SegmentVariables, t.Segments)));
        foreach (var template in templates.Where(t => !t.EndsInVariable))
        {
            var position = template.Depth - 1;
            var found = shapes.Where(s => s.Segments.Length > position && s.Variables[position] is not null && Unifies(s.Variables, s.Segments, template, position))
                .GroupBy(s => s.Variables[position]!, StringComparer.Ordinal).ToList();
            if (found.Count > 1)
            {
                throw new BudgetConfigurationException(
                    $"Cage:Budgets:Nodes:{template.Path}: the segment '{template.Segments[^1]}' could be a value of " +
                    string.Join(" or ", found.Select(g => $"{{{g.Key}}} ({string.Join(", ", g.Select(s => s.Source))})")) +
                    ": one position under the same parent is picked by one label");
            }

            template.RouteVariable = found.Count == 1 ? found[0].Key : null;
        }
    }

    /// <summary>Whether a shape's first <paramref name="length"/> segments stand for the template's (a template segment matches a literal or the same template segment).</summary>
    private static bool Unifies(string?[] variables, string[] segments, NodeTemplate template, int length)
    {
        for (var i = 0; i < length; i++)
        {
            var matches = variables[i] is { } variable
                ? template.SegmentVariables[i] is null || string.Equals(template.SegmentVariables[i], variable, StringComparison.Ordinal)
                : template.SegmentVariables[i] is null && string.Equals(segments[i], template.Segments[i], StringComparison.Ordinal);
            if (!matches) return false;
        }

        return true;
    }

    /// <summary>A limit built in code (<see cref="BudgetLimit.Absolute"/>…) is checked here, so its error names the node like a configured one's.</summary>
    private static void CheckLimit(BudgetNodeOptions node, string metric, BudgetLimit limit)
    {
        var where = $"Cage:Budgets:Nodes:{node.Path}:{metric}";
        if (limit.Amount < 0)
        {
            throw new BudgetConfigurationException($"{where} must be ≥ 0 (got {Format(limit.Amount.Value)})");
        }

        if (limit.Pct < 0)
        {
            throw new BudgetConfigurationException($"{where}: Pct must be ≥ 0 (got {Format(limit.Pct.Value)})");
        }

        if (limit.IsPercentOfParent && limit.Pct > 100m)
        {
            throw new BudgetConfigurationException($"{where}: Pct {Format(limit.Pct!.Value)} of the parent is above 100");
        }
    }

    private static void ResolveUsd(NodeTemplate template, BudgetNodeOptions node)
    {
        if (node.Usd is not { } limit) return;
        CheckLimit(node, "Usd", limit);
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
        CheckLimit(node, "Tokens", limit);
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
