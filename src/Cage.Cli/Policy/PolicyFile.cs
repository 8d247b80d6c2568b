using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using CageNet.Configuration;
using Microsoft.Extensions.Configuration;

namespace CageNet.Cli.Policy;

/// <summary>
/// The CLI's policy file <c>.cage/cage.json</c>: the same schema as a host's <c>Cage</c> configuration section, read
/// through Microsoft.Extensions.Configuration so an app and the tool bind it identically. The <c>Budgets</c> section is
/// read separately (<see cref="CageNet.Budgets.BudgetConfiguration"/>) and kept as it is when the file is edited.
/// </summary>
internal static class PolicyFile
{
    public const string FileName = "cage.json";

    /// <summary>The tools order <c>cage init</c> and <c>cage demo</c> write: the worked example's.</summary>
    public static readonly IReadOnlyList<string> ExampleToolsOrder = ["graphify", "fux", "compressor"];

    /// <summary>What <c>cage init</c> writes (and <c>cage demo</c>, when there is no policy yet).</summary>
    public const string Template = """
        {
          "Cage": {
            "Tools": {
              "Order": [ "graphify", "fux", "compressor" ]
            },
            "Pricing": {
              "MapFile": null,
              "Overrides": {},
              "LocalModels": [ "ollama/*", "lmstudio/*" ],
              "Aliases": {}
            },
            "Budgets": {
              "OnExceed": "warn",
              "TimeZone": "UTC",
              "Nodes": {
                "day": { "Usd": 25.0, "Period": "day" },
                "session/{session}": { "Usd": 2.0 }
              }
            }
          }
        }

        """;

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonDocumentOptions ReadOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>
    /// The monthly budget the policy implies for <c>cage forecast</c>: the smallest dollar cap of a top-level,
    /// untemplated node with period <c>month</c>, else of one with period <c>day</c> × the days of the month of
    /// <paramref name="now"/> (UTC); <see langword="null"/> when there is neither.
    /// </summary>
    public static decimal? MonthlyBudget(string path, DateTimeOffset now) => File.Exists(path) ? LoadBudgets(path).MonthlyUsd(now) : null;

    /// <summary>Binds the file's <c>Cage</c> section to <see cref="CageOptions"/>; defaults when the file does not exist.</summary>
    /// <exception cref="CliException">The file is not valid JSON or a value does not fit its setting (exit 2, naming the file).</exception>
    public static CageOptions Load(string path, Action<string>? warn = null)
    {
        if (!File.Exists(path))
        {
            return new CageOptions();
        }

        IConfigurationRoot configuration;
        try
        {
            configuration = new ConfigurationBuilder()
                .AddJsonFile(path, optional: true, reloadOnChange: false)
                .Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or JsonException or IOException)
        {
            throw CliException.BadInput($"policy file {path} is malformed: {Describe(ex)}", ex);
        }

        CheckOverrides(configuration, path, warn);
        try
        {
            var options = configuration.GetSection(CageOptions.SectionName).Get<CageOptions>() ?? new CageOptions();
            if (string.IsNullOrWhiteSpace(options.Pricing.MapFile))
            {
                options.Pricing.MapFile = null;
            }

            foreach (var (key, value) in options.Pricing.Overrides)
            {
                foreach (var (field, price) in new (string, decimal?)[]
                {
                    ("Input", value.Input), ("Output", value.Output), ("CacheRead", value.CacheRead),
                    ("CacheWrite5m", value.CacheWrite5m), ("CacheWrite1h", value.CacheWrite1h), ("Reasoning", value.Reasoning),
                })
                {
                    if (price < 0)
                    {
                        throw CliException.BadInput($"policy file {path}: Cage:Pricing:Overrides:{key}:{field} must be >= 0 (got {price})");
                    }
                }
            }

            return options;
        }
        catch (InvalidOperationException ex)
        {
            throw CliException.BadInput($"policy file {path}: {Describe(ex)}", ex);
        }
    }

    /// <summary>
    /// The file's <c>Cage:Budgets</c> section read into budget options (the same reader a host uses); the <c>cage init</c>
    /// defaults when the file does not exist.
    /// </summary>
    /// <exception cref="CliException">The file or a budget setting is malformed (exit 2, naming the file and the setting).</exception>
    public static CageNet.Budgets.BudgetOptions LoadBudgets(string path) => LoadBudgets(path, "policy file", required: false);

    /// <summary>
    /// The <c>Cage:Budgets</c> section of a JSON configuration file — <c>.cage/cage.json</c>, or a host's
    /// <c>appsettings.json</c> (<c>cage budget --config</c>) — read the way a host's <c>AddBudgets</c> reads it: through
    /// Microsoft.Extensions.Configuration's JSON provider (comments and trailing commas allowed) and
    /// <see cref="CageNet.Budgets.BudgetConfiguration.Read"/>.
    /// </summary>
    /// <param name="path">The file (full path).</param>
    /// <param name="what">How messages name the file: <c>policy file</c>, <c>--config</c>.</param>
    /// <param name="required">
    /// The file must exist and have a <c>Cage:Budgets</c> section (<c>--config</c>); otherwise a missing file means the
    /// <c>cage init</c> defaults.
    /// </param>
    /// <exception cref="CliException">The file is missing (when required) or malformed, or a budget setting is bad (exit 2, naming the file).</exception>
    public static CageNet.Budgets.BudgetOptions LoadBudgets(string path, string what, bool required)
    {
        if (required && (Directory.Exists(path) || !File.Exists(path)))
        {
            throw CliException.BadInput($"{what}: configuration file '{path}' was not found");
        }

        IConfigurationRoot configuration;
        try
        {
            var builder = new ConfigurationBuilder();
            if (File.Exists(path))
            {
                builder.AddJsonFile(path, optional: true, reloadOnChange: false);
            }
            else
            {
                builder.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Template)));
            }

            configuration = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or JsonException or IOException or UnauthorizedAccessException)
        {
            throw CliException.BadInput($"{what} {path} is malformed: {Describe(ex)}", ex);
        }

        var section = configuration.GetSection(CageNet.Budgets.BudgetConfiguration.SectionPath);
        if (required && !section.Exists())
        {
            throw CliException.BadInput($"{what} {path} has no {CageNet.Budgets.BudgetConfiguration.SectionPath} section (the budget tree AddBudgets binds)");
        }

        try
        {
            return CageNet.Budgets.BudgetConfiguration.Read(section);
        }
        catch (CageNet.Budgets.BudgetConfigurationException ex)
        {
            throw CliException.BadInput($"{what} {path}: {ex.Message}", ex);
        }
    }

    private static readonly string[] OverrideFields = ["Provider", "Input", "Output", "CacheRead", "CacheWrite5m", "CacheWrite1h", "Reasoning"];

    /// <summary>
    /// The binder silently drops a dictionary entry whose value does not convert (<c>"Input": "cheap"</c> would leave the
    /// model at its catalog price without a word), so price overrides are checked here first: a price that is not a
    /// number is an error; a field the schema does not have is a warning.
    /// </summary>
    private static void CheckOverrides(IConfiguration configuration, string path, Action<string>? warn)
    {
        var overrides = configuration.GetSection($"{CageOptions.SectionName}:Pricing:Overrides");
        foreach (var model in overrides.GetChildren())
        {
            foreach (var field in model.GetChildren())
            {
                var known = OverrideFields.FirstOrDefault(f => string.Equals(f, field.Key, StringComparison.OrdinalIgnoreCase));
                if (known is null)
                {
                    warn?.Invoke($"policy file {path}: {field.Path} is not a price field ({string.Join(", ", OverrideFields)}); ignored");
                }
                else if (known != "Provider" && field.Value is { Length: > 0 } text
                    && !decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    throw CliException.BadInput($"policy file {path}: {field.Path} must be a price in $ per 1M tokens (got '{text}')");
                }
            }
        }
    }

    /// <summary>The file as an editable JSON object (an empty object when the file does not exist).</summary>
    /// <exception cref="CliException">The file is not a JSON object (exit 2, naming the file and line).</exception>
    public static JsonObject ReadDocument(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path), documentOptions: ReadOptions);
            return node as JsonObject ?? throw CliException.BadInput($"policy file {path} is malformed: the top level is not a JSON object");
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber is { } n ? $":{n + 1}" : "";
            throw CliException.BadInput($"policy file {path}{line} is malformed: {ex.Message}", ex);
        }
    }

    /// <summary>Writes the policy (through a temporary file, so a crash never leaves half a policy).</summary>
    public static void WriteDocument(string path, JsonObject document)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        WriteText(path, document.ToJsonString(WriteOptions) + "\n");
    }

    /// <summary>Writes text to a file through a temporary file in the same folder.</summary>
    public static void WriteText(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The <c>Cage</c> object of a policy document, created when missing (matched case-insensitively, as configuration keys are).</summary>
    public static JsonObject Section(JsonObject parent, string name)
    {
        foreach (var (key, value) in parent)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase) && value is JsonObject existing)
            {
                return existing;
            }
        }

        var created = new JsonObject();
        SetChild(parent, name, created);
        return created;
    }

    /// <summary>A child of an object, matched case-insensitively, or <see langword="null"/>.</summary>
    public static JsonNode? Child(JsonObject parent, string name)
    {
        foreach (var (key, value) in parent)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>Sets a child in place, keeping the spelling of a key that differs only in case.</summary>
    public static void SetChild(JsonObject parent, string name, JsonNode? value)
    {
        var existing = parent.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        parent[existing ?? name] = value;
    }

    private static string Describe(Exception ex)
    {
        var message = ex.Message;
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            message += " " + inner.Message;
        }

        return message;
    }
}
