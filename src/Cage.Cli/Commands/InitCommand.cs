using System.CommandLine;
using System.Text;
using CageNet.Cli.Policy;
using CageNet.Ledger;

namespace CageNet.Cli.Commands;

/// <summary>
/// <c>cage init [--force]</c>: scaffolds <c>.cage/</c> in the working directory — the policy <c>cage.json</c>, a
/// <c>.gitignore</c> that keeps the ledger out of version control, and the ledger itself. Idempotent: what exists is
/// kept (the policy is replaced only with <c>--force</c>).
/// </summary>
internal static class InitCommand
{
    public const string GitIgnore = "# The ledger is local data (counts and costs): keep it out of version control.\nledger.db*\n";

    public static Command Create(CliContext context, GlobalOptions globals)
    {
        var force = new Option<bool>("--force") { Description = "Overwrite an existing .cage/cage.json with the template." };
        var command = new Command("init", "Create .cage/ here: the policy (cage.json), a .gitignore for the ledger, and the ledger.") { force };
        command.SetAction(CageCli.Guard(context, async (parseResult, cancellationToken) =>
        {
            // Check the options (price map, ledger path) before creating anything; then resolve again, now that .cage/ is here.
            globals.Workspace(context, parseResult);
            var folder = Path.Combine(context.WorkingDirectory, LedgerLocation.FolderName);
            Directory.CreateDirectory(folder);
            var workspace = globals.Workspace(context, parseResult);
            var text = new StringBuilder();

            var policy = Path.Combine(folder, PolicyFile.FileName);
            if (!File.Exists(policy))
            {
                PolicyFile.WriteText(policy, PolicyFile.Template);
                text.Append($"created {policy}\n");
            }
            else if (parseResult.GetValue(force))
            {
                PolicyFile.WriteText(policy, PolicyFile.Template);
                text.Append($"overwrote {policy} (--force)\n");
            }
            else
            {
                text.Append($"kept {policy} (it exists; --force overwrites it)\n");
            }

            var gitignore = Path.Combine(folder, ".gitignore");
            if (!File.Exists(gitignore))
            {
                PolicyFile.WriteText(gitignore, GitIgnore);
                text.Append($"created {gitignore}\n");
            }
            else
            {
                text.Append($"kept {gitignore}\n");
            }

            var existed = workspace.LedgerExists;
            await using (workspace.OpenLedger().ConfigureAwait(false))
            {
                text.Append(existed ? $"kept {workspace.LedgerPath}\n" : $"created {workspace.LedgerPath}\n");
            }

            cancellationToken.ThrowIfCancellationRequested();
            context.Write(text.ToString());
            return ExitCodes.Ok;
        }));
        return command;
    }
}
