using CageNet.Cli.Policy;

namespace CageNet.Cli.Hooks;

/// <summary>Reads (never writes) Codex's <c>config.toml</c>, with the CLI's Tomlyn reader, for what stops hooks running.</summary>
internal static class CodexConfig
{
    /// <summary>
    /// The <c>[features]</c> key that turns Codex's hooks off (<c>hooks = false</c>, or its older alias
    /// <c>codex_hooks = false</c>), or <see langword="null"/> when neither does (or the file is missing or unreadable:
    /// Codex reports that itself).
    /// </summary>
    public static string? HooksDisabled(string configPath)
    {
        if (!File.Exists(configPath))
        {
            return null;
        }

        PolicyTable root;
        try
        {
            root = PolicyToml.ReadFile(configPath);
        }
        catch (Exception ex) when (ex is PolicyTomlException or IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (!root.TryGetValue("features", out var value) || value is not PolicyTable features)
        {
            return null;
        }

        foreach (var key in new[] { "hooks", "codex_hooks" })
        {
            if (features.TryGetValue(key, out var flag) && flag is false)
            {
                return key;
            }
        }

        return null;
    }
}
