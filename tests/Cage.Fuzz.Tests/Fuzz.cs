using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace CageNet.Fuzz.Tests;

/// <summary>One seed input of a target's corpus: a real payload from <c>tests/fixtures</c> (or a small inline one).</summary>
internal sealed record SeedInput(string Name, byte[] Bytes);

/// <summary>One fuzz case: which target, seed and index, the seed input it came from, the mutations and the bytes.</summary>
internal sealed class FuzzCase
{
    public required string Target { get; init; }

    public required int Seed { get; init; }

    public required int Index { get; init; }

    public required SeedInput Origin { get; init; }

    public required string Mutations { get; init; }

    public required byte[] Input { get; init; }

    /// <summary>A random source for the target's own choices (protocol, chunk sizes…), also derived from the seed and index.</summary>
    public required Random Random { get; init; }
}

/// <summary>An invariant did not hold for a case.</summary>
internal sealed class FuzzViolation(string message) : Exception(message);

/// <summary>
/// Runs a target's cases: case <c>i</c> of target <c>t</c> under seed <c>s</c> always mutates the same seed input the
/// same way, so a failure printed as <c>seed s, case i</c> is rerun exactly with <c>CAGE_FUZZ_SEED=s CAGE_FUZZ_CASE=i</c>.
/// The first cases (one per seed input) are the seed inputs unmutated, a baseline that the invariants hold on real data.
/// </summary>
/// <remarks>
/// Environment: <c>CAGE_FUZZ_SEED</c> (default <see cref="DefaultSeed"/>), <c>CAGE_FUZZ_CASES</c> (cases per target,
/// default per target), <c>CAGE_FUZZ_CASE</c> (run only that case index, in every target or in the one filtered to),
/// <c>CAGE_FUZZ_TIMEOUT_MS</c> (per-case limit, default 5000; a case that takes longer is a hang).
/// </remarks>
internal static class Fuzz
{
    /// <summary>The seed CI runs with, so every run checks the same cases.</summary>
    public const int DefaultSeed = 20260613;

    private const int MaxFailuresListed = 5;

    public static int Seed => Integer("CAGE_FUZZ_SEED") ?? DefaultSeed;

    public static int? OnlyCase => Integer("CAGE_FUZZ_CASE");

    public static TimeSpan CaseTimeout => TimeSpan.FromMilliseconds(Integer("CAGE_FUZZ_TIMEOUT_MS") ?? 5000);

    /// <summary>Cases for a target: <c>CAGE_FUZZ_CASES</c> when set, else the target's default.</summary>
    public static int Cases(int @default) => Integer("CAGE_FUZZ_CASES") ?? @default;

    /// <summary>
    /// Runs the cases of <paramref name="target"/> and fails (listing up to five failing cases with their seed, index,
    /// mutations and the file the mutated input was saved to) when any case breaks an invariant, throws or hangs.
    /// </summary>
    /// <param name="target">The target's name (also mixed into each case's seed).</param>
    /// <param name="corpus">The seed inputs.</param>
    /// <param name="defaultCases">Cases when <c>CAGE_FUZZ_CASES</c> is not set.</param>
    /// <param name="check">Runs the component on the case and throws <see cref="FuzzViolation"/> when an invariant fails; any other exception escaping is a failure too.</param>
    public static void Run(string target, IReadOnlyList<SeedInput> corpus, int defaultCases, Action<FuzzCase> check)
    {
        Assert.That(corpus, Is.Not.Empty, $"{target}: no seed inputs");
        var seed = Seed;
        var cases = OnlyCase is { } only ? [only] : Enumerable.Range(0, Math.Max(Cases(defaultCases), corpus.Count));
        var failures = new List<string>();
        var ran = 0;
        var watch = Stopwatch.StartNew();
        foreach (var index in cases)
        {
            var fuzzCase = Make(target, seed, index, corpus);
            ran++;
            var task = Task.Run(() => check(fuzzCase));
            string? failure = null;
            try
            {
                if (!task.Wait(CaseTimeout))
                {
                    failure = $"did not finish within {CaseTimeout.TotalSeconds:0.#} s (a hang)";
                }
            }
            catch (AggregateException ex) when (ex.InnerException is FuzzViolation violation)
            {
                failure = violation.Message;
            }
            catch (AggregateException ex) when (ex.InnerException is { } inner)
            {
                failure = $"threw {inner.GetType().FullName}: {inner.Message}\n{inner.StackTrace}";
            }

            if (failure is not null)
            {
                failures.Add(Describe(fuzzCase, failure));
                if (failures.Count >= MaxFailuresListed || failure.Contains("(a hang)", StringComparison.Ordinal))
                {
                    break; // a hung case still holds its thread: stop here
                }
            }
        }

        TestContext.Out.WriteLine($"{target}: {ran} case(s) with seed {seed} in {watch.Elapsed.TotalSeconds:0.00} s");
        if (failures.Count > 0)
        {
            Assert.Fail($"{target}: {failures.Count} failing case(s) (seed {seed})\n\n" + string.Join("\n\n", failures));
        }
    }

    /// <summary>Builds case <paramref name="index"/> of a target: the same seed, target and index give the same bytes.</summary>
    public static FuzzCase Make(string target, int seed, int index, IReadOnlyList<SeedInput> corpus)
    {
        var random = new Random(CaseSeed(seed, target, index));
        SeedInput origin;
        byte[] input;
        string mutations;
        if (index < corpus.Count)
        {
            origin = corpus[index];
            input = origin.Bytes;
            mutations = "none (the seed input as it is)";
        }
        else
        {
            origin = corpus[random.Next(corpus.Count)];
            input = Mutator.Mutate(origin.Bytes, random, out mutations);
        }

        return new FuzzCase { Target = target, Seed = seed, Index = index, Origin = origin, Mutations = mutations, Input = input, Random = random };
    }

    private static string Describe(FuzzCase c, string failure)
    {
        var saved = Save(c);
        return $"""
            [{c.Target}] seed {c.Seed}, case {c.Index}: {failure}
              seed input: {c.Origin.Name}; mutations: {c.Mutations}; {c.Input.Length} bytes, saved to {saved}
              input starts: {Preview(c.Input)}
              rerun exactly this case: CAGE_FUZZ_SEED={c.Seed} CAGE_FUZZ_CASE={c.Index} dotnet test tests/Cage.Fuzz.Tests --filter "Name~{TestName(c.Target)}"
            """;
    }

    /// <summary>The NUnit test of a target is named after it (<c>wire-parse</c> → <c>WireParse</c>).</summary>
    public static string TestName(string target) =>
        string.Concat(target.Split('-').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    private static string Save(FuzzCase c)
    {
        try
        {
            var folder = Path.Combine(TestContext.CurrentContext.WorkDirectory, "fuzz-failures");
            Directory.CreateDirectory(folder);
            var file = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{c.Target}-{c.Seed}-{c.Index}.bin"));
            File.WriteAllBytes(file, c.Input);
            return file;
        }
        catch (IOException ex)
        {
            return "(not saved: " + ex.Message + ")";
        }
    }

    private static string Preview(byte[] input)
    {
        var text = new StringBuilder();
        foreach (var b in input.AsSpan(0, Math.Min(input.Length, 160)))
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : string.Create(CultureInfo.InvariantCulture, $"\\x{b:X2}"));
        }

        return input.Length > 160 ? text + "…" : text.ToString();
    }

    /// <summary>A stable mix of the seed, the target's name and the case index (never <see cref="string.GetHashCode()"/>, which varies per process).</summary>
    private static int CaseSeed(int seed, string target, int index)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in target)
        {
            hash = (hash ^ ch) * 1099511628211UL;
        }

        hash ^= (ulong)(uint)seed * 0x9E3779B97F4A7C15UL;
        hash ^= (ulong)(uint)index * 0xC2B2AE3D27D4EB4FUL;
        hash ^= hash >> 33;
        hash *= 0xFF51AFD7ED558CCDUL;
        hash ^= hash >> 33;
        return (int)(hash & 0x7FFFFFFF);
    }

    private static int? Integer(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
}
