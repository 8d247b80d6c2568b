using System.Globalization;
using System.Text.Json.Nodes;
using CageNet.Views;

namespace CageNet.Cli.Policy;

/// <summary>
/// The reference tool's <c>policy.toml</c>, mapped leniently onto our policy (its exact format is not documented):
/// <c>[tools] order = [...]</c> → <c>Tools.Order</c>; any table under <c>[prices]</c> / <c>[pricing]</c> holding an
/// input or output price → a per-model override keyed by the table path joined with <c>/</c> (per-token prices are
/// converted to per-1M); <c>local</c> / <c>local_models</c> arrays → <c>Pricing.LocalModels</c>; <c>aliases</c> →
/// <c>Pricing.Aliases</c>; <c>[budget]</c> / <c>[budgets]</c> → the <c>Budgets</c> section's nodes (<c>session_usd</c> → <c>session/{session}</c>). A key
/// it does not know (or a negative price or ceiling) is reported as a warning, not an error; a key it knows with a value
/// of the wrong type is an error naming the file, line and column (<see cref="PolicyTomlException"/>).
/// </summary>
internal sealed class ReferencePolicy
{
    private static readonly string[] PricingTables = ["prices", "pricing", "price", "models"];
    private static readonly string[] LocalKeys = ["local", "local_models", "localmodels"];
    private static readonly string[] BudgetTables = ["budget", "budgets"];

    // Suffix → factor to $ per 1M tokens. Longest first, so "_cost_per_token" wins over "_per_token".
    private static readonly (string Suffix, decimal Factor)[] UnitSuffixes =
    [
        ("_usd_per_million_tokens", 1m), ("_per_million_tokens", 1m), ("_usd_per_1m_tokens", 1m), ("_per_1m_tokens", 1m),
        ("_usd_per_1k_tokens", 1_000m), ("_per_1k_tokens", 1_000m), ("_cost_per_token", 1_000_000m), ("_usd_per_million", 1m),
        ("_usd_per_token", 1_000_000m), ("_per_million", 1m), ("_usd_per_mtok", 1m), ("_usd_per_1m", 1m), ("_usd_per_1k", 1_000m),
        ("_per_token", 1_000_000m), ("_token_cost", 1_000_000m), ("_per_mtok", 1m), ("_per_1m", 1m), ("_per_1k", 1_000m), ("_mtok", 1m),
    ];

    private static readonly Dictionary<string, PriceField> BaseNames = new(StringComparer.Ordinal)
    {
        ["input"] = PriceField.Input, ["in"] = PriceField.Input, ["prompt"] = PriceField.Input, ["input_tokens"] = PriceField.Input,
        ["output"] = PriceField.Output, ["out"] = PriceField.Output, ["completion"] = PriceField.Output, ["output_tokens"] = PriceField.Output,
        ["cache_read"] = PriceField.CacheRead, ["cached"] = PriceField.CacheRead, ["cached_in"] = PriceField.CacheRead,
        ["cached_input"] = PriceField.CacheRead, ["cache_hit"] = PriceField.CacheRead, ["cache_read_input"] = PriceField.CacheRead,
        ["cache_read_input_token"] = PriceField.CacheRead,
        ["cache_write"] = PriceField.CacheWrite5m, ["cache_write_5m"] = PriceField.CacheWrite5m, ["cache_creation"] = PriceField.CacheWrite5m,
        ["cache_creation_input_token"] = PriceField.CacheWrite5m, ["cache_write_input"] = PriceField.CacheWrite5m,
        ["cache_write_1h"] = PriceField.CacheWrite1h, ["cache_creation_1h"] = PriceField.CacheWrite1h,
        ["reasoning"] = PriceField.Reasoning, ["output_reasoning"] = PriceField.Reasoning,
    };

    private readonly List<string> _warnings = [];

    private ReferencePolicy(string file) => File = file;

    internal enum PriceField
    {
        Input,
        Output,
        CacheRead,
        CacheWrite5m,
        CacheWrite1h,
        Reasoning,
    }

    /// <summary>The <c>policy.toml</c> this came from.</summary>
    public string File { get; }

    public List<string> ToolsOrder { get; } = [];

    /// <summary>Per-model overrides in $ per 1M tokens, in file order.</summary>
    public List<(string Key, string? Provider, Dictionary<PriceField, decimal> Prices)> Overrides { get; } = [];

    public List<string> LocalModels { get; } = [];

    public List<(string Alias, string Target)> Aliases { get; } = [];

    public JsonObject? Budgets { get; private set; }

    /// <summary>What was not understood (<c>file:line: key '…' …</c>): printed as warnings, not carried across.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    public bool IsEmpty => ToolsOrder.Count == 0 && Overrides.Count == 0 && LocalModels.Count == 0 && Aliases.Count == 0 && Budgets is null;

    /// <summary>
    /// The policy the reference tool falls back to when a project has no <c>policy.toml</c>: its bundled tools order,
    /// graphify → fux → compressor (the worked example's). Receipts it wrote were attributed in that order.
    /// </summary>
    public static ReferencePolicy Bundled()
    {
        var policy = new ReferencePolicy("the reference tool's bundled policy");
        policy.ToolsOrder.AddRange(PolicyFile.ExampleToolsOrder);
        return policy;
    }

    /// <summary>The reference policy next to an import source, or <see langword="null"/>.</summary>
    /// <param name="importPath">The file or folder being imported (full path).</param>
    public static string? Locate(string importPath)
    {
        var folder = Directory.Exists(importPath) ? importPath : Path.GetDirectoryName(importPath);
        if (folder is null) return null;
        var candidates = new List<string>
        {
            Path.Combine(folder, ".cage", "policy.toml"),
            Path.Combine(folder, "policy.toml"),
        };

        // A ledger/ folder (or a file inside one) sits in the .cage/ folder that holds the policy.
        if (string.Equals(Path.GetFileName(folder), "ledger", StringComparison.Ordinal) && Path.GetDirectoryName(folder) is { } parent)
        {
            candidates.Add(Path.Combine(parent, "policy.toml"));
        }

        return candidates.FirstOrDefault(System.IO.File.Exists);
    }

    /// <summary>Reads and maps a <c>policy.toml</c>.</summary>
    /// <exception cref="PolicyTomlException">
    /// The file is not valid TOML, or a setting Cage reads has the wrong type (the message names the file, line and column).
    /// </exception>
    public static ReferencePolicy Read(string path) => From(PolicyToml.ReadFile(path), path);

    /// <summary>
    /// Maps a parsed <c>policy.toml</c>. A key it does not know is a warning; a key it knows whose value has the wrong type
    /// (a tools order that is not a list of names, a price that is not a number, …) is an error naming the file, line
    /// and column, so a setting is never dropped quietly.
    /// </summary>
    /// <exception cref="PolicyTomlException">A setting Cage reads has the wrong type.</exception>
    public static ReferencePolicy From(PolicyTable root, string file)
    {
        ArgumentNullException.ThrowIfNull(root);
        var policy = new ReferencePolicy(file);
        foreach (var key in root.Keys)
        {
            var value = root[key];
            var name = Normalize(key);
            if (name is "tools" or "tool")
            {
                policy.ReadTools(root, key, key);
            }
            else if (name is "tools_order" or "tool_order" or "order")
            {
                policy.ReadOrder(root, key, key);
            }
            else if (PricingTables.Contains(name))
            {
                policy.ReadPricing(policy.TableAt(root, key, key, "a table of model prices"), key, []);
            }
            else if (LocalKeys.Contains(name))
            {
                policy.ReadLocal(root, key, key);
            }
            else if (name is "aliases" or "alias")
            {
                policy.ReadAliases(root, key, key);
            }
            else if (BudgetTables.Contains(name))
            {
                policy.Budgets = policy.ToBudgets(policy.TableAt(root, key, key, "a table of budget ceilings"), key);
            }
            else
            {
                policy.Warn(root.LineOf(key), key, "is not understood");
            }
        }

        return policy;
    }

    private static string Normalize(string key) => key.Trim().ToLowerInvariant().Replace('-', '_');

    private void Warn(int line, string key, string what) =>
        _warnings.Add($"{File}:{line.ToString(CultureInfo.InvariantCulture)}: '{key}' {what}; not carried across");

    /// <summary>A known setting has the wrong type: the import stops, naming where the value is.</summary>
    private PolicyTomlException WrongType(PolicyTable table, string key, string path, string expected) =>
        new(File, table.ValuePositionOf(key), $"'{path}' must be {expected}, not {Describe(table[key])}");

    private static string Describe(object value) => value switch
    {
        string => "a string",
        long => "an integer",
        double d when !double.IsFinite(d) => "inf or nan",
        decimal or double => "a number",
        bool => "a boolean",
        PolicyArray => "a list",
        PolicyTable => "a table",
        _ => "a date or time",
    };

    private PolicyTable TableAt(PolicyTable table, string key, string path, string expected) =>
        table[key] as PolicyTable ?? throw WrongType(table, key, path, expected);

    private void ReadTools(PolicyTable owner, string key, string path)
    {
        if (owner[key] is PolicyArray)
        {
            ReadOrder(owner, key, path);
            return;
        }

        var tools = TableAt(owner, key, path, "a table or a list of tool names");
        foreach (var child in tools.Keys)
        {
            if (Normalize(child) is "order" or "canonical_order" or "tool_order")
            {
                ReadOrder(tools, child, $"{path}.{child}");
            }
            else
            {
                Warn(tools.LineOf(child), $"{path}.{child}", "is not understood");
            }
        }
    }

    private void ReadOrder(PolicyTable owner, string key, string path)
    {
        if (owner[key] is not PolicyArray array || array.Any(v => v is not string))
        {
            throw WrongType(owner, key, path, "a list of tool names");
        }

        foreach (string tool in array)
        {
            if (!string.IsNullOrWhiteSpace(tool) && !ToolsOrder.Contains(tool, StringComparer.OrdinalIgnoreCase))
            {
                ToolsOrder.Add(tool.Trim());
            }
        }
    }

    private void ReadLocal(PolicyTable owner, string key, string path)
    {
        IEnumerable<object> patterns = owner[key] switch
        {
            string single => [single],
            PolicyArray array when array.All(v => v is string) => array,
            _ => throw WrongType(owner, key, path, "a model pattern or a list of them"),
        };

        foreach (string pattern in patterns)
        {
            if (!string.IsNullOrWhiteSpace(pattern) && !LocalModels.Contains(pattern, StringComparer.OrdinalIgnoreCase))
            {
                LocalModels.Add(pattern.Trim());
            }
        }
    }

    private void ReadAliases(PolicyTable owner, string key, string path)
    {
        var table = TableAt(owner, key, path, "a table of model = catalog key");
        foreach (var alias in table.Keys)
        {
            if (table[alias] is not string target)
            {
                throw WrongType(table, alias, $"{path}.{alias}", "a catalog key (a string)");
            }

            if (string.IsNullOrWhiteSpace(target))
            {
                Warn(table.LineOf(alias), $"{path}.{alias}", "is an empty catalog key");
                continue;
            }

            Aliases.Add((alias, target));
        }
    }

    /// <summary>Walks a <c>[prices]</c> table: a table holding an input or output price is one model's override.</summary>
    private void ReadPricing(PolicyTable table, string path, List<string> modelPath)
    {
        var prices = new Dictionary<PriceField, decimal>();
        string? provider = null;
        var leftovers = new List<string>();
        foreach (var key in table.Keys)
        {
            var value = table[key];
            var line = table.LineOf(key);
            var name = Normalize(key);
            var keyPath = $"{path}.{key}";
            if (modelPath.Count == 0 && name is "aliases" or "alias")
            {
                ReadAliases(table, key, keyPath);
            }
            else if (value is PolicyTable child)
            {
                if (modelPath.Count == 0 && name is "overrides" or "models")
                {
                    ReadPricing(child, keyPath, modelPath);
                }
                else
                {
                    ReadPricing(child, keyPath, [.. modelPath, key]);
                }
            }
            else if (LocalKeys.Contains(name))
            {
                ReadLocal(table, key, keyPath);
            }
            else if (name is "provider" or "litellm_provider")
            {
                provider = value as string ?? throw WrongType(table, key, keyPath, "a provider name (a string)");
            }
            else if (TryPriceField(name, out var field, out var factor))
            {
                var price = ToPrice(value) ?? throw WrongType(table, key, keyPath, "a price (a number, or a string such as \"$3\")");
                if (price >= 0)
                {
                    prices[field] = JsonOutput.Normalize(price * factor);
                }
                else
                {
                    Warn(line, keyPath, "is not a non-negative price");
                }
            }
            else
            {
                leftovers.Add(key);
            }
        }

        var isModel = prices.ContainsKey(PriceField.Input) || prices.ContainsKey(PriceField.Output);
        if (isModel && modelPath.Count > 0)
        {
            Overrides.Add((string.Join('/', modelPath), provider, prices));
        }
        else if (prices.Count > 0)
        {
            Warn(table.Line, path, isModel ? "holds prices but names no model" : "holds prices but neither an input nor an output price");
        }

        foreach (var key in leftovers)
        {
            Warn(table.LineOf(key), $"{path}.{key}", "is not understood");
        }
    }

    internal static bool TryPriceField(string name, out PriceField field, out decimal factor)
    {
        factor = 1m;
        switch (name)
        {
            // LiteLLM's per-token names.
            case "input_cost_per_token": (field, factor) = (PriceField.Input, 1_000_000m); return true;
            case "output_cost_per_token": (field, factor) = (PriceField.Output, 1_000_000m); return true;
            case "cache_read_input_token_cost": (field, factor) = (PriceField.CacheRead, 1_000_000m); return true;
            case "cache_creation_input_token_cost": (field, factor) = (PriceField.CacheWrite5m, 1_000_000m); return true;
            case "cache_creation_input_token_cost_above_1hr": (field, factor) = (PriceField.CacheWrite1h, 1_000_000m); return true;
            case "output_cost_per_reasoning_token": (field, factor) = (PriceField.Reasoning, 1_000_000m); return true;
        }

        var stem = name;
        foreach (var (suffix, f) in UnitSuffixes)
        {
            if (stem.Length > suffix.Length && stem.EndsWith(suffix, StringComparison.Ordinal))
            {
                stem = stem[..^suffix.Length];
                factor = f;
                break;
            }
        }

        foreach (var noise in (string[])["_usd", "_price", "_cost", "_rate"])
        {
            if (stem.Length > noise.Length && stem.EndsWith(noise, StringComparison.Ordinal))
            {
                stem = stem[..^noise.Length];
                break;
            }
        }

        return BaseNames.TryGetValue(stem, out field);
    }

    /// <summary>
    /// The budget table mapped onto the budget tree schema (<c>Cage:Budgets</c>): <c>on_exceed</c> → <c>OnExceed</c>;
    /// a reference scope's ceilings (<c>&lt;scope&gt;_usd</c> / <c>&lt;scope&gt;_tokens</c>, or a <c>[budget.&lt;scope&gt;]</c>
    /// table with <c>usd</c> / <c>tokens</c>) → the node <see cref="ScopeNodes"/> names for the scope, so one ceiling is
    /// never stated twice. A negative ceiling or anything else is a warning, not carried across; a known key of the
    /// wrong type is an error.
    /// </summary>
    private JsonObject ToBudgets(PolicyTable table, string path)
    {
        var result = new JsonObject();
        foreach (var key in table.Keys)
        {
            var value = table[key];
            var line = table.LineOf(key);
            var name = Normalize(key);
            var keyPath = $"{path}.{key}";
            if (name is "on_exceed" or "onexceed")
            {
                var action = value as string ?? throw WrongType(table, key, keyPath, "an action (a string such as \"warn\" or \"block\")");
                PolicyFile.SetChild(result, "OnExceed", JsonValue.Create(action));
                continue;
            }

            var split = name.LastIndexOf('_');
            if (split > 0 && name[(split + 1)..] is "usd" or "tokens" && ScopeNodes.ContainsKey(name[..split]))
            {
                ReadCeiling(result, table, key, keyPath, name[..split], name[(split + 1)..]);
                continue;
            }

            if (ScopeNodes.ContainsKey(name))
            {
                var scope = TableAt(table, key, keyPath, "a table of ceilings (usd, tokens)");
                foreach (var field in scope.Keys)
                {
                    var fieldName = Normalize(field);
                    if (fieldName is "usd" or "tokens")
                    {
                        ReadCeiling(result, scope, field, $"{keyPath}.{field}", name, fieldName);
                    }
                    else
                    {
                        Warn(scope.LineOf(field), $"{keyPath}.{field}", "is not a budget ceiling (usd, tokens)");
                    }
                }

                continue;
            }

            Warn(line, keyPath, "is not understood");
        }

        return result;
    }

    private void ReadCeiling(JsonObject budgets, PolicyTable table, string key, string path, string scope, string metric)
    {
        var amount = ToPrice(table[key]) ?? throw WrongType(table, key, path, metric == "usd" ? "an amount in dollars (a number)" : "a number of tokens");
        if (amount < 0)
        {
            Warn(table.LineOf(key), path, "is not a non-negative ceiling");
            return;
        }

        SetCeiling(budgets, scope, metric, amount);
    }

    /// <summary>The reference tool's budget scopes → (node path, period) in the budget tree.</summary>
    internal static readonly Dictionary<string, (string Path, string? Period)> ScopeNodes = new(StringComparer.Ordinal)
    {
        ["session"] = ("session/{session}", null),
        ["day"] = ("day", "day"),
        ["daily"] = ("day", "day"),
        ["week"] = ("week", "week"),
        ["weekly"] = ("week", "week"),
        ["month"] = ("month", "month"),
        ["monthly"] = ("month", "month"),
        ["task"] = ("task/{task}", null),
        ["agent"] = ("agent/{agent}", null),
        ["user"] = ("user/{user}", null),
        ["total"] = ("total", null),
    };

    private static void SetCeiling(JsonObject budgets, string scope, string metric, decimal amount)
    {
        var (nodePath, period) = ScopeNodes[scope];
        var node = PolicyFile.Section(PolicyFile.Section(budgets, "Nodes"), nodePath);
        PolicyFile.SetChild(node, metric == "usd" ? "Usd" : "Tokens", JsonValue.Create(JsonOutput.Normalize(amount)));
        if (period is not null)
        {
            PolicyFile.SetChild(node, "Period", JsonValue.Create(period));
        }
    }

    private static decimal? ToPrice(object value) => value switch
    {
        long l => l,
        decimal d => d,
        double d when double.IsFinite(d) && Math.Abs(d) < 1e15 => (decimal)d,
        string s when decimal.TryParse(s.Trim().TrimStart('$'), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => null,
    };

    /// <summary>
    /// Merges this policy into a <c>cage.json</c> document: the imported tools order comes first (the imported receipts
    /// were filed against it), then tools only the existing policy named; overrides merge per model and per field;
    /// local models and aliases are added; budgets are merged key by key. Returns one line per change.
    /// </summary>
    public List<string> MergeInto(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var changes = new List<string>();
        var cage = PolicyFile.Section(document, "Cage");

        if (ToolsOrder.Count > 0)
        {
            var tools = PolicyFile.Section(cage, "Tools");
            var existing = Strings(PolicyFile.Child(tools, "Order"));
            var merged = ToolsOrder.Concat(existing.Where(t => !ToolsOrder.Contains(t, StringComparer.OrdinalIgnoreCase))).ToList();
            if (!merged.SequenceEqual(existing, StringComparer.Ordinal))
            {
                PolicyFile.SetChild(tools, "Order", new JsonArray([.. merged.Select(t => (JsonNode)JsonValue.Create(t))]));
                changes.Add(existing.Count == 0
                    ? $"tools order {string.Join(" → ", merged)}"
                    : $"tools order {string.Join(" → ", merged)} (was {string.Join(" → ", existing)})");
            }
        }

        if (Overrides.Count > 0 || LocalModels.Count > 0 || Aliases.Count > 0)
        {
            var pricing = PolicyFile.Section(cage, "Pricing");
            if (Overrides.Count > 0)
            {
                var overrides = PolicyFile.Section(pricing, "Overrides");
                foreach (var (key, provider, prices) in Overrides)
                {
                    var entry = PolicyFile.Section(overrides, key);
                    var before = entry.DeepClone();
                    if (provider is not null) PolicyFile.SetChild(entry, "Provider", JsonValue.Create(provider));
                    foreach (var (field, price) in prices.OrderBy(p => p.Key))
                    {
                        // Compare as decimals: 3 and 3.0 are the same price.
                        var existing = PolicyFile.Child(entry, field.ToString());
                        if (existing?.GetValueKind() == System.Text.Json.JsonValueKind.Number && existing.GetValue<decimal>() == price) continue;
                        PolicyFile.SetChild(entry, field.ToString(), JsonValue.Create(price));
                    }

                    if (!JsonNode.DeepEquals(before, entry))
                    {
                        changes.Add($"price override {key}: " + string.Join(", ", prices.OrderBy(p => p.Key).Select(p =>
                            $"{p.Key} ${p.Value.ToString(CultureInfo.InvariantCulture)}/1M")));
                    }
                }
            }

            if (LocalModels.Count > 0)
            {
                var existing = Strings(PolicyFile.Child(pricing, "LocalModels"));
                var added = LocalModels.Where(m => !existing.Contains(m, StringComparer.OrdinalIgnoreCase)).ToList();
                if (added.Count > 0)
                {
                    PolicyFile.SetChild(pricing, "LocalModels", new JsonArray([.. existing.Concat(added).Select(m => (JsonNode)JsonValue.Create(m))]));
                    changes.Add($"local models {string.Join(", ", added)}");
                }
            }

            if (Aliases.Count > 0)
            {
                var aliases = PolicyFile.Section(pricing, "Aliases");
                foreach (var (alias, target) in Aliases)
                {
                    PolicyFile.SetChild(aliases, alias, JsonValue.Create(target));
                    changes.Add($"alias {alias} → {target}");
                }
            }
        }

        if (Budgets is { Count: > 0 })
        {
            var budgets = PolicyFile.Section(cage, "Budgets");
            var before = budgets.DeepClone();
            DeepMerge(budgets, Budgets);
            if (!JsonNode.DeepEquals(before, budgets))
            {
                changes.Add($"budgets ({string.Join(", ", Budgets.Select(p => p.Key))})");
            }
        }

        return changes;
    }

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray array ? [.. array.Select(n => n?.GetValueKind() == System.Text.Json.JsonValueKind.String ? n.GetValue<string>() : null).OfType<string>()] : [];

    private static void DeepMerge(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
        {
            if (value is JsonObject child && PolicyFile.Child(target, key) is JsonObject existing)
            {
                DeepMerge(existing, child);
            }
            else
            {
                PolicyFile.SetChild(target, key, value?.DeepClone());
            }
        }
    }
}
