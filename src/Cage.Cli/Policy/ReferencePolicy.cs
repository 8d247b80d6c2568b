using System.Globalization;
using System.Text.Json.Nodes;
using CageNet.Cli.Output;
using CageNet.Cli.Toml;

namespace CageNet.Cli.Policy;

/// <summary>
/// The reference tool's <c>policy.toml</c>, mapped leniently onto our policy (its exact format is not documented):
/// <c>[tools] order = [...]</c> → <c>Tools.Order</c>; any table under <c>[prices]</c> / <c>[pricing]</c> holding an
/// input or output price → a per-model override keyed by the table path joined with <c>/</c> (per-token prices are
/// converted to per-1M); <c>local</c> / <c>local_models</c> arrays → <c>Pricing.LocalModels</c>; <c>aliases</c> →
/// <c>Pricing.Aliases</c>; <c>[budget]</c> / <c>[budgets]</c> → the <c>Budgets</c> section's nodes (<c>session_usd</c> → <c>session/{session}</c>). Anything
/// else is reported as a warning, not an error.
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
    /// <exception cref="TomlException">The file is not valid TOML (the message names the file and line).</exception>
    public static ReferencePolicy Read(string path) => From(TomlReader.ReadFile(path), path);

    public static ReferencePolicy From(TomlTable root, string file)
    {
        ArgumentNullException.ThrowIfNull(root);
        var policy = new ReferencePolicy(file);
        foreach (var key in root.Keys)
        {
            var value = root[key];
            var line = root.LineOf(key);
            var name = Normalize(key);
            if (name is "tools" or "tool")
            {
                policy.ReadTools(value, key, line);
            }
            else if (name is "tools_order" or "tool_order" or "order")
            {
                policy.ReadOrder(value, key, line);
            }
            else if (PricingTables.Contains(name) && value is TomlTable pricing)
            {
                policy.ReadPricing(pricing, key, []);
            }
            else if (LocalKeys.Contains(name))
            {
                policy.ReadLocal(value, key, line);
            }
            else if (name is "aliases" or "alias")
            {
                policy.ReadAliases(value, key, line);
            }
            else if (BudgetTables.Contains(name) && value is TomlTable budgets)
            {
                policy.Budgets = policy.ToBudgets(budgets, key);
            }
            else
            {
                policy.Warn(line, key, "is not understood");
            }
        }

        return policy;
    }

    private static string Normalize(string key) => key.Trim().ToLowerInvariant().Replace('-', '_');

    private void Warn(int line, string key, string what) =>
        _warnings.Add($"{File}:{line.ToString(CultureInfo.InvariantCulture)}: '{key}' {what}; not carried across");

    private void ReadTools(object value, string path, int line)
    {
        if (value is TomlArray array)
        {
            ReadOrder(array, path, line);
            return;
        }

        if (value is not TomlTable tools)
        {
            Warn(line, path, "is not a table or a list of tool names");
            return;
        }

        foreach (var key in tools.Keys)
        {
            if (Normalize(key) is "order" or "canonical_order" or "tool_order")
            {
                ReadOrder(tools[key], $"{path}.{key}", tools.LineOf(key));
            }
            else
            {
                Warn(tools.LineOf(key), $"{path}.{key}", "is not understood");
            }
        }
    }

    private void ReadOrder(object value, string path, int line)
    {
        if (value is not TomlArray array || array.Any(v => v is not string))
        {
            Warn(line, path, "is not a list of tool names");
            return;
        }

        foreach (string tool in array)
        {
            if (!string.IsNullOrWhiteSpace(tool) && !ToolsOrder.Contains(tool, StringComparer.OrdinalIgnoreCase))
            {
                ToolsOrder.Add(tool.Trim());
            }
        }
    }

    private void ReadLocal(object value, string path, int line)
    {
        if (value is string single)
        {
            value = new TomlArray(line) { single };
        }

        if (value is not TomlArray array || array.Any(v => v is not string))
        {
            Warn(line, path, "is not a list of model patterns");
            return;
        }

        foreach (string pattern in array)
        {
            if (!string.IsNullOrWhiteSpace(pattern) && !LocalModels.Contains(pattern, StringComparer.OrdinalIgnoreCase))
            {
                LocalModels.Add(pattern.Trim());
            }
        }
    }

    private void ReadAliases(object value, string path, int line)
    {
        if (value is not TomlTable table)
        {
            Warn(line, path, "is not a table of model = catalog key");
            return;
        }

        foreach (var key in table.Keys)
        {
            if (table[key] is string target && !string.IsNullOrWhiteSpace(target))
            {
                Aliases.Add((key, target));
            }
            else
            {
                Warn(table.LineOf(key), $"{path}.{key}", "is not a catalog key (a string)");
            }
        }
    }

    /// <summary>Walks a <c>[prices]</c> table: a table holding an input or output price is one model's override.</summary>
    private void ReadPricing(TomlTable table, string path, List<string> modelPath)
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
            if (value is TomlTable child)
            {
                if (modelPath.Count == 0 && name is "aliases" or "alias")
                {
                    ReadAliases(child, keyPath, line);
                }
                else if (modelPath.Count == 0 && name is "overrides" or "models")
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
                ReadLocal(value, keyPath, line);
            }
            else if (name is "provider" or "litellm_provider" && value is string p)
            {
                provider = p;
            }
            else if (TryPriceField(name, out var field, out var factor))
            {
                if (ToPrice(value) is { } price && price >= 0)
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
    /// never stated twice. Anything else is a warning, not carried across.
    /// </summary>
    private JsonObject ToBudgets(TomlTable table, string path)
    {
        var result = new JsonObject();
        foreach (var key in table.Keys)
        {
            var value = table[key];
            var line = table.LineOf(key);
            var name = Normalize(key);
            if (name is "on_exceed" or "onexceed" && value is string action)
            {
                PolicyFile.SetChild(result, "OnExceed", JsonValue.Create(action));
                continue;
            }

            var split = name.LastIndexOf('_');
            if (split > 0 && name[(split + 1)..] is "usd" or "tokens" && ScopeNodes.ContainsKey(name[..split]) && ToPrice(value) is { } ceiling && ceiling >= 0)
            {
                SetCeiling(result, name[..split], name[(split + 1)..], ceiling);
                continue;
            }

            if (ScopeNodes.ContainsKey(name) && value is TomlTable scope)
            {
                foreach (var field in scope.Keys)
                {
                    var fieldName = Normalize(field);
                    if (fieldName is "usd" or "tokens" && ToPrice(scope[field]) is { } amount && amount >= 0)
                    {
                        SetCeiling(result, name, fieldName, amount);
                    }
                    else
                    {
                        Warn(scope.LineOf(field), $"{path}.{key}.{field}", "is not a budget ceiling (usd, tokens)");
                    }
                }

                continue;
            }

            Warn(line, $"{path}.{key}", "is not understood");
        }

        return result;
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

    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private static decimal? ToPrice(object value) => value switch
    {
        long l => l,
        decimal d => d,
        double d when double.IsFinite(d) && Math.Abs(d) < 1e15 => (decimal)d,
        string s when decimal.TryParse(s.Trim().TrimStart('$'), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => null,
    };

    private JsonNode? ToJson(object value, string path) => value switch
    {
        string s => JsonValue.Create(s),
        long l => JsonValue.Create(l),
        decimal d => JsonValue.Create(JsonOutput.Normalize(d)),
        double d when double.IsFinite(d) => JsonValue.Create(d),
        bool b => JsonValue.Create(b),
        TomlArray array => new JsonArray([.. array.Select(v => ToJson(v, path))]),
        TomlTable table => ToJsonObject(table, path),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };

    private JsonObject ToJsonObject(TomlTable table, string path)
    {
        var result = new JsonObject();
        foreach (var key in table.Keys)
        {
            var value = table[key];
            if (value is double d && !double.IsFinite(d))
            {
                Warn(table.LineOf(key), $"{path}.{key}", "is not a finite number");
                continue;
            }

            result[key] = ToJson(value, $"{path}.{key}");
        }

        return result;
    }

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
