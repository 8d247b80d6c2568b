namespace CageNet.Ledger;

/// <summary>Reports by two dimensions computed from the calls themselves (the default of <see cref="ILedgerReader"/>).</summary>
internal static class PairReports
{
    /// <summary>The key of a call's group in a report by <paramref name="first"/> then <paramref name="second"/>.</summary>
    public static string KeyOf(CallRecord call, ReportDimension first, ReportDimension second) =>
        (InMemoryLedger.KeyOf(call, first) ?? SpendReport.NoneKey) + SpendReport.PairSeparator + (InMemoryLedger.KeyOf(call, second) ?? SpendReport.NoneKey);

    /// <summary>
    /// Reads the window's calls once and keeps one running total per pair (memory grows with the pairs, not the calls).
    /// </summary>
    public static async ValueTask<SpendReport> FromCallsAsync(ILedgerReader ledger, ReportQuery query, ReportDimension then, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        Validate(query.Dimension, then);
        var groups = new Dictionary<string, SpendTotalsBuilder>(StringComparer.Ordinal);
        await foreach (var call in ledger.ReadCallsAsync(query.Window, cancellationToken).ConfigureAwait(false))
        {
            var key = KeyOf(call, query.Dimension, then);
            if (!groups.TryGetValue(key, out var totals))
            {
                groups[key] = totals = new SpendTotalsBuilder();
            }

            totals.Add(call);
        }

        return Build(query, groups.Select(g => new SpendGroup(g.Key, g.Value.Build())));
    }

    /// <summary>Throws when either dimension is unknown or both are the same.</summary>
    public static void Validate(ReportDimension first, ReportDimension second)
    {
        if (!Enum.IsDefined(first))
        {
            throw new ArgumentOutOfRangeException(nameof(first), first, "unknown report dimension");
        }

        if (!Enum.IsDefined(second))
        {
            throw new ArgumentOutOfRangeException(nameof(second), second, "unknown report dimension");
        }

        if (first == second)
        {
            throw new ArgumentException($"a report by two dimensions needs two different ones (got {first} twice)", nameof(second));
        }
    }

    /// <summary>The report of the given groups: most expensive first, then by key, with the total over all of them.</summary>
    public static SpendReport Build(ReportQuery query, IEnumerable<SpendGroup> groups)
    {
        var sorted = groups.OrderByDescending(g => g.Totals.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        var total = new SpendTotals();
        foreach (var group in sorted)
        {
            total = SpendTotals.Sum(total, group.Totals);
        }

        return new SpendReport(query.Dimension, query.Window, sorted, total);
    }
}
