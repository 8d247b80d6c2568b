using System.Globalization;
using System.Text.Json;
using CageNet.Ledger;
using CageNet.Protocols;

namespace CageNet.Cli.Policy;

/// <summary>
/// The reference tool's <c>outcomes.json</c> (beside its <c>ledger/</c> folder in <c>.cage/</c>): one task label per
/// task, <c>{"fix-handover-bug": "ok"}</c>, each <c>ok</c>, <c>redo</c> or <c>failed</c>. An entry may also be an object
/// <c>{"outcome": "ok", "ts": "…"}</c>. <c>cage import</c> stores each label as <c>cage outcome</c> would; a task the
/// ledger has already labelled keeps its label (the ledger's may be newer), so importing again changes nothing.
/// </summary>
internal static class ReferenceOutcomes
{
    public const string FileName = "outcomes.json";

    /// <summary>What an import of <c>outcomes.json</c> did.</summary>
    internal sealed record Result(string? File, int Added, int AlreadyThere, IReadOnlyList<string> Kept, IReadOnlyList<ImportProblem> Problems)
    {
        public static readonly Result None = new(null, 0, 0, [], []);
    }

    /// <summary>The <c>outcomes.json</c> of an import source (the same places as its <c>policy.toml</c>), or <see langword="null"/>.</summary>
    /// <param name="importPath">The file or folder being imported (full path).</param>
    public static string? Locate(string importPath)
    {
        var folder = Directory.Exists(importPath) ? importPath : Path.GetDirectoryName(importPath);
        if (folder is null)
        {
            return null;
        }

        var candidates = new List<string>
        {
            Path.Combine(folder, LedgerLocation.FolderName, FileName),
            Path.Combine(folder, FileName),
        };
        if (string.Equals(Path.GetFileName(folder), "ledger", StringComparison.Ordinal) && Path.GetDirectoryName(folder) is { } parent)
        {
            candidates.Add(Path.Combine(parent, FileName));
        }

        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>Reads the labels; an entry that is not a label is a problem (<c>file: task 'x': …</c>), the rest are kept.</summary>
    /// <exception cref="CliException">The file is not a JSON object (exit 2, naming the file).</exception>
    public static (List<TaskOutcomeRecord> Labels, List<ImportProblem> Problems) Read(string path, DateTimeOffset now)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber is { } n ? $":{(n + 1).ToString(CultureInfo.InvariantCulture)}" : "";
            throw CliException.BadInput($"{path}{line}: outcomes file is not valid JSON (nothing was imported)", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CliException.BadInput($"{path}: cannot read the outcomes file: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw CliException.BadInput($"{path}: outcomes file is not a JSON object of task → ok, redo or failed (nothing was imported)");
            }

            try
            {
                return Labels(document.RootElement, path, now);
            }
            catch (InvalidOperationException ex)
            {
                // JsonDocument checks the structure, not the text: a name or value that is not valid UTF-8 (or an
                // escaped lone surrogate) only fails when it is read.
                throw CliException.BadInput($"{path}: outcomes file holds text that is not valid UTF-8 (nothing was imported)", ex);
            }
        }
    }

    private static (List<TaskOutcomeRecord> Labels, List<ImportProblem> Problems) Labels(JsonElement root, string path, DateTimeOffset now)
    {
        var labels = new List<TaskOutcomeRecord>();
        var problems = new List<ImportProblem>();
        foreach (var entry in root.EnumerateObject())
        {
            var task = entry.Name.Trim();
            var (text, at) = entry.Value.ValueKind switch
            {
                JsonValueKind.String => (entry.Value.GetString(), (DateTimeOffset?)null),
                JsonValueKind.Object => (
                    Property(entry.Value, "outcome") ?? Property(entry.Value, "status"),
                    Property(entry.Value, "ts") is { } ts && DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null),
                _ => (null, null),
            };
            if (task.Length == 0)
            {
                problems.Add(new ImportProblem(path, 0, null, "a task name is empty; skipped"));
            }
            else if (!WireNames.TryParseOutcome(text, out var outcome))
            {
                problems.Add(new ImportProblem(path, 0, $"task '{ErrorText.ScrubLabel(task)}'", $"'{ErrorText.ScrubLabel(text ?? entry.Value.GetRawText())}' is not ok, redo or failed; skipped"));
            }
            else
            {
                labels.Add(new TaskOutcomeRecord(task, outcome, at ?? now));
            }
        }

        return (labels, problems);
    }

    /// <summary>Stores the labels of <paramref name="path"/> that the ledger does not have yet.</summary>
    public static async Task<Result> ImportAsync(ILedgerStore ledger, string path, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (labels, problems) = Read(path, now);
        var existing = (await ledger.ReadOutcomesAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(o => o.Task, o => o.Outcome, StringComparer.Ordinal);
        int added = 0, same = 0;
        var kept = new List<string>();
        foreach (var label in labels)
        {
            if (!existing.TryGetValue(label.Task, out var current))
            {
                await ledger.RecordOutcomeAsync(label, cancellationToken).ConfigureAwait(false);
                existing[label.Task] = label.Outcome;
                added++;
            }
            else if (current == label.Outcome)
            {
                same++;
            }
            else
            {
                kept.Add($"task '{label.Task}' is labelled {current.ToWire()} in the ledger; kept (the file says {label.Outcome.ToWire()})");
            }
        }

        return new Result(path, added, same, kept, problems);
    }

    private static string? Property(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
