using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Cli.Tests;

/// <summary>What one in-process <c>cage</c> run printed and returned.</summary>
internal sealed record CliRun(int ExitCode, string Out, string Err)
{
    public JsonElement Json() => JsonDocument.Parse(Out).RootElement.Clone();
}

/// <summary>
/// Runs <c>cage</c> in-process in a fresh temporary folder, with a fake clock (default 2026-06-20T12:00:00Z, the
/// fixture's) and an environment of its own, against a real SQLite ledger file.
/// </summary>
internal sealed class CliHarness : IDisposable
{
    public static readonly DateTimeOffset FixtureNow = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    public CliHarness()
    {
        Folder = Path.Combine(Path.GetTempPath(), "cage-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public FakeTimeProvider Time { get; } = new(FixtureNow);

    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether the CLI is told its stderr is a terminal (progress is shown only then); off, as when redirected.</summary>
    public bool ErrorIsTerminal { get; set; }

    /// <summary>What the CLI reads on stdin (only <c>cage hooks run</c> reads it); empty when <see langword="null"/>.</summary>
    public string? Stdin { get; set; }

    public string LedgerPath => Path.Combine(Folder, ".cage", "ledger.db");

    public string PolicyPath => Path.Combine(Folder, ".cage", "cage.json");

    public string PathOf(params string[] parts) => Path.Combine([Folder, .. parts]);

    public async Task<CliRun> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var stdin = new StringReader(Stdin ?? "");
        var code = await CageCli.RunAsync(args, stdout, stderr, Time, Folder, Environment, ErrorIsTerminal, default, stdin);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open on some platforms; the temp folder is cleaned up eventually.
        }
    }
}

/// <summary>The repository's fixtures (<c>tests/fixtures</c>).</summary>
internal static class Fixtures
{
    public static string Wire(string name) => CageNet.TestFixtures.RepositoryFixtures.WireFile(name);

    public static string WorkedExample => CageNet.TestFixtures.RepositoryFixtures.WorkedExample;

    public static string Output(string name) => File.ReadAllText(Path.Combine(WorkedExample, "output", name));

    public static JsonElement OutputJson(string name) => JsonDocument.Parse(Output(name)).RootElement.Clone();
}

/// <summary>Compares our JSON with a fixture's: every field the fixture has must be in ours with the same value (numbers compared as decimals).</summary>
internal static class JsonAssert
{
    public static void ContainsFixture(JsonElement expected, JsonElement actual, string path = "$")
    {
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.That(actual.ValueKind, Is.EqualTo(JsonValueKind.Object), path);
                foreach (var property in expected.EnumerateObject())
                {
                    Assert.That(actual.TryGetProperty(property.Name, out var value), Is.True, $"{path}.{property.Name} is missing");
                    ContainsFixture(property.Value, value, $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                Assert.That(actual.ValueKind, Is.EqualTo(JsonValueKind.Array), path);
                Assert.That(actual.GetArrayLength(), Is.EqualTo(expected.GetArrayLength()), $"{path} length");
                for (var i = 0; i < expected.GetArrayLength(); i++)
                {
                    ContainsFixture(expected[i], actual[i], $"{path}[{i}]");
                }

                break;
            case JsonValueKind.Number:
                Assert.That(actual.ValueKind, Is.EqualTo(JsonValueKind.Number), path);
                Assert.That(actual.GetDecimal(), Is.EqualTo(expected.GetDecimal()), path);
                break;
            case JsonValueKind.String:
                Assert.That(actual.ValueKind, Is.EqualTo(JsonValueKind.String), path);
                Assert.That(actual.GetString(), Is.EqualTo(expected.GetString()), path);
                break;
            default:
                Assert.That(actual.ValueKind, Is.EqualTo(expected.ValueKind), path);
                break;
        }
    }
}
