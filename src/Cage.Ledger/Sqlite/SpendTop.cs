using System.Globalization;

namespace CageNet.Ledger;

/// <summary>
/// The most expensive groups of a report, chosen by SQLite: the per-day totals of the window's whole days and the calls
/// of its partial edge days are summed per group in one <c>GROUP BY</c>, ordered by cost and cut to the first
/// <c>top</c>, so a report of 20,000 tasks returns only the rows asked for. The dashboard's Breakdown page reads it.
/// </summary>
internal static class SpendTop
{
    /// <summary>
    /// The <paramref name="top"/> most expensive groups of <paramref name="dimension"/> over <paramref name="window"/>
    /// (ties by key), and how many groups the window has in all.
    /// </summary>
    public static (List<SpendGroup> Groups, int Count) Read(SqliteLedger ledger, ReportDimension dimension, TimeWindow window, int top)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(window);
        if (dimension == ReportDimension.Day || !Enum.IsDefined(dimension))
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "a group dimension other than day");
        }

        var segments = SqliteLedger.Segments(window);
        var parts = new List<string>();
        using var connection = ledger.OpenReader();
        using var command = connection.CreateCommand();
        if (segments.WholeDays)
        {
            var days = (segments.FirstDay is null ? "" : " AND day >= $firstDay") + (segments.EndDay is null ? "" : " AND day < $endDay");
            parts.Add($"""
                SELECT key AS k, calls AS n, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_e10, unpriced, missing, local
                FROM call_totals WHERE dim = $dim{days}
                """);
            command.Parameters.AddWithValue("$dim", (int)dimension);
            if (segments.FirstDay is { } first)
            {
                command.Parameters.AddWithValue("$firstDay", first);
            }

            if (segments.EndDay is { } end)
            {
                command.Parameters.AddWithValue("$endDay", end);
            }
        }

        for (var e = 0; e < segments.Edges.Count; e++)
        {
            var (from, to) = segments.Edges[e];
            command.Parameters.AddWithValue($"$from{e}", from);
            command.Parameters.AddWithValue($"$to{e}", to);
            parts.Add($"""
                SELECT {SqliteLedger.KeyColumn(dimension)} AS k, 1 AS n, input, cache_read, cache_write_5m, cache_write_1h, output,
                       coalesce(reasoning, 0) AS reasoning, coalesce(cost_e10, 0) AS cost_e10, cost_source = 3 AS unpriced,
                       usage_status = 1 AS missing, cost_source = 2 AS local
                FROM calls WHERE rk >= $from{e} * 1048576 AND rk < $to{e} * 1048576
                """);
        }

        // No value and a literal "(none)" are one group, as in a report.
        command.CommandText = $"""
            SELECT CASE WHEN k IS NULL OR k = '' THEN '{SpendReport.NoneKey}' ELSE k END AS g, sum(n), sum(input), sum(cache_read),
                   sum(cache_write_5m), sum(cache_write_1h), sum(output), sum(reasoning), sum(cost_e10), sum(unpriced), sum(missing),
                   sum(local), count(*) OVER ()
            FROM ({string.Join(" UNION ALL ", parts)})
            GROUP BY g ORDER BY sum(cost_e10) DESC, g LIMIT $top;
            """;
        command.Parameters.AddWithValue("$top", top);
        var groups = new Dictionary<string, SpendTotals>(StringComparer.Ordinal);
        var count = 0;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                SqliteLedger.AddGroup(reader, dimension, groups);
                count = Convert.ToInt32(reader.GetInt64(12), CultureInfo.InvariantCulture);
            }
        }

        var sorted = groups.Select(g => new SpendGroup(g.Key, g.Value))
            .OrderByDescending(g => g.Totals.CostUsd).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
        return (sorted, count);
    }
}
