using System.Globalization;
using System.Text;

namespace CageNet.Testing;

/// <summary>
/// Cost baselines: a scenario's spend, calls and tokens compared with a committed JSON file, within a tolerance. A
/// regression (more cost, prompt or output tokens, calls or unpriced calls than the baseline allows) fails with a diff;
/// a cheaper run passes and says so. With <see cref="UpdateVariable"/> set to <c>1</c> (or
/// <see cref="CostBaselineOptions.Update"/>) the file is written with the new figures instead, and the check passes.
/// </summary>
public static class CostBaseline
{
    /// <summary>The environment variable that updates baselines instead of checking them: <c>CAGE_UPDATE_BASELINES=1</c> (or <c>true</c>).</summary>
    public const string UpdateVariable = "CAGE_UPDATE_BASELINES";

    /// <summary>The default tolerance: 0.05, a 5% rise in cost or tokens passes.</summary>
    public const double DefaultTolerance = 0.05;

    /// <summary>Whether <see cref="UpdateVariable"/> asks for an update (<c>1</c>, <c>true</c> or <c>yes</c>, any case).</summary>
    public static bool UpdateRequested => IsOn(Environment.GetEnvironmentVariable(UpdateVariable));

    /// <summary>Whether a setting's value turns updating on: <c>1</c>, <c>true</c> or <c>yes</c>, any case.</summary>
    /// <param name="value">The value.</param>
    /// <returns><see langword="true"/> when it is on.</returns>
    public static bool IsOn(string? value) =>
        value?.Trim() is { } v && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase) || v.Equals("yes", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Where a named baseline lives: <paramref name="name"/> as is when it is a rooted path; else, beside the test's
    /// source file (<paramref name="sourceFile"/>, normally <c>[CallerFilePath]</c>), <c>baselines/&lt;name&gt;.json</c>, or
    /// <paramref name="name"/> itself when it has a folder or ends in <c>.json</c>. When the source folder does not exist
    /// (a build that maps paths), the current directory stands in for it.
    /// </summary>
    /// <param name="name">The scenario name (<c>agent-answers</c>) or a path.</param>
    /// <param name="sourceFile">The test's source file.</param>
    /// <returns>The full path.</returns>
    public static string PathFor(string name, string? sourceFile)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (Path.IsPathRooted(name))
        {
            return Path.GetFullPath(name);
        }

        var folder = sourceFile is { Length: > 0 } && Path.GetDirectoryName(sourceFile) is { Length: > 0 } dir && Directory.Exists(dir)
            ? dir
            : Directory.GetCurrentDirectory();
        var relative = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
            ? name
            : Path.Combine("baselines", name + ".json");
        return Path.GetFullPath(Path.Combine(folder, relative));
    }

    /// <summary>Compares a snapshot with the baseline at <paramref name="path"/> (or records it, when updating).</summary>
    /// <param name="snapshot">What the scenario's meter recorded.</param>
    /// <param name="path">The baseline file.</param>
    /// <param name="options">Tolerance and update; defaults when <see langword="null"/>.</param>
    /// <returns>The verdict, with a readable diff.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The tolerance is negative or not a number.</exception>
    public static CostBaselineResult Check(CageTestSnapshot snapshot, string path, CostBaselineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new CostBaselineOptions();
        var tolerance = options.Tolerance;
        if (double.IsNaN(tolerance) || tolerance < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), tolerance, "the tolerance is a fraction ≥ 0 (0.05 for 5%)");
        }

        var actual = CostFigures.Of(snapshot);
        var scenario = options.Scenario ?? Path.GetFileNameWithoutExtension(path);
        var update = options.Update ?? UpdateRequested;
        CostFigures? baseline = null;
        if (File.Exists(path))
        {
            try
            {
                baseline = CostFigures.FromJson(File.ReadAllText(path));
            }
            catch (FormatException ex) when (!update)
            {
                return new CostBaselineResult(path, null, actual, false, false, false, $"cost baseline '{scenario}' at {path} cannot be read: {ex.Message}\n{Hint(path)}");
            }
            catch (FormatException)
            {
                // Updating: a broken file is replaced.
            }
        }

        if (update)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual.ToJson(scenario));
            return new CostBaselineResult(path, baseline, actual, true, true, false,
                $"cost baseline '{scenario}' recorded at {path}: {snapshot.Summary()} ({UpdateVariable} is set); commit it");
        }

        if (baseline is null)
        {
            return new CostBaselineResult(path, null, actual, false, false, false,
                $"no cost baseline '{scenario}' at {path}: run the test once with {UpdateVariable}=1 to record it ({snapshot.Summary()}), then commit the file");
        }

        var rows = new List<Row>
        {
            Row.Of("cost", baseline.CostUsd, actual.CostUsd, tolerance, money: true),
            Row.Of("calls", baseline.Calls, actual.Calls, tolerance),
            Row.Of("prompt tokens", baseline.PromptTokens, actual.PromptTokens, tolerance),
            Row.Of("  input", baseline.InputTokens, actual.InputTokens, tolerance, gates: false),
            Row.Of("  cache read", baseline.CacheReadTokens, actual.CacheReadTokens, tolerance, gates: false),
            Row.Of("  cache write", baseline.CacheWriteTokens, actual.CacheWriteTokens, tolerance, gates: false),
            Row.Of("output tokens", baseline.OutputTokens, actual.OutputTokens, tolerance),
            Row.Of("unpriced calls", baseline.UnpricedCalls, actual.UnpricedCalls, 0),
        };
        var regressed = rows.Where(r => r.Regressed).Select(r => r.Name.Trim()).ToList();
        var improved = rows.Any(r => r.Gates && r.Improved) && regressed.Count == 0;
        var pct = tolerance.ToString("0.##%", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"cost baseline '{scenario}' ")
            .Append(regressed.Count > 0 ? $"regressed beyond its {pct} tolerance ({string.Join(", ", regressed)})"
                : improved ? $"improved beyond its {pct} tolerance: update the baseline to lock the saving in"
                : $"holds within {pct}")
            .Append(CultureInfo.InvariantCulture, $": {path}\n");
        var widths = new[] { rows.Max(r => r.Name.Length), Math.Max(8, rows.Max(r => r.Baseline.Length)), Math.Max(6, rows.Max(r => r.Actual.Length)), Math.Max(6, rows.Max(r => r.Change.Length)) };
        sb.Append("  ").Append("".PadRight(widths[0])).Append("  ").Append("baseline".PadLeft(widths[1])).Append("  ")
            .Append("actual".PadLeft(widths[2])).Append("  ").Append("change".PadLeft(widths[3])).Append('\n');
        foreach (var r in rows)
        {
            sb.Append("  ").Append(r.Name.PadRight(widths[0])).Append("  ").Append(r.Baseline.PadLeft(widths[1])).Append("  ")
                .Append(r.Actual.PadLeft(widths[2])).Append("  ").Append(r.Change.PadLeft(widths[3]));
            if (r.Regressed)
            {
                sb.Append("  REGRESSED");
            }

            sb.Append('\n');
        }

        AppendCounts(sb, "models", baseline.Models, actual.Models);
        AppendCounts(sb, "routes", baseline.Routes, actual.Routes);
        if (regressed.Count > 0)
        {
            sb.Append("the calls of this run:\n").Append(snapshot.DescribeCalls()).Append('\n').Append(Hint(path));
        }

        return new CostBaselineResult(path, baseline, actual, regressed.Count == 0, false, improved, sb.ToString().TrimEnd('\n'));
    }

    private static string Hint(string path) =>
        $"if the new cost is intended, re-run with {UpdateVariable}=1 and commit {Path.GetFileName(path)}";

    private static void AppendCounts(StringBuilder sb, string name, IReadOnlyDictionary<string, int> baseline, IReadOnlyDictionary<string, int> actual)
    {
        var before = CostFigures.Describe(baseline);
        var after = CostFigures.Describe(actual);
        sb.Append("  ").Append(name).Append(": ").Append(before == after ? after : $"{before} → {after}").Append('\n');
    }

    private sealed record Row(string Name, string Baseline, string Actual, string Change, bool Regressed, bool Improved, bool Gates)
    {
        public static Row Of(string name, decimal baseline, decimal actual, double tolerance, bool money = false, bool gates = true)
        {
            string Show(decimal v) => money ? CageTestFormat.Money(v) : v.ToString("#,##0", CultureInfo.InvariantCulture);
            var limit = baseline * (1m + (decimal)tolerance);
            var floor = baseline * (1m - (decimal)tolerance);
            var change = actual == baseline ? "="
                : baseline == 0 ? "new"
                : ((actual - baseline) / baseline).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
            return new Row(name, Show(baseline), Show(actual), change, gates && actual > limit, actual < floor, gates);
        }
    }
}

/// <summary>How <see cref="CostBaseline.Check"/> compares.</summary>
public sealed class CostBaselineOptions
{
    /// <summary>
    /// How much higher cost, prompt tokens, output tokens and calls may be than the baseline, as a fraction: 0.05 (the
    /// default) lets a 5% rise pass. Unpriced calls have no tolerance.
    /// </summary>
    public double Tolerance { get; set; } = CostBaseline.DefaultTolerance;

    /// <summary>
    /// Whether to write the baseline instead of checking it. <see langword="null"/> (the default): when
    /// <see cref="CostBaseline.UpdateVariable"/> is set.
    /// </summary>
    public bool? Update { get; set; }

    /// <summary>The scenario name recorded in the file and shown in messages; default the file's name.</summary>
    public string? Scenario { get; set; }
}

/// <summary>The verdict of a cost baseline check.</summary>
/// <param name="Path">The baseline file.</param>
/// <param name="Baseline">The committed figures, when the file exists and reads.</param>
/// <param name="Actual">This run's figures.</param>
/// <param name="Passed">Whether the run is within the baseline (or the baseline was updated).</param>
/// <param name="Updated">Whether the file was written with this run's figures.</param>
/// <param name="Improved">Whether the run is cheaper than the baseline beyond the tolerance (it passes).</param>
/// <param name="Message">What happened, with the diff table (and the calls, on a regression).</param>
public sealed record CostBaselineResult(string Path, CostFigures? Baseline, CostFigures Actual, bool Passed, bool Updated, bool Improved, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Message;
}
