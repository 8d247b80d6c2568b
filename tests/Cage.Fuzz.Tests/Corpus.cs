using System.Text;
using CageNet.Cli.Policy;
using CageNet.TestFixtures;

namespace CageNet.Fuzz.Tests;

/// <summary>The seed inputs: the repository's real payloads (<c>tests/fixtures</c>, the protocol tests' own wire fixtures) and a few inline files.</summary>
internal static class Corpus
{
    private static readonly string[] NotWire = ["README.md", "expected_normalized.json", "expected.json", "litellm_prices_sample.json", "claude_code_session.jsonl", "codex_rollout.jsonl", "anthropic_ratelimit_headers.txt"];

    private static string ProtocolTestsWire => Path.Combine(RepositoryFixtures.Repository, "tests", "Cage.Protocols.Tests", "Fixtures", "wire");

    private static string ReferenceLedger => Path.Combine(RepositoryFixtures.WorkedExample, "input", ".cage", "ledger");

    /// <summary>Provider responses: JSON bodies and SSE / JSON-array streams of every wire format.</summary>
    public static IReadOnlyList<SeedInput> Wire { get; } = [.. WireFiles(RepositoryFixtures.Wire), .. WireFiles(ProtocolTestsWire)];

    public static IReadOnlyList<SeedInput> ClaudeCode { get; } = [File("claude_code_session.jsonl", RepositoryFixtures.WireFile("claude_code_session.jsonl"))];

    public static IReadOnlyList<SeedInput> Codex { get; } = [File("codex_rollout.jsonl", RepositoryFixtures.WireFile("codex_rollout.jsonl"))];

    /// <summary>One seed per line of the worked example's <c>calls.jsonl</c>.</summary>
    public static IReadOnlyList<SeedInput> ReferenceCalls { get; } = Lines(Path.Combine(ReferenceLedger, "calls.jsonl"));

    public static IReadOnlyList<SeedInput> ReferenceReceipts { get; } = Lines(Path.Combine(ReferenceLedger, "receipts.jsonl"));

    public static IReadOnlyList<SeedInput> Outcomes { get; } =
    [
        File("worked-example outcomes.json", Path.Combine(RepositoryFixtures.WorkedExample, "input", ".cage", "outcomes.json")),
        Text("outcomes (object form)", """
            {
              "fix-handover-bug": { "outcome": "ok", "ts": "2026-06-20T10:00:00Z" },
              "flaky-test": { "status": "redo", "ts": "2026-06-21T09:30:00+02:00" },
              "rewrite": "failed",
              // comments and trailing commas are allowed
              "spike": "ok",
            }
            """),
    ];

    public static IReadOnlyList<SeedInput> PolicyJson { get; } =
    [
        Text("cage init template", PolicyFile.Template),
        Text("cage.json with overrides", """
            {
              "Cage": {
                "Pricing": {
                  "MapFile": "",
                  "Overrides": { "acme/model-x": { "Provider": "acme", "Input": 1.5, "Output": 6, "CacheRead": 0.15 } },
                  "LocalModels": [ "ollama/*" ]
                },
                "Budgets": {
                  "OnExceed": "block",
                  "Nodes": {
                    "day": { "Usd": 25, "Period": "day" },
                    "month": { "Tokens": 1000000, "Period": "month" },
                    "session/{session}": { "Usd": 2.5 }
                  }
                }
              }
            }
            """),
    ];

    public static IReadOnlyList<SeedInput> PolicyToml { get; } =
    [
        Text("policy.toml", """
            # the reference tool's policy
            version = 2
            tools_order = ["graphify", "fux", "compressor"]
            local_models = ["ollama/*"]

            [pricing.openai]
            "gpt-4o" = { input = 2.5, output = 10, cache_read = 1.25 }

            [pricing.anthropic.claude-sonnet-4-5]
            input = 3
            output = 15
            cache_read_input_token_cost = 0.0000003
            cache_write_1h = 6
            provider = "anthropic"

            [pricing]
            local = ["lmstudio/*"]

            [pricing.aliases]
            opus = "anthropic/claude-opus-4-8"

            [budgets]
            session_usd = 2.0
            on_exceed = "block"

            [budgets.day]
            usd = 25

            [budget]
            month_tokens = 1_000_000
            hex = 0xDEAD_BEEF
            when = 2026-06-20T10:00:00Z
            text = '''
            multi
            line'''

            [[tools]]
            name = "graphify"
            enabled = true
            """),
    ];

    public static IReadOnlyList<SeedInput> PriceMap { get; } = [File("litellm_prices_sample.json", RepositoryFixtures.WireFile("litellm_prices_sample.json"))];

    private static IEnumerable<SeedInput> WireFiles(string folder) =>
        Directory.EnumerateFiles(folder)
            .Where(f => !NotWire.Contains(Path.GetFileName(f), StringComparer.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => File(Path.GetFileName(f), f));

    private static IReadOnlyList<SeedInput> Lines(string file) =>
        [.. System.IO.File.ReadAllLines(file).Select((line, i) => (line, i)).Where(x => x.line.Trim().Length > 0)
            .Select(x => new SeedInput($"{Path.GetFileName(file)}:{x.i + 1}", Encoding.UTF8.GetBytes(x.line)))];

    private static SeedInput File(string name, string path) => new(name, System.IO.File.ReadAllBytes(path));

    private static SeedInput Text(string name, string text) => new(name, Encoding.UTF8.GetBytes(text));
}
