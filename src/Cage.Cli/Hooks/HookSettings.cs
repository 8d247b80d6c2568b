using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CageNet.Cli.Hooks;

/// <summary>What an install did to a settings document.</summary>
internal enum HookChange
{
    /// <summary>The Cage hook was already there, as it would be written.</summary>
    Unchanged,

    /// <summary>A Cage hook was added.</summary>
    Added,

    /// <summary>A Cage hook was there with another command line or timeout, and was rewritten.</summary>
    Updated,
}

/// <summary>
/// A tool's hooks settings file (Claude Code's <c>settings.json</c>, Codex's <c>hooks.json</c>: the same shape, a
/// <c>hooks</c> object of event name → array of <c>{ "matcher"?, "hooks": [ { "type": "command", "command", "timeout" } ] }</c>
/// groups) edited as a JSON tree: every other key, event, group and handler is kept as it was, in its order. Cage's
/// handler is recognized by its command line, which ends with <c>hooks run &lt;tool&gt;</c>.
/// </summary>
internal sealed class HookSettings
{
    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonDocumentOptions StrictOptions = new();

    private static readonly JsonDocumentOptions LenientOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private HookSettings(string path, string? text, JsonObject root)
    {
        Path = path;
        Text = text;
        Root = root;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>The file's text as read, or <see langword="null"/> when it does not exist.</summary>
    public string? Text { get; }

    /// <summary>The document (an empty object when the file does not exist).</summary>
    public JsonObject Root { get; }

    /// <summary>Reads a settings file; a missing file is an empty document.</summary>
    /// <exception cref="CliException">
    /// The file is not JSON, not an object, has a <c>hooks</c> value of the wrong shape, or has comments or trailing commas
    /// (which a rewrite would lose): exit 2, naming the file (and the line), and nothing is written.
    /// </exception>
    public static HookSettings Read(string path)
    {
        if (!File.Exists(path))
        {
            return new HookSettings(path, null, []);
        }

        var text = File.ReadAllText(path);
        JsonNode? node;
        try
        {
            node = string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text, documentOptions: StrictOptions);
        }
        catch (JsonException ex)
        {
            if (Parses(text, LenientOptions))
            {
                throw CliException.BadInput(
                    $"{path}{Line(ex)}: has comments or trailing commas, which cage would lose when it rewrites the file; nothing was written. Remove them, or add the hook by hand (see docs/hooks.md)", ex);
            }

            throw CliException.BadInput($"{path}{Line(ex)}: not valid JSON: {ex.Message}; nothing was written", ex);
        }

        if (node is not JsonObject root)
        {
            throw CliException.BadInput($"{path}: the top level is not a JSON object; nothing was written");
        }

        if (root["hooks"] is { } hooks)
        {
            if (hooks is not JsonObject events)
            {
                throw CliException.BadInput($"{path}: \"hooks\" is not an object; nothing was written");
            }

            foreach (var (name, groups) in events)
            {
                if (groups is not JsonArray)
                {
                    throw CliException.BadInput($"{path}: \"hooks.{name}\" is not an array; nothing was written");
                }
            }
        }

        return new HookSettings(path, text, root);
    }

    /// <summary>The document as it would be written: two-space indents, a final newline.</summary>
    public string Serialize() => Root.ToJsonString(WriteOptions) + "\n";

    /// <summary>Whether the document holds nothing (every key removed), so the file can go.</summary>
    public bool IsEmpty => Root.Count == 0;

    /// <summary>Whether a command line is Cage's hook for a tool: it ends with <c>hooks run &lt;tool&gt;</c>.</summary>
    public static bool IsCageCommand(string? command, string tool) =>
        command is not null && command.TrimEnd().EndsWith(" hooks run " + tool, StringComparison.Ordinal);

    /// <summary>The command lines of Cage's handlers for a tool under one event.</summary>
    public List<string> Installed(string eventName, string tool)
    {
        var found = new List<string>();
        foreach (var group in Groups(eventName))
        {
            foreach (var handler in Handlers(group))
            {
                if (CageCommand(handler, tool) is { } command)
                {
                    found.Add(command);
                }
            }
        }

        return found;
    }

    /// <summary>
    /// Adds Cage's handler (<c>{"type": "command", "command": …, "timeout": …}</c>, in a group of its own, no matcher)
    /// under the event, unless one is there already: then it is left alone when it is the same, or given this command
    /// line and timeout when not. A second Cage handler for the tool under the event (added by hand) is removed.
    /// </summary>
    public HookChange Install(string eventName, string tool, string command, int timeoutSeconds)
    {
        JsonObject? first = null;
        foreach (var group in Groups(eventName))
        {
            foreach (var handler in Handlers(group))
            {
                if (CageCommand(handler, tool) is not null)
                {
                    first ??= handler;
                }
            }
        }

        if (first is null)
        {
            var hooks = Root["hooks"] as JsonObject;
            if (hooks is null)
            {
                hooks = [];
                Root["hooks"] = hooks;
            }

            if (hooks[eventName] is not JsonArray groups)
            {
                groups = [];
                hooks[eventName] = groups;
            }

            groups.Add(new JsonObject
            {
                ["hooks"] = new JsonArray(new JsonObject
                {
                    ["type"] = "command",
                    ["command"] = command,
                    ["timeout"] = timeoutSeconds,
                }),
            });
            return HookChange.Added;
        }

        var extra = Remove(eventName, tool, keep: first);
        var same = first["command"]?.GetValueKind() == JsonValueKind.String && (string?)first["command"] == command
            && first["timeout"] is JsonValue timeout && timeout.TryGetValue<int>(out var seconds) && seconds == timeoutSeconds;
        if (same && extra == 0)
        {
            return HookChange.Unchanged;
        }

        first["command"] = command;
        first["timeout"] = timeoutSeconds;
        return HookChange.Updated;
    }

    /// <summary>
    /// Removes every Cage handler for the tool under the event; a group left without handlers goes, then an event left
    /// without groups, then a <c>hooks</c> object left empty. Returns how many handlers were removed.
    /// </summary>
    public int Uninstall(string eventName, string tool) => Remove(eventName, tool, keep: null);

    private int Remove(string eventName, string tool, JsonObject? keep)
    {
        if (Root["hooks"] is not JsonObject hooks || hooks[eventName] is not JsonArray groups)
        {
            return 0;
        }

        var removed = 0;
        for (var g = groups.Count - 1; g >= 0; g--)
        {
            if (groups[g] is not JsonObject group || group["hooks"] is not JsonArray handlers)
            {
                continue;
            }

            var before = handlers.Count;
            for (var h = handlers.Count - 1; h >= 0; h--)
            {
                if (handlers[h] is JsonObject handler && !ReferenceEquals(handler, keep) && CageCommand(handler, tool) is not null)
                {
                    handlers.RemoveAt(h);
                    removed++;
                }
            }

            if (handlers.Count == 0 && before > 0)
            {
                groups.RemoveAt(g);
            }
        }

        if (removed > 0 && groups.Count == 0)
        {
            hooks.Remove(eventName);
            if (hooks.Count == 0)
            {
                Root.Remove("hooks");
            }
        }

        return removed;
    }

    private IEnumerable<JsonObject> Groups(string eventName) =>
        Root["hooks"] is JsonObject hooks && hooks[eventName] is JsonArray groups ? groups.OfType<JsonObject>() : [];

    private static IEnumerable<JsonObject> Handlers(JsonObject group) =>
        group["hooks"] is JsonArray handlers ? handlers.OfType<JsonObject>() : [];

    private static string? CageCommand(JsonObject handler, string tool) =>
        handler["command"] is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is var command
            && IsCageCommand(command, tool)
            ? command
            : null;

    private static bool Parses(string text, JsonDocumentOptions options)
    {
        try
        {
            using var _ = JsonDocument.Parse(text, options);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Line(JsonException ex) => ex.LineNumber is { } n ? $":{n + 1}" : "";
}
