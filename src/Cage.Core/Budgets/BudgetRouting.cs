namespace CageNet.Budgets;

/// <summary>
/// Where a template segment's value comes from: the scope's user / agent / session / task, a label on the scope
/// (<see cref="BudgetScope.Labels"/>: a metering scope's <c>Tag</c>, <c>cage.*</c> chat options, <c>X-Cage-*</c>
/// headers), or a configured mapping from another label (<see cref="BudgetOptions.MapLabel"/>). A label on the scope
/// wins over a mapping.
/// </summary>
internal sealed class BudgetLabels
{
    private readonly Dictionary<string, (string From, Dictionary<string, string> Values)> _maps;

    public BudgetLabels(BudgetOptions options)
    {
        _maps = new(StringComparer.Ordinal);
        foreach (var (label, map) in options.LabelMaps)
        {
            var name = label.Trim();
            var where = $"Cage:Budgets:Labels:{name}";
            if (BudgetPath.Variable("{" + name + "}") is not { Length: > 0 } checkedName)
            {
                throw new BudgetConfigurationException($"{where}: '{name}' is not a label name (letters, digits, '_', '-', '.')");
            }

            if (BudgetPath.IsStandard(checkedName))
            {
                throw new BudgetConfigurationException($"{where}: {checkedName} comes from the scope itself and cannot be mapped (map a free label such as team)");
            }

            if (BudgetPath.Variable("{" + map.From.Trim() + "}") is not { Length: > 0 } from)
            {
                throw new BudgetConfigurationException($"{where}:From '{map.From}' is not a label name");
            }

            if (map.Values.Count == 0)
            {
                throw new BudgetConfigurationException($"{where}:Values is empty: map at least one {from} to a {checkedName}");
            }

            _maps[checkedName] = (from, new Dictionary<string, string>(map.Values, StringComparer.Ordinal));
        }

        foreach (var name in _maps.Keys)
        {
            var seen = new List<string> { name };
            for (var from = _maps[name].From; _maps.TryGetValue(from, out var next); from = next.From)
            {
                if (seen.Contains(from))
                {
                    throw new BudgetConfigurationException($"Cage:Budgets:Labels:{name}: the mappings form a cycle ({string.Join(" ← ", seen)} ← {from})");
                }

                seen.Add(from);
            }
        }
    }

    /// <summary>The scope's value for <paramref name="name"/>, or <see langword="null"/> when it has none (empty counts as none).</summary>
    public string? Value(in BudgetScope scope, string name)
    {
        var value = (object)name == BudgetPath.User ? scope.User
            : (object)name == BudgetPath.Agent ? scope.Agent
            : (object)name == BudgetPath.Session ? scope.Session
            : (object)name == BudgetPath.Task ? scope.Task
            : scope.Labels is { } labels && labels.TryGetValue(name, out var label) ? label
            : null;
        if (!string.IsNullOrEmpty(value))
        {
            return value;
        }

        return _maps.Count > 0 && _maps.TryGetValue(name, out var map) && Value(scope, map.From) is { } source && map.Values.TryGetValue(source, out var mapped) && mapped.Length > 0
            ? mapped
            : null;
    }

    /// <summary>A scope holding exactly these labels (the standard ones in their fields).</summary>
    public static BudgetScope Scope(IReadOnlyDictionary<string, string> labels)
    {
        labels.TryGetValue(BudgetPath.User, out var user);
        labels.TryGetValue(BudgetPath.Agent, out var agent);
        labels.TryGetValue(BudgetPath.Session, out var session);
        labels.TryGetValue(BudgetPath.Task, out var task);
        var free = labels.Where(l => !BudgetPath.IsStandard(l.Key)).ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal);
        return new BudgetScope(user, agent, session, task) { Labels = free.Count == 0 ? null : free };
    }
}

/// <summary>
/// One concrete position of the tree a call can reach, compiled from the templates that stand for it: the governing
/// template (the most specific configured one: <c>org/team-a</c> over <c>org/{team}</c>) and the ways down from it.
/// </summary>
internal sealed class RouteNode
{
    public NodeTemplate? Template { get; init; }

    /// <summary>Literal children every call passes through (<c>users</c> of <c>org/users/{user}</c>).</summary>
    public RouteNode[] Fixed { get; init; } = [];

    /// <summary>Children picked by a label's value.</summary>
    public RouteEdge[] Edges { get; init; } = [];

    /// <summary>Builds the position of <paramref name="frontier"/> (templates of one concrete path; empty for the root).</summary>
    public static RouteNode Build(IReadOnlyList<NodeTemplate> frontier, IEnumerable<NodeTemplate> children)
    {
        var governing = frontier.Count == 0 ? null : frontier.OrderBy(t => t.Configured ? 0 : 1).ThenBy(t => t, Comparer<NodeTemplate>.Create(NodeTemplate.Specificity)).First();
        var kids = children.Distinct().ToList();
        var fixedKids = kids.Where(k => !k.EndsInVariable && k.RouteVariable is null)
            .GroupBy(k => k.Segments[^1], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Build([.. g]))
            .ToArray();
        var variables = kids.Where(k => k.EndsInVariable).Select(k => k.SegmentVariables[^1]!)
            .Concat(kids.Where(k => k.RouteVariable is not null).Select(k => k.RouteVariable!))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var edges = new List<RouteEdge>();
        foreach (var variable in variables)
        {
            var bound = kids.Where(k => k.EndsInVariable && k.SegmentVariables[^1] == variable).ToList();
            var values = kids.Where(k => k.RouteVariable == variable).GroupBy(k => k.Segments[^1], StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => Build([.. g, .. bound]), StringComparer.Ordinal);
            edges.Add(new RouteEdge(variable, values.Count == 0 ? null : values, bound.Count == 0 ? null : Build(bound)));
        }

        return new RouteNode { Template = governing, Fixed = fixedKids, Edges = [.. edges] };
    }

    private static RouteNode Build(List<NodeTemplate> frontier) => Build(frontier, frontier.SelectMany(t => t.Children));

    /// <summary>Adds, parents first, the templates a call with <paramref name="scope"/> charges from here down.</summary>
    public void Walk(BudgetLabels labels, in BudgetScope scope, List<NodeTemplate> into)
    {
        if (Template is { } template)
        {
            into.Add(template);
        }

        foreach (var child in Fixed)
        {
            child.Walk(labels, scope, into);
        }

        foreach (var edge in Edges)
        {
            if (labels.Value(scope, edge.Variable) is not { } value)
            {
                continue; // unbound: the call stops at the nearest ancestor it reached
            }

            if (edge.Values is not null && edge.Values.TryGetValue(value, out var literal))
            {
                literal.Walk(labels, scope, into);
            }
            else
            {
                edge.Other?.Walk(labels, scope, into);
            }
        }
    }
}

/// <summary>A way down picked by <see cref="Variable"/>: a literal child per known value, else the template child.</summary>
internal sealed record RouteEdge(string Variable, Dictionary<string, RouteNode>? Values, RouteNode? Other);
