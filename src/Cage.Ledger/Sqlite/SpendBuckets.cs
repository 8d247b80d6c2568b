using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// Spend per time bucket and group key, summed by SQLite rather than read call by call: what the dashboard's
/// spend-over-time chart reads. Day buckets come from <c>call_totals</c> (one row per group and day) for the whole days
/// of the window and from the calls for its partial edge days; hour buckets by model, route or agent come the same way
/// from <c>call_totals_hour</c> (schema step 11) and the partial edge hours, and by any other dimension from one
/// <c>GROUP BY</c> over the window's calls (a range of the time-ordered key).
/// </summary>
internal static class SpendBuckets
{
    /// <summary>One bucket of one group: its calls and the sum of their known costs (exact, in 1e-10 USD).</summary>
    internal readonly record struct Bucket(long StartMs, string Key, long Calls, long CostE10);

    /// <summary>The buckets of [<paramref name="sinceMs"/>, <paramref name="untilMs"/>) by <paramref name="dimension"/>.</summary>
    /// <param name="ledger">The ledger.</param>
    /// <param name="dimension">The group key (not <see cref="ReportDimension.Day"/>).</param>
    /// <param name="hourly">Hour buckets, else UTC days.</param>
    /// <param name="sinceMs">The start, Unix ms (for days, any instant: a partial first day is read from the calls).</param>
    /// <param name="untilMs">The end, Unix ms, exclusive.</param>
    public static List<Bucket> Read(SqliteLedger ledger, ReportDimension dimension, bool hourly, long sinceMs, long untilMs)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        if (dimension == ReportDimension.Day)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "buckets are already days");
        }

        var buckets = new List<Bucket>();
        using var connection = ledger.OpenReader();
        if (!hourly)
        {
            Whole(connection, dimension, CallTotals.MillisecondsPerDay, sinceMs, untilMs,
                "SELECT day, key, sum(calls), sum(cost_e10) FROM call_totals WHERE dim = $dim AND day >= $first AND day < $end GROUP BY 1, 2;", buckets);
        }
        else if (Array.IndexOf(CallTotals.HourlyDimensions, dimension) >= 0)
        {
            Whole(connection, dimension, CallTotals.MillisecondsPerHour, sinceMs, untilMs,
                "SELECT hour, key, calls, cost_e10 FROM call_totals_hour WHERE dim = $dim AND hour >= $first AND hour < $end;", buckets);
        }
        else
        {
            FromCalls(connection, dimension, CallTotals.MillisecondsPerHour, sinceMs, untilMs, buckets);
        }

        return buckets;
    }

    /// <summary>
    /// Buckets of <paramref name="bucketMs"/>: the whole ones from a totals table (<paramref name="wholeSql"/>: bucket
    /// number, key, calls, cost over [<c>$first</c>, <c>$end</c>) for <c>$dim</c>), the partial ones at the edges from the calls.
    /// </summary>
    private static void Whole(SqliteConnection connection, ReportDimension dimension, long bucketMs, long sinceMs, long untilMs, string wholeSql, List<Bucket> buckets)
    {
        var first = Math.DivRem(sinceMs, bucketMs) is var (q, r) && r < 0 ? q - 1 : q;
        var firstWhole = first + (first * bucketMs == sinceMs ? 0 : 1);
        var endWhole = Math.DivRem(untilMs, bucketMs) is var (q2, r2) && r2 < 0 ? q2 - 1 : q2;
        if (firstWhole >= endWhole)
        {
            FromCalls(connection, dimension, bucketMs, sinceMs, untilMs, buckets);
            return;
        }

        if (sinceMs < firstWhole * bucketMs)
        {
            FromCalls(connection, dimension, bucketMs, sinceMs, firstWhole * bucketMs, buckets);
        }

        using (var command = connection.CreateCommand())
        {
            command.CommandText = wholeSql;
            command.Parameters.AddWithValue("$dim", (int)dimension);
            command.Parameters.AddWithValue("$first", firstWhole);
            command.Parameters.AddWithValue("$end", endWhole);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                buckets.Add(new Bucket(reader.GetInt64(0) * bucketMs, Key(reader, 1), reader.GetInt64(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3)));
            }
        }

        if (endWhole * bucketMs < untilMs)
        {
            FromCalls(connection, dimension, bucketMs, endWhole * bucketMs, untilMs, buckets);
        }
    }

    private static void FromCalls(SqliteConnection connection, ReportDimension dimension, long bucketMs, long sinceMs, long untilMs, List<Bucket> buckets)
    {
        using var command = connection.CreateCommand();
        // Floor division, so instants before 1970 land in the right bucket too.
        command.CommandText = $"""
            SELECT CASE WHEN ts_ms >= 0 THEN ts_ms / $b ELSE (ts_ms + 1) / $b - 1 END, {SqliteLedger.KeyColumn(dimension)}, count(*), sum(cost_e10)
            FROM calls WHERE rk >= $since * 1048576 AND rk < $until * 1048576
            GROUP BY 1, 2;
            """;
        command.Parameters.AddWithValue("$b", bucketMs);
        command.Parameters.AddWithValue("$since", sinceMs);
        command.Parameters.AddWithValue("$until", untilMs);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            buckets.Add(new Bucket(reader.GetInt64(0) * bucketMs, Key(reader, 1), reader.GetInt64(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3)));
        }
    }

    private static string Key(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) || reader.GetString(ordinal) is not { Length: > 0 } key ? SpendReport.NoneKey : key;
}
