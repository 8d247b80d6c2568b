using System.Globalization;

namespace CageNet.Ledger;

/// <summary>
/// A page of the groups of a report, most expensive first, chosen by SQLite: the per-day totals of the window's whole
/// days and the calls of its partial edge days are summed per group by cost alone (over whole days, one walk of the
/// dimension's totals in key order, summing one column), the groups are ranked by cost and key, and only the page's
/// groups are then summed in full, so a report of 20,000 tasks returns only the rows asked for. The dashboard's
/// Breakdown page reads it, a page at a time.
/// </summary>
internal static class SpendTop
{
    /// <summary>
    /// The groups of <paramref name="dimension"/> over <paramref name="window"/> ranked <paramref name="offset"/> to
    /// <paramref name="offset"/> + <paramref name="top"/> − 1 (from 0; most expensive first, ties by key, as a report
    /// orders them), and how many groups the window has in all.
    /// </summary>
    public static (List<SpendGroup> Groups, int Count) Read(SqliteLedger ledger, ReportDimension dimension, TimeWindow window, int top, int offset = 0)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(window);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(top);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (dimension == ReportDimension.Day || !Enum.IsDefined(dimension))
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "a group dimension other than day");
        }

        var segments = SqliteLedger.Segments(window);
        using var connection = ledger.OpenReader();

        // 1. The page's groups by cost alone, ranked by SQLite as a report ranks its groups (cost, then key): the groups
        //    with a value grouped by their raw key (over whole days one walk of the dimension's totals in key order),
        //    and no value with a literal "(none)" as the one (none) group. Ties are ordered by the keys' UTF-8 bytes,
        //    which is the report's ordinal order except between a character from U+E000 to U+FFFF and one above
        //    U+FFFF at the first difference (a .NET collation here would be called on every tie, and many tasks tie).
        var page = new List<string>();
        using (var command = Command(connection, dimension, segments, all: false, out var parts))
        {
            command.CommandText = $"""
                SELECT k, sum(c) AS cost FROM ({parts}) WHERE {NotNone} GROUP BY k
                UNION ALL
                SELECT '{SpendReport.NoneKey}', sum(c) FROM ({parts}) WHERE k IN ('', '{SpendReport.NoneKey}') HAVING count(*) > 0
                ORDER BY cost DESC, k LIMIT $top OFFSET $offset;
                """;
            command.Parameters.AddWithValue("$top", top);
            command.Parameters.AddWithValue("$offset", offset);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                page.Add(reader.GetString(0));
            }
        }

        int count;
        using (var command = Command(connection, dimension, segments, all: false, out var parts))
        {
            command.CommandText = $"SELECT count(DISTINCT k), (SELECT count(*) FROM ({parts}) WHERE k IN ('', '{SpendReport.NoneKey}')) FROM ({parts}) WHERE {NotNone};";
            using var reader = command.ExecuteReader();
            reader.Read();
            count = reader.GetInt32(0) + (reader.GetInt64(1) > 0 ? 1 : 0);
        }

        if (page.Count == 0)
        {
            return ([], count);
        }

        // 2. Every sum of the page's groups, in the page's order.
        var groups = new Dictionary<string, SpendTotals>(StringComparer.Ordinal);
        using (var command = Command(connection, dimension, segments, all: true, out var parts))
        {
            var keys = new List<string>();
            foreach (var key in page)
            {
                if (key == SpendReport.NoneKey)
                {
                    continue;
                }

                command.Parameters.AddWithValue($"$key{keys.Count}", key);
                keys.Add($"$key{keys.Count}");
            }

            var chosen = new List<string>();
            if (keys.Count > 0)
            {
                chosen.Add($"k IN ({string.Join(", ", keys)})");
            }

            if (keys.Count < page.Count)
            {
                chosen.Add($"NOT ({NotNone})");
            }

            command.CommandText = $"""
                SELECT {Group}, sum(n), sum(input), sum(cache_read),
                       sum(cache_write_5m), sum(cache_write_1h), sum(output), sum(reasoning), sum(cost_e10), sum(unpriced), sum(missing), sum(local)
                FROM ({parts}) WHERE {string.Join(" OR ", chosen)} GROUP BY g;
                """;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                SqliteLedger.AddGroup(reader, dimension, groups);
            }
        }

        return (page.Select(key => new SpendGroup(key, groups[key])).ToList(), count);
    }

    // The group of a part's key: itself, or (none) for no value and a literal "(none)".
    private const string Group = $"CASE WHEN {NotNone} THEN k ELSE '{SpendReport.NoneKey}' END AS g";

    // A group key that is neither no value nor a literal "(none)" (the parts' keys are never NULL).
    private const string NotNone = $"k <> '' AND k <> '{SpendReport.NoneKey}'";

    /// <summary>
    /// A command with the window's parameters bound, and the UNION ALL of its parts as <paramref name="parts"/>: the
    /// dimension's per-day totals of the whole days and the calls of the partial days, with the key as <c>k</c> ('' for
    /// none) and the cost as <c>c</c>, or (<paramref name="all"/>) every sum a report has.
    /// </summary>
    internal static Microsoft.Data.Sqlite.SqliteCommand Command(
        Microsoft.Data.Sqlite.SqliteConnection connection, ReportDimension dimension, SqliteLedger.WindowSegments segments, bool all, out string parts)
    {
        var command = connection.CreateCommand();
        var list = new List<string>();
        if (segments.WholeDays)
        {
            var days = (segments.FirstDay is null ? "" : " AND day >= $firstDay") + (segments.EndDay is null ? "" : " AND day < $endDay");
            list.Add(all
                ? $"SELECT key AS k, calls AS n, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_e10, unpriced, missing, local FROM call_totals WHERE dim = $dim{days}"
                : $"SELECT key AS k, cost_e10 AS c FROM call_totals WHERE dim = $dim{days}");
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
            var key = $"coalesce({SqliteLedger.KeyColumn(dimension)}, '')";
            var range = $"FROM calls WHERE rk >= $from{e} * 1048576 AND rk < $to{e} * 1048576";
            list.Add(all
                ? $"""
                  SELECT {key} AS k, 1 AS n, input, cache_read, cache_write_5m, cache_write_1h, output, coalesce(reasoning, 0) AS reasoning,
                         coalesce(cost_e10, 0) AS cost_e10, cost_source = 3 AS unpriced, usage_status = 1 AS missing, cost_source = 2 AS local
                  {range}
                  """
                : $"SELECT {key} AS k, coalesce(cost_e10, 0) AS c {range}");
        }

        parts = string.Join(" UNION ALL ", list);
        return command;
    }
}
