using System.Text;

namespace CageNet.Cli.Hooks;

/// <summary>
/// Where one tool keeps the hook Cage installs, and what it is: Claude Code's <c>SessionEnd</c> hook in
/// <c>.claude/settings.json</c> (project), <c>.claude/settings.local.json</c> (local) or <c>~/.claude/settings.json</c>
/// (user); Codex's <c>Stop</c> hook (it has no session-end event; <c>Stop</c> runs when a turn ends) in
/// <c>.codex/hooks.json</c> (project) or <c>$CODEX_HOME/hooks.json</c>, by default <c>~/.codex/hooks.json</c> (user).
/// </summary>
internal sealed record HookTarget(string Tool, string Scope, string SettingsPath, string EventName)
{
    public const string ClaudeCode = "claude-code";
    public const string Codex = "codex";

    public const string ProjectScope = "project";
    public const string LocalScope = "local";
    public const string UserScope = "user";

    /// <summary>The hook's timeout in the settings, in seconds (Claude Code's session-end budget rises to it, up to 60 s).</summary>
    public const int TimeoutSeconds = 30;

    public static readonly string[] Tools = [ClaudeCode, Codex];

    public static readonly string[] Scopes = [ProjectScope, LocalScope, UserScope];

    /// <summary>Whether the scope is a project's (the hook then imports into that project's <c>.cage/</c>).</summary>
    public bool IsProject => Scope != UserScope;

    /// <summary>The settings file of a tool at a scope.</summary>
    /// <exception cref="CliException">Codex has no local scope; the home folder is unknown (exit 2).</exception>
    public static HookTarget Resolve(CliContext context, string tool, string scope)
    {
        ArgumentNullException.ThrowIfNull(context);
        var project = context.WorkingDirectory;
        if (tool == ClaudeCode)
        {
            var path = scope switch
            {
                ProjectScope => Path.Combine(project, ".claude", "settings.json"),
                LocalScope => Path.Combine(project, ".claude", "settings.local.json"),
                _ => Path.Combine(Home(context), ".claude", "settings.json"),
            };
            return new HookTarget(tool, scope, path, "SessionEnd");
        }

        var codexPath = scope switch
        {
            ProjectScope => Path.Combine(project, ".codex", "hooks.json"),
            UserScope => Path.Combine(CodexHome(context), "hooks.json"),
            _ => throw CliException.BadInput("hooks: codex has no local scope (its hooks live in .codex/hooks.json or ~/.codex/hooks.json); use --scope project or --scope user"),
        };
        return new HookTarget(tool, scope, codexPath, "Stop");
    }

    /// <summary>Codex's home folder: <c>CODEX_HOME</c>, else <c>~/.codex</c>.</summary>
    public static string CodexHome(CliContext context) =>
        context.Variable("CODEX_HOME") is { } home ? context.FullPath(home) : Path.Combine(Home(context), ".codex");

    /// <summary>
    /// The command line recorded in the settings: <c>cage hooks run &lt;tool&gt;</c> (the dotnet tool on the PATH), or the
    /// given executable, quoted for the shell the tool runs hooks with; a <c>.dll</c> is run with <c>dotnet</c>.
    /// </summary>
    public string CommandLine(string? cagePath)
    {
        var program = string.IsNullOrWhiteSpace(cagePath)
            ? "cage"
            : cagePath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
                ? "dotnet " + Quote(cagePath)
                : Quote(cagePath);
        return $"{program} hooks run {Tool}";
    }

    /// <summary>A word for <c>sh -c</c> (single quotes), or for <c>cmd</c> on Windows (double quotes); plain when it is safe.</summary>
    internal static string Quote(string word)
    {
        if (word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "_-./:+@%=,".Contains(c, StringComparison.Ordinal)))
        {
            return word;
        }

        if (OperatingSystem.IsWindows())
        {
            return "\"" + word.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        }

        return new StringBuilder("'").Append(word.Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'').ToString();
    }

    private static string Home(CliContext context) =>
        context.Variable("HOME") ?? context.Variable("USERPROFILE")
        ?? throw CliException.BadInput("hooks: cannot find your home folder for --scope user (HOME is not set)");
}
