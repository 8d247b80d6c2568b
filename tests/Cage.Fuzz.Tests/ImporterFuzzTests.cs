using CageNet.Pricing;
using CageNet.Protocols;
using CageNet.TestFixtures;

namespace CageNet.Fuzz.Tests;

/// <summary>
/// <see cref="AgentLogImporter.Read"/> on mutated Claude Code transcripts, Codex rollouts and capture folders: it never
/// throws (a bad line or file is a problem, the rest still imported) and every record it produces holds the invariants.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ImporterFuzzTests : FuzzFolderFixture
{
    private static readonly PriceCatalog Prices = PriceCatalog.LoadPriceMap(RepositoryFixtures.WireFile("litellm_prices_sample.json"));

    [Test]
    public void ClaudeCodeImport() => Fuzz.Run("claude-code-import", Corpus.ClaudeCode, 400, c => Import(c, [("session.jsonl", c.Input)]));

    [Test]
    public void CodexImport() => Fuzz.Run("codex-import", Corpus.Codex, 400, c => Import(c, [("rollout-2026-06-20T10-00-00-0001.jsonl", c.Input)]));

    /// <summary>A capture folder of one to three mutated provider responses (JSON bodies and SSE streams).</summary>
    [Test]
    public void CapturedImport() => Fuzz.Run("captured-import", Corpus.Wire, 500, c =>
    {
        var files = new List<(string, byte[])> { (Name(c.Origin, 0), c.Input) };
        var extras = new List<string>();
        for (var extra = c.Random.Next(3); extra > 0; extra--)
        {
            var origin = Corpus.Wire[c.Random.Next(Corpus.Wire.Count)];
            files.Add((Name(origin, files.Count), Mutator.Mutate(origin.Bytes, c.Random, out var mutations)));
            extras.Add($"{Name(origin, files.Count - 1)} ({mutations})");
        }

        try
        {
            Import(c, files);
        }
        catch (FuzzViolation ex) when (extras.Count > 0)
        {
            throw new FuzzViolation($"{ex.Message}\n  the folder also held: {string.Join("; ", extras)}");
        }
    });

    private static string Name(SeedInput origin, int index) => $"{index}-{origin.Name}";

    private void Import(FuzzCase c, List<(string Name, byte[] Bytes)> files)
    {
        var folder = CaseFolder(c);
        try
        {
            var written = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var (name, bytes) in files)
            {
                var path = Path.Combine(folder, name);
                File.WriteAllBytes(path, bytes);
                written[Path.GetFullPath(path)] = bytes;
            }

            var import = AgentLogImporter.Read(files.Count == 1 ? Path.Combine(folder, files[0].Name) : folder, Prices);
            if (import.Origins.Count != import.Calls.Count)
            {
                throw new FuzzViolation($"{import.Calls.Count} calls but {import.Origins.Count} origins");
            }

            foreach (var problem in import.Problems)
            {
                if (string.IsNullOrWhiteSpace(problem.Message)) throw new FuzzViolation($"a problem without a message at {problem.File}:{problem.Line}");
            }

            var ids = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < import.Calls.Count; i++)
            {
                var call = import.Calls[i];
                var origin = import.Origins[i];
                var source = written.TryGetValue(origin.File, out var bytes) ? Invariants.Line(bytes, origin.Line) : [];
                Invariants.Call(call, source, $"call {i} ({Path.GetFileName(origin.File)}:{origin.Line}, {call.UsageStatus}, cost {call.CostUsd?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"})");
                if (!ids.Add(call.Id)) throw new FuzzViolation($"two calls share the id {call.Id}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
