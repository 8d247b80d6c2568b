using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace CageNet.Budgets;

/// <summary>
/// Reads the <c>Cage:Budgets</c> configuration section. Keys are case-insensitive and may be written in snake_case
/// (<c>on_exceed</c>, <c>warn_at_pct</c>). A value that does not fit is an error naming its configuration path.
/// </summary>
/// <example>
/// <code>
/// "Budgets": {
///   "TimeZone": "Europe/Paris",
///   "OnExceed": "block",
///   "Nodes": {
///     "org":               { "Usd": 100, "Period": "month" },
///     "org/team-a":        { "Usd": { "Pct": 30, "Of": "parent" }, "WarnAtPct": [ 50, 80 ] },
///     "org/users/{user}":  { "Usd": 1, "Period": "day", "WarnAtUsd": 0.5 },
///     "seat":              { "Tokens": { "Pct": 80, "Of": "subscription_5h", "Period": "week" } }
///   }
/// }
/// </code>
/// </example>
public static class BudgetConfiguration
{
    /// <summary>The section's path under the root: <c>Cage:Budgets</c>.</summary>
    public const string SectionPath = "Cage:Budgets";

    /// <summary>Reads a <c>Budgets</c> section into new options.</summary>
    /// <param name="section">The section (for example <c>configuration.GetSection("Cage:Budgets")</c>).</param>
    /// <returns>The options.</returns>
    /// <exception cref="BudgetConfigurationException">A value does not fit (the message names its path).</exception>
    public static BudgetOptions Read(IConfiguration section)
    {
        var options = new BudgetOptions();
        Bind(section, options);
        return options;
    }

    /// <summary>Reads a <c>Budgets</c> section into existing options (nodes are added or updated).</summary>
    /// <param name="section">The section.</param>
    /// <param name="options">The options to fill.</param>
    /// <exception cref="BudgetConfigurationException">A value does not fit (the message names its path).</exception>
    public static void Bind(IConfiguration section, BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        foreach (var child in section.GetChildren())
        {
            switch (Key(child.Key))
            {
                case "timezone": options.TimeZone = child.Value; break;
                case "onexceed": options.OnExceed = Action(child); break;
                case "leaseduration": options.LeaseDuration = Duration(child); break;
                case "leaseseconds":
                    var seconds = Number(child);
                    options.LeaseDuration = seconds is > 0 and <= 31_536_000 ? TimeSpan.FromSeconds((double)seconds) : throw Error(child, $"'{child.Value}' is not a number of seconds in (0, 31536000]");
                    break;
                case "evictidleafter": options.EvictIdleAfter = Duration(child); break;
                case "failclosed": options.FailClosed = Bool(child); break;
                case "fallbackusdpermilliontokens": options.FallbackUsdPerMillionTokens = Number(child); break;
                case "nodes": ReadNodes(child, options); break;
                case "subscription": ReadSubscription(child, options.Subscription); break;
                case "routes":
                    foreach (var route in child.Value is { } single ? [single] : child.GetChildren().Select(c => c.Value ?? throw Error(c, "is not a route path (a string such as \"org/{team}/{agent}\")")))
                    {
                        options.Routes.Add(route);
                    }

                    break;
                case "labels": ReadLabels(child, options); break;

                // The flat form of earlier policy files and the reference tool ("Session": { "Usd": 2 }, "Day": { "Usd": 25 }):
                // the same caps as the nodes cage init writes now.
                case "session": ReadNodeSettings(child, NodeAt(child, options, "session/{session}")); break;
                case "day": ReadNodeSettings(child, NodeAt(child, options, "day", BudgetPeriod.Day)); break;
                case "week": ReadNodeSettings(child, NodeAt(child, options, "week", BudgetPeriod.Week)); break;
                case "month": ReadNodeSettings(child, NodeAt(child, options, "month", BudgetPeriod.Month)); break;
                default: throw Error(child, "is not a budget setting (TimeZone, OnExceed, LeaseDuration, EvictIdleAfter, FailClosed, FallbackUsdPerMillionTokens, Nodes, Routes, Labels, Subscription; or the flat Session, Day, Week, Month)");
            }
        }
    }

    private static void ReadNodes(IConfigurationSection nodes, BudgetOptions options)
    {
        foreach (var entry in nodes.GetChildren())
        {
            // Either "Nodes": { "org/a": {...} } or "Nodes": [ { "Path": "org/a", ... } ].
            var pathValue = entry.GetChildren().FirstOrDefault(c => Key(c.Key) == "path")?.Value;
            var path = pathValue ?? entry.Key;
            if (string.IsNullOrWhiteSpace(path) || (pathValue is null && int.TryParse(entry.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                throw Error(entry, "needs a Path");
            }

            ReadNodeSettings(entry, NodeAt(entry, options, path));
        }
    }

    /// <summary><c>"Labels": { "team": { "From": "agent", "Values": { "agent-x": "team-a" } } }</c>.</summary>
    private static void ReadLabels(IConfigurationSection labels, BudgetOptions options)
    {
        foreach (var label in labels.GetChildren())
        {
            string? from = null;
            var values = new List<KeyValuePair<string, string>>();
            foreach (var setting in label.GetChildren())
            {
                switch (Key(setting.Key))
                {
                    case "from": from = setting.Value; break;
                    case "values" or "map":
                        foreach (var value in setting.GetChildren())
                        {
                            values.Add(new(value.Key, value.Value ?? throw Error(value, "is not a label value (a string)")));
                        }

                        break;
                    default: throw Error(setting, "is not a label setting (From, Values)");
                }
            }

            if (string.IsNullOrWhiteSpace(from)) throw Error(label, "needs From: the label it is derived from (for example \"agent\")");
            if (values.Count == 0) throw Error(label, "needs Values: each value of its From label and the value it gives");
            options.MapLabel(label.Key, from, values);
        }
    }

    private static BudgetNodeOptions NodeAt(IConfigurationSection entry, BudgetOptions options, string path, BudgetPeriod? period = null)
    {
        try
        {
            var node = options.Node(path);
            if (period is { } p)
            {
                node.Period = p;
            }

            return node;
        }
        catch (BudgetConfigurationException ex)
        {
            throw new BudgetConfigurationException($"{entry.Path}: {ex.Message}", ex);
        }
    }

    private static void ReadNodeSettings(IConfigurationSection entry, BudgetNodeOptions node)
    {
        foreach (var setting in entry.GetChildren())
        {
            switch (Key(setting.Key))
            {
                case "path": break;
                case "period": node.Period = Period(setting); break;
                case "onexceed": node.OnExceed = Action(setting); break;
                case "usd": node.Usd = Limit(setting); break;
                case "tokens": node.Tokens = Limit(setting); break;
                case "warnatusd": node.WarnAtUsd = Number(setting); break;
                case "warnattokens": node.WarnAtTokens = (long)Whole(setting); break;
                case "warnatpct":
                    node.WarnAtPct.Clear();
                    foreach (var pct in Numbers(setting)) node.WarnAtPct.Add(pct);
                    break;
                default: throw Error(setting, "is not a node setting (Period, OnExceed, Usd, Tokens, WarnAtUsd, WarnAtTokens, WarnAtPct)");
            }
        }
    }

    private static BudgetLimit Limit(IConfigurationSection section)
    {
        if (section.Value is { } scalar)
        {
            return BudgetLimit.Absolute(ParseNumber(section, scalar, nonNegative: true));
        }

        decimal? amount = null, pct = null;
        string? of = null, modelClass = null;
        BudgetPeriod? period = null;
        foreach (var child in section.GetChildren())
        {
            switch (Key(child.Key))
            {
                case "limit" or "amount": amount = Number(child); break;
                case "pct" or "percent": pct = Number(child); break;
                case "of": of = child.Value?.Trim(); break;
                case "period": period = Period(child); break;
                case "class" or "modelclass": modelClass = child.Value?.Trim(); break;
                default: throw Error(child, "is not a limit field (Limit, Pct, Of, Period, Class)");
            }
        }

        if (amount is not null && pct is not null) throw Error(section, "has both Limit and Pct");
        if (amount is { } a) return BudgetLimit.Absolute(a);
        if (pct is not { } p) throw Error(section, "needs a number, { \"Limit\": N } or { \"Pct\": N, \"Of\": \"parent\" | \"subscription_5h\" }");
        if (string.IsNullOrEmpty(of)) throw Error(section, "has Pct but no Of (parent, subscription_5h or subscription_7d)");
        if (string.Equals(of, BudgetLimit.OfParent, StringComparison.OrdinalIgnoreCase))
        {
            if (p > 100) throw Error(section, $"Pct {p} of the parent is above 100");
            return BudgetLimit.PercentOfParent(p);
        }

        if (!of.StartsWith("subscription_", StringComparison.OrdinalIgnoreCase) || Subscription.SubscriptionEstimator.KnownWindow(of) is null)
        {
            throw Error(section, $"Of '{of}' is not 'parent' or a subscription window (subscription_5h, subscription_7d)");
        }

        return BudgetLimit.PercentOfSubscription(p, of["subscription_".Length..], period, modelClass);
    }

    private static void ReadSubscription(IConfigurationSection section, Subscription.SubscriptionOptions options)
    {
        foreach (var child in section.GetChildren())
        {
            switch (Key(child.Key))
            {
                case "window": options.Window = child.Value ?? options.Window; break;
                case "alpha": options.Alpha = (double)Number(child); break;
                case "bootstraptokensperpct": options.BootstrapTokensPerPct = (double)Number(child); break;
                case "weeklybootstraptokensperpct": options.WeeklyBootstrapTokensPerPct = (double)Number(child); break;
                case "defaultclass": options.DefaultClass = child.Value ?? options.DefaultClass; break;
                case "mismatchtolerance": options.MismatchTolerance = (double)Number(child); break;
                case "recalibrateafter":
                    var after = Whole(child);
                    options.RecalibrateAfter = after <= int.MaxValue ? (int)after : throw Error(child, $"'{child.Value}' is too large");
                    break;
                case "relativecosts":
                    foreach (var cost in child.GetChildren()) options.RelativeCosts[cost.Key] = (double)Number(cost);
                    break;
                case "classes":
                    foreach (var cls in child.GetChildren())
                    {
                        options.Classes[cls.Key] = cls.Value is { } single ? [single] : [.. cls.GetChildren().Select(p => p.Value).OfType<string>()];
                    }

                    break;
                default: throw Error(child, "is not a subscription setting (Window, Alpha, BootstrapTokensPerPct, WeeklyBootstrapTokensPerPct, DefaultClass, MismatchTolerance, RecalibrateAfter, RelativeCosts, Classes)");
            }
        }
    }

    private static string Key(string key) => key.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();

    private static BudgetPeriod Period(IConfigurationSection section) =>
        BudgetPeriods.TryParse(section.Value, out var period) ? period : throw Error(section, $"'{section.Value}' is not a period (5h, 5h_rolling, day, week, month, lifetime)");

    private static BudgetExceedAction Action(IConfigurationSection section) => section.Value?.Trim().ToLowerInvariant() switch
    {
        "warn" => BudgetExceedAction.Warn,
        "block" => BudgetExceedAction.Block,
        _ => throw Error(section, $"'{section.Value}' is not 'warn' or 'block'"),
    };

    private static bool Bool(IConfigurationSection section) =>
        bool.TryParse(section.Value, out var value) ? value : throw Error(section, $"'{section.Value}' is not true or false");

    private static TimeSpan Duration(IConfigurationSection section) =>
        TimeSpan.TryParse(section.Value, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero ? value : throw Error(section, $"'{section.Value}' is not a positive duration (hh:mm:ss)");

    private static decimal Number(IConfigurationSection section) => ParseNumber(section, section.Value, nonNegative: true);

    private static decimal Whole(IConfigurationSection section)
    {
        var value = Number(section);
        return value == decimal.Truncate(value) && value <= long.MaxValue ? value : throw Error(section, $"'{section.Value}' is not a whole number");
    }

    private static IEnumerable<decimal> Numbers(IConfigurationSection section)
    {
        if (section.Value is { } text)
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => ParseNumber(section, t, nonNegative: true)).ToList();
        }

        return section.GetChildren().Select(Number).ToList();
    }

    private static decimal ParseNumber(IConfigurationSection section, string? text, bool nonNegative)
    {
        if (text is null || !decimal.TryParse(text.Trim().TrimStart('$'), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            throw Error(section, $"'{text}' is not a number");
        }

        if (value == 0)
        {
            // "-0" parses to a decimal zero with its sign bit set, which the budget limits' own checks call negative.
            return 0m;
        }

        return nonNegative && value < 0 ? throw Error(section, $"must be ≥ 0 (got {text})") : value;
    }

    private static BudgetConfigurationException Error(IConfigurationSection section, string message) => new($"{section.Path} {message}");
}
