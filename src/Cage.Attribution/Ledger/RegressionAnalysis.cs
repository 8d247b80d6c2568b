using System.Globalization;
using CageNet.Ledger;

namespace CageNet.Attribution;

/// <summary>
/// Compares cost per call and per task between two windows from the ledger's spend reports (per-day totals, so the
/// comparison does not read every call), and names the likely causes of a rise from the token buckets: a model change
/// (cost per token up, with the model mix changed), the cache hit rate down, or more tokens per call.
/// </summary>
internal static class RegressionAnalysis
{
    public static async ValueTask<IReadOnlyList<RegressionGroup>> CompareAsync(
        ILedgerReader ledger, RegressionQuery query, TimeWindow recent, TimeWindow baseline, CancellationToken cancellationToken)
    {
        var recentModels = await ledger.ReportAsync(new ReportQuery(ReportDimension.Model, recent), cancellationToken).ConfigureAwait(false);
        var baselineModels = await ledger.ReportAsync(new ReportQuery(ReportDimension.Model, baseline), cancellationToken).ConfigureAwait(false);
        var modelChange = ModelMixChange(recentModels, baselineModels);

        if (query.By is not { } by)
        {
            var recentTasks = await ledger.ReportAsync(new ReportQuery(ReportDimension.Task, recent), cancellationToken).ConfigureAwait(false);
            var baselineTasks = await ledger.ReportAsync(new ReportQuery(ReportDimension.Task, baseline), cancellationToken).ConfigureAwait(false);
            return [Compare("all", recentModels.Total, baselineModels.Total, Tasks(recentTasks), Tasks(baselineTasks), query.Tolerance, modelChange)];
        }

        var recentGroups = by == ReportDimension.Model ? recentModels : await ledger.ReportAsync(new ReportQuery(by, recent), cancellationToken).ConfigureAwait(false);
        var baselineGroups = by == ReportDimension.Model ? baselineModels : await ledger.ReportAsync(new ReportQuery(by, baseline), cancellationToken).ConfigureAwait(false);
        var before = baselineGroups.Groups.ToDictionary(g => g.Key, g => g.Totals, StringComparer.Ordinal);
        var after = recentGroups.Groups.ToDictionary(g => g.Key, g => g.Totals, StringComparer.Ordinal);
        return after.Keys.Union(before.Keys, StringComparer.Ordinal)
            .Select(key => Compare(
                key,
                after.GetValueOrDefault(key) ?? new SpendTotals(),
                before.GetValueOrDefault(key) ?? new SpendTotals(),
                null,
                null,
                query.Tolerance,
                by == ReportDimension.Model ? null : modelChange))
            .OrderByDescending(g => g.Regressed)
            .ThenByDescending(g => g.PerCallDrift ?? decimal.MinValue)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
    }

    private static long Tasks(SpendReport byTask) => byTask.Groups.Count(g => g.Key != SpendReport.NoneKey);

    private static RegressionGroup Compare(string key, SpendTotals recent, SpendTotals baseline, long? recentTasks, long? baselineTasks, decimal tolerance, string? modelChange)
    {
        var recentPerCall = PerCall(recent);
        var baselinePerCall = PerCall(baseline);
        var perCallDrift = Drift(recentPerCall, baselinePerCall);
        decimal? recentPerTask = recentTasks is > 0 ? recent.CostUsd / recentTasks.Value : null;
        decimal? baselinePerTask = baselineTasks is > 0 ? baseline.CostUsd / baselineTasks.Value : null;
        var perTaskDrift = Drift(recentPerTask, baselinePerTask);
        var regressed = perCallDrift > tolerance || perTaskDrift > tolerance;
        return new RegressionGroup
        {
            Key = key,
            RecentCalls = recent.Calls,
            BaselineCalls = baseline.Calls,
            RecentPerCallUsd = recentPerCall,
            BaselinePerCallUsd = baselinePerCall,
            PerCallDrift = perCallDrift,
            RecentTasks = recentTasks ?? 0,
            BaselineTasks = baselineTasks ?? 0,
            RecentPerTaskUsd = recentPerTask,
            BaselinePerTaskUsd = baselinePerTask,
            PerTaskDrift = perTaskDrift,
            Regressed = regressed,
            Comparable = recent.Calls > 0 && baseline.Calls > 0,
            Causes = regressed ? Causes(recent, baseline, tolerance, modelChange) : [],
        };
    }

    private static decimal? PerCall(SpendTotals totals)
    {
        var priced = totals.Calls - totals.UnpricedCalls;
        return priced > 0 ? totals.CostUsd / priced : null;
    }

    private static decimal? Drift(decimal? recent, decimal? baseline) =>
        recent is { } r && baseline is { } b && b != 0 ? Math.Round((r / b) - 1, 6, MidpointRounding.ToEven) : null;

    private static List<string> Causes(SpendTotals recent, SpendTotals baseline, decimal tolerance, string? modelChange)
    {
        var causes = new List<(decimal Weight, string Text)>();
        decimal TokensPerCall(SpendTotals t) => t.Calls == 0 ? 0 : (decimal)(t.TokensIn + t.Output) / t.Calls;
        decimal HitRate(SpendTotals t) => t.TokensIn == 0 ? 0 : (decimal)t.CacheRead / t.TokensIn;
        decimal? PerToken(SpendTotals t)
        {
            var tokens = t.TokensIn + t.Output;
            return tokens == 0 || t.Calls == t.UnpricedCalls ? null : t.CostUsd / tokens;
        }

        var tokensBefore = TokensPerCall(baseline);
        var tokensAfter = TokensPerCall(recent);
        if (tokensBefore > 0 && (tokensAfter / tokensBefore) - 1 > tolerance)
        {
            causes.Add(((tokensAfter / tokensBefore) - 1, string.Create(CultureInfo.InvariantCulture,
                $"more tokens per call: {tokensBefore:#,0} → {tokensAfter:#,0} (+{((tokensAfter / tokensBefore) - 1) * 100:0}%)")));
        }

        var hitBefore = HitRate(baseline);
        var hitAfter = HitRate(recent);
        if (hitBefore > 0 && hitBefore - hitAfter >= 0.05m && (hitBefore - hitAfter) / hitBefore > tolerance)
        {
            causes.Add(((hitBefore - hitAfter) / hitBefore, string.Create(CultureInfo.InvariantCulture,
                $"cache hit rate down: {hitBefore * 100:0}% → {hitAfter * 100:0}% of prompt tokens")));
        }

        if (PerToken(baseline) is { } pb && PerToken(recent) is { } pa && pb > 0 && (pa / pb) - 1 > tolerance)
        {
            causes.Add(((pa / pb) - 1, string.Create(CultureInfo.InvariantCulture,
                $"dearer tokens: cost per 1M tokens ${pb * 1_000_000:0.00} → ${pa * 1_000_000:0.00}")
                + (modelChange is null ? "" : $" — model change: {modelChange}")));
        }

        return causes.OrderByDescending(c => c.Weight).Select(c => c.Text).ToList();
    }

    /// <summary>The models that carry the most spend on each side, when they differ: "a → b".</summary>
    private static string? ModelMixChange(SpendReport recent, SpendReport baseline)
    {
        var top = recent.Groups.FirstOrDefault()?.Key;
        var before = baseline.Groups.FirstOrDefault()?.Key;
        if (top is null || before is null || top == before)
        {
            var added = recent.Groups.Select(g => g.Key).Except(baseline.Groups.Select(g => g.Key), StringComparer.Ordinal).ToList();
            return top is not null && before is not null && added.Count > 0 ? $"new model{(added.Count == 1 ? "" : "s")} {string.Join(", ", added)}" : null;
        }

        return $"{before} → {top}";
    }
}
