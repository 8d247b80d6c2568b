using System.Text.Json.Nodes;
using CageNet.Cli;
using CageNet.Cli.Policy;
using CageNet.Pricing;

namespace CageNet.Fuzz.Tests;

/// <summary>
/// The CLI's policy and outcomes readers and the community price map: bad input is a <see cref="CliException"/> (exit 2,
/// naming the file), a <see cref="PolicyTomlException"/> (file:line:column) or a <see cref="PriceMapException"/>, never another
/// exception, a crash or a hang.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PolicyFuzzTests : FuzzFolderFixture
{
    private static readonly DateTimeOffset Now = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    /// <summary><c>outcomes.json</c>: a bad file is a <see cref="CliException"/>; a bad entry is a problem, the rest kept.</summary>
    [Test]
    public void Outcomes() => Fuzz.Run("outcomes", Corpus.Outcomes, 400, c =>
    {
        var file = Write(c, ReferenceOutcomes.FileName);
        try
        {
            var (labels, problems) = ReferenceOutcomes.Read(file, Now);
            if (labels.Any(l => string.IsNullOrWhiteSpace(l.Task))) throw new FuzzViolation("a label without a task name");
            if (problems.Any(p => string.IsNullOrWhiteSpace(p.Message))) throw new FuzzViolation("a problem without a message");
        }
        catch (CliException ex)
        {
            Rejected(ex, file);
        }
    });

    /// <summary><c>.cage/cage.json</c>: the options, the budget tree, the editable document and the monthly budget.</summary>
    [Test]
    public void PolicyJson() => Fuzz.Run("policy-json", Corpus.PolicyJson, 400, c =>
    {
        var file = Write(c, PolicyFile.FileName);
        foreach (var read in new Action[]
        {
            () => PolicyFile.Load(file, _ => { }),
            () => PolicyFile.LoadBudgets(file),
            () => PolicyFile.ReadDocument(file),
            () => PolicyFile.MonthlyBudget(file, Now),
        })
        {
            try
            {
                read();
            }
            catch (CliException ex)
            {
                Rejected(ex, file);
            }
        }
    });

    /// <summary>The reference tool's <c>policy.toml</c>: read, mapped and merged into a <c>cage.json</c> document.</summary>
    [Test]
    public void PolicyToml() => Fuzz.Run("policy-toml", Corpus.PolicyToml, 500, c =>
    {
        var file = Write(c, "policy.toml");
        ReferencePolicy policy;
        try
        {
            policy = ReferencePolicy.Read(file);
        }
        catch (PolicyTomlException ex)
        {
            if (!ex.Message.Contains(file, StringComparison.Ordinal)) throw new FuzzViolation($"a TOML error that does not name the file: {ex.Message}");
            return;
        }

        _ = policy.MergeInto(new JsonObject());
    });

    /// <summary>The community price map: a bad map is a <see cref="PriceMapException"/>; a good one prices without throwing.</summary>
    [Test]
    public void PriceMap() => Fuzz.Run("price-map", Corpus.PriceMap, 400, c =>
    {
        PriceCatalog catalog;
        try
        {
            using var stream = new MemoryStream(c.Input);
            catalog = PriceCatalog.ParsePriceMap(stream, "prices.json");
        }
        catch (PriceMapException ex)
        {
            if (string.IsNullOrWhiteSpace(ex.Message)) throw new FuzzViolation("a price map error without a message");
            return;
        }

        var usage = new TokenUsage(1_000, 200, 30, 40, 500, 100);
        foreach (var key in catalog.Keys.Take(50))
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var quote = slash > 0 ? catalog.Price(key[..slash], key[(slash + 1)..], usage) : catalog.Price("", key, usage);
            if (quote.CostUsd < 0) throw new FuzzViolation($"{key}: a negative price {quote.CostUsd}");
        }
    });

    private string Write(FuzzCase c, string name)
    {
        var folder = CaseFolder(c);
        var file = Path.Combine(folder, name);
        File.WriteAllBytes(file, c.Input);
        return file;
    }

    private static void Rejected(CliException ex, string file)
    {
        if (ex.ExitCode != ExitCodes.BadInput) throw new FuzzViolation($"bad input rejected with exit {ex.ExitCode}, not {ExitCodes.BadInput}: {ex.Message}");
        if (!ex.Message.Contains(file, StringComparison.Ordinal)) throw new FuzzViolation($"a rejection that does not name the file: {ex.Message}");
    }
}
