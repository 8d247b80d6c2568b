using System.CommandLine;
using System.Text;
using CageNet.Cli.Hooks;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage hooks install|uninstall claude-code|codex [--scope project|local|user] [--dry-run] [--cage-path PATH]</c>,
/// <c>cage hooks status</c> and <c>cage hooks run claude-code|codex</c>: a hook in the agent tool's own settings that
/// imports each session's transcript into the project's ledger (<see cref="HookRunner"/>). The settings file is merged
/// (<see cref="HookSettings"/>): only Cage's handler is added, changed or removed; <c>--dry-run</c> prints the diff and
/// writes nothing.
/// </summary>
internal static class HooksCommand
{
    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var hooks = new Command("hooks", "Hooks in Claude Code and Codex that import each session's transcript into the project's ledger.");
        hooks.Subcommands.Add(Install(context));
        hooks.Subcommands.Add(Uninstall(context));
        hooks.Subcommands.Add(Status(context));
        hooks.Subcommands.Add(Run(context, globals));
        return hooks;
    }

    private static Argument<string> ToolArgument()
    {
        var tool = new Argument<string>("tool") { Description = "claude-code (a SessionEnd hook) or codex (a Stop hook, run when a turn ends)." };
        tool.AcceptOnlyFromAmong(HookTarget.Tools);
        return tool;
    }

    private static Option<string> ScopeOption()
    {
        var scope = new Option<string>("--scope")
        {
            Description = "project: .claude/settings.json or .codex/hooks.json here; local: .claude/settings.local.json (Claude Code only); user: ~/.claude/settings.json or ~/.codex/hooks.json.",
            DefaultValueFactory = _ => HookTarget.ProjectScope,
        };
        scope.AcceptOnlyFromAmong(HookTarget.Scopes);
        return scope;
    }

    private static Option<bool> DryRunOption() => new("--dry-run") { Description = "Print the change to the settings file as a diff; write nothing." };

    private static Command Install(CliContext context)
    {
        var tool = ToolArgument();
        var scope = ScopeOption();
        var dryRun = DryRunOption();
        var cagePath = new Option<string?>("--cage-path")
        {
            Description = "The cage executable the hook runs (default: cage, the dotnet tool on the PATH); a cage.dll is run with dotnet.",
            HelpName = "PATH",
        };
        var command = new Command("install", "Add Cage's hook to the tool's settings (merged: everything else is kept; running it again changes nothing).")
        {
            tool, scope, dryRun, cagePath,
        };
        command.SetAction(CageCli.Guard(context, (parseResult, _) =>
        {
            var target = HookTarget.Resolve(context, parseResult.GetValue(tool)!, parseResult.GetValue(scope)!);
            var dry = parseResult.GetValue(dryRun);
            var path = parseResult.GetValue(cagePath) is { Length: > 0 } given ? context.FullPath(given) : null;
            var line = target.CommandLine(path);
            var settings = HookSettings.Read(target.SettingsPath);
            var change = settings.Install(target.EventName, target.Tool, line, HookTarget.TimeoutSeconds);
            var after = change == HookChange.Unchanged ? settings.Text : settings.Serialize();

            // A project's hook imports into its .cage/ folder: make it, as cage import would, so the first session lands.
            var cageFolder = target.IsProject && CageWorkspace.ProjectRoot(context.WorkingDirectory) is null
                ? Path.Combine(context.WorkingDirectory, LedgerLocation.FolderName)
                : null;

            var text = new StringBuilder();
            var verb = change switch
            {
                HookChange.Added => $"add a {target.EventName} hook",
                HookChange.Updated => $"update Cage's {target.EventName} hook",
                _ => null,
            };
            if (dry)
            {
                text.Append(verb is null
                    ? $"Cage's {target.EventName} hook is already in {target.SettingsPath}: {line}\n"
                    : $"Would {verb} to {target.SettingsPath}: {line}\n");
                text.Append(TextDiff.Unified(target.SettingsPath, settings.Text, after));
                if (cageFolder is not null) text.Append($"Would create {cageFolder}/ (the hook imports into its ledger.db)\n");
                text.Append("Nothing was written (--dry-run).\n");
            }
            else
            {
                if (verb is not null)
                {
                    Write(target.SettingsPath, after!);
                    text.Append(change == HookChange.Added ? $"Added a {target.EventName} hook to {target.SettingsPath}: {line}\n" : $"Updated Cage's {target.EventName} hook in {target.SettingsPath}: {line}\n");
                }
                else
                {
                    text.Append($"Cage's {target.EventName} hook is already in {target.SettingsPath}: {line}\n");
                }

                if (cageFolder is not null)
                {
                    Directory.CreateDirectory(cageFolder);
                    text.Append($"Created {cageFolder}/ (the hook imports into its ledger.db)\n");
                }
            }

            text.Append(Notes(context, target));
            context.Write(text.ToString());
            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }

    private static Command Uninstall(CliContext context)
    {
        var tool = ToolArgument();
        var scope = ScopeOption();
        var dryRun = DryRunOption();
        var command = new Command("uninstall", "Remove Cage's hook from the tool's settings (only it; a settings file left empty is deleted).")
        {
            tool, scope, dryRun,
        };
        command.SetAction(CageCli.Guard(context, (parseResult, _) =>
        {
            var target = HookTarget.Resolve(context, parseResult.GetValue(tool)!, parseResult.GetValue(scope)!);
            var dry = parseResult.GetValue(dryRun);
            var settings = HookSettings.Read(target.SettingsPath);
            var removed = settings.Uninstall(target.EventName, target.Tool);
            if (removed == 0)
            {
                context.Write($"No Cage hook in {target.SettingsPath}; nothing to remove\n");
                return Task.FromResult(ExitCodes.Ok);
            }

            var after = settings.IsEmpty ? null : settings.Serialize();
            var text = new StringBuilder();
            var what = after is null ? $"{target.SettingsPath} (nothing else was in it)" : target.SettingsPath;
            if (dry)
            {
                text.Append(after is null ? $"Would remove Cage's {target.EventName} hook and delete {what}\n" : $"Would remove Cage's {target.EventName} hook from {what}\n")
                    .Append(TextDiff.Unified(target.SettingsPath, settings.Text, after))
                    .Append("Nothing was written (--dry-run).\n");
            }
            else
            {
                if (after is null)
                {
                    File.Delete(target.SettingsPath);
                    text.Append($"Removed Cage's {target.EventName} hook and deleted {what}\n");
                }
                else
                {
                    Write(target.SettingsPath, after);
                    text.Append($"Removed Cage's {target.EventName} hook from {what}\n");
                }
            }

            context.Write(text.ToString());
            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }

    private static Command Status(CliContext context)
    {
        var command = new Command("status", "Show where Cage's hooks are installed (project, local and user settings of each tool).");
        command.SetAction(CageCli.Guard(context, (_, _) =>
        {
            var text = new StringBuilder();
            foreach (var tool in HookTarget.Tools)
            {
                foreach (var scope in HookTarget.Scopes)
                {
                    if (tool == HookTarget.Codex && scope == HookTarget.LocalScope) continue;
                    HookTarget target;
                    try
                    {
                        target = HookTarget.Resolve(context, tool, scope);
                    }
                    catch (CliException ex)
                    {
                        text.Append($"{tool,-12} {scope,-8} {ex.Message}\n");
                        continue;
                    }

                    string state;
                    try
                    {
                        var installed = HookSettings.Read(target.SettingsPath).Installed(target.EventName, tool);
                        state = installed.Count == 0 ? "not installed" : $"{target.EventName}: {string.Join("; ", installed)}";
                    }
                    catch (CliException ex)
                    {
                        state = "unreadable: " + ex.Message;
                    }

                    text.Append($"{tool,-12} {scope,-8} {state} ({target.SettingsPath})\n");
                }
            }

            context.Write(text.ToString());
            return Task.FromResult(ExitCodes.Ok);
        }));
        return command;
    }

    private static Command Run(CliContext context, GlobalOptions globals)
    {
        var tool = ToolArgument();
        var command = new Command("run", "What the installed hook runs: read the hook JSON on stdin, import its transcript_path into the ledger; always exit 0, log to .cage/hooks.log.")
        {
            tool,
        };
        command.SetAction((parseResult, cancellationToken) => HookRunner.RunAsync(context, globals, parseResult, parseResult.GetValue(tool)!, cancellationToken));
        return command;
    }

    /// <summary>What the user should know after an install: Codex's trust review, and a Codex config that turns hooks off.</summary>
    private static string Notes(CliContext context, HookTarget target)
    {
        if (target.Tool != HookTarget.Codex)
        {
            return "";
        }

        var text = new StringBuilder("Codex runs a new hook only once you have reviewed and trusted it (/hooks in Codex)")
            .Append(target.IsProject ? ", and project hooks only in a trusted project.\n" : ".\n");
        var config = Path.Combine(Path.GetDirectoryName(target.SettingsPath)!, "config.toml");
        if (CodexConfig.HooksDisabled(config) is { } key)
        {
            context.Warn($"{config} sets [features] {key} = false: Codex runs no hooks until that is removed");
        }

        return text.ToString();
    }

    /// <summary>Writes a settings file through a temporary file in the same folder, so a crash never leaves half of it.</summary>
    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".cage.tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}
