using System.Globalization;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The <c>quality</c> view's sums (<see cref="ITaskQualityCounts"/>), inside SQLite: the per-task totals of the window's
/// whole days (one walk of the task dimension's rows of <c>call_totals</c> in key order) and the calls of its partial
/// edge days, grouped per task; the outcome labels are probed per label against the same rows. Nothing per task comes
/// back to C#.
/// </summary>
internal static class TaskQuality
{
    private const string NotNone = $"k <> '' AND k <> '{SpendReport.NoneKey}'";

    public static TaskQualityCount Count(SqliteConnection connection, TimeWindow window)
    {
        var segments = SqliteLedger.Segments(window);
        int tasks;
        long cost, unpriced, missing, untasked;
        using (var command = SpendTop.Command(connection, ReportDimension.Task, segments, all: true, out var parts))
        {
            command.CommandText = $"""
                SELECT count(*) FILTER (WHERE nn), coalesce(sum(c) FILTER (WHERE nn), 0), coalesce(sum(u) FILTER (WHERE nn), 0),
                       coalesce(sum(m) FILTER (WHERE nn), 0), coalesce(sum(c) FILTER (WHERE NOT nn), 0)
                FROM (SELECT {NotNone} AS nn, sum(cost_e10) AS c, sum(unpriced) AS u, sum(missing) AS m FROM ({parts}) GROUP BY k);
                """;
            using var reader = command.ExecuteReader();
            reader.Read();
            tasks = reader.GetInt32(0);
            cost = reader.GetInt64(1);
            unpriced = reader.GetInt64(2);
            missing = reader.GetInt64(3);
            untasked = reader.GetInt64(4);
        }

        int ok = 0, redo = 0, failed = 0;
        if (tasks > 0)
        {
            using var command = connection.CreateCommand();
            var found = new List<string>();
            if (segments.WholeDays)
            {
                var days = (segments.FirstDay is { } first ? " AND t.day >= $firstDay" : "") + (segments.EndDay is { } end ? " AND t.day < $endDay" : "");
                if (segments.FirstDay is { } f) command.Parameters.AddWithValue("$firstDay", f);
                if (segments.EndDay is { } e) command.Parameters.AddWithValue("$endDay", e);
                found.Add(string.Create(CultureInfo.InvariantCulture, $"EXISTS (SELECT 1 FROM call_totals t WHERE t.dim = {(int)ReportDimension.Task} AND t.key = o.task{days})"));
            }

            var edges = new List<string>();
            for (var i = 0; i < segments.Edges.Count; i++)
            {
                command.Parameters.AddWithValue($"$from{i}", segments.Edges[i].From);
                command.Parameters.AddWithValue($"$to{i}", segments.Edges[i].To);
                edges.Add($"(rk >= $from{i} * 1048576 AND rk < $to{i} * 1048576)");
            }

            if (edges.Count > 0)
            {
                found.Add($"o.task IN (SELECT task FROM calls WHERE ({string.Join(" OR ", edges)}) AND task IS NOT NULL)");
            }

            command.CommandText = $"""
                SELECT o.outcome, count(*) FROM outcomes o
                WHERE o.task <> '' AND o.task <> '{SpendReport.NoneKey}' AND ({string.Join(" OR ", found)})
                GROUP BY o.outcome;
                """;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (WireNames.TryParseOutcome(reader.GetString(0), out var outcome))
                {
                    var n = reader.GetInt32(1);
                    switch (outcome)
                    {
                        case TaskOutcome.Ok: ok += n; break;
                        case TaskOutcome.Redo: redo += n; break;
                        case TaskOutcome.Failed: failed += n; break;
                    }
                }
            }
        }

        return new TaskQualityCount(tasks, LedgerMoney.FromE10(cost), unpriced, missing, LedgerMoney.FromE10(untasked), ok, redo, failed);
    }
}
