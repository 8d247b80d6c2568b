using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// The tasks per route of a window (<see cref="IRouteTaskCounts"/>): from the writer's <c>route_task_counts</c> when the
/// window starts before the route's first task, else counted inside SQLite from the route × task rows of
/// <c>call_totals</c> (whole days, keys <c>route U+001F task</c> in key order, so one route is one key range) and the
/// calls of the partial days at the window's edges; outcomes are joined in SQL. Nothing per pair comes back to C#.
/// </summary>
internal static class RouteTaskCounts
{
    private const int PairDim = (int)CallTotals.RouteTask;

    /// <summary>Counts the tasks of <paramref name="routes"/> over <paramref name="window"/>.</summary>
    public static Dictionary<string, RouteTaskCount> Count(
        SqliteConnection connection, TimeWindow window, IReadOnlyCollection<string> routes, IReadOnlyDictionary<string, HashSet<string>> alsoTasks)
    {
        var segments = SqliteLedger.Segments(window);

        // The stored route values behind each report key: '' and a literal '(none)' are both the (none) route.
        var raws = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using (var command = connection.CreateCommand())
        {
            command.CommandText = string.Create(CultureInfo.InvariantCulture, $"SELECT DISTINCT key FROM call_totals WHERE dim = {(int)ReportDimension.Route};");
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var raw = reader.GetString(0);
                var name = raw.Length == 0 ? SpendReport.NoneKey : raw;
                if (!raws.TryGetValue(name, out var list))
                {
                    raws[name] = list = [];
                }

                list.Add(raw);
            }
        }

        // The stored outcome labels that read as a known outcome, and those that read as ok.
        var known = new List<string>();
        var ok = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT DISTINCT outcome FROM outcomes;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var label = reader.GetString(0);
                if (WireNames.TryParseOutcome(label, out var outcome))
                {
                    known.Add(label);
                    if (outcome == TaskOutcome.Ok)
                    {
                        ok.Add(label);
                    }
                }
            }
        }

        var counts = new Dictionary<string, RouteTaskCount>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            var stored = raws.GetValueOrDefault(route) ?? [];
            var (tasks, labelled, succeeded) = stored.Count == 0 ? (0, 0, 0) : CountStored(connection, segments, stored, known, ok);
            if (alsoTasks.TryGetValue(route, out var more) && more.Count > 0)
            {
                // The tasks of the partial edge days' calls, read once; the whole days are probed per task.
                var edgeTasks = stored.Count > 0 && segments.Edges.Count > 0 ? EdgeTasks(connection, segments, stored) : [];
                foreach (var task in more)
                {
                    if (task == SpendReport.NoneKey || !(edgeTasks.Contains(task) || InWholeDays(connection, segments, stored, task)))
                    {
                        tasks++;
                        if (OutcomeOf(connection, task) is { } outcome)
                        {
                            labelled++;
                            succeeded += outcome == TaskOutcome.Ok ? 1 : 0;
                        }
                    }
                }
            }

            counts[route] = new RouteTaskCount(tasks, labelled, succeeded);
        }

        return counts;
    }

    private static (int Tasks, int Labelled, int Ok) CountStored(
        SqliteConnection connection, SqliteLedger.WindowSegments segments, List<string> stored, List<string> known, List<string> ok)
    {
        var tasks = stored.Count == 1 && segments.Edges.Count == 0 ? Maintained(connection, segments, stored[0]) : null;
        tasks ??= Scanned(connection, segments, stored);
        if (tasks == 0 || known.Count == 0)
        {
            return (tasks.Value, 0, 0);
        }

        using var outcomes = connection.CreateCommand();
        outcomes.CommandText =
            $"""
            SELECT count(*), coalesce(sum(o.outcome IN ({Labels(outcomes, "$ok", ok)})), 0)
            FROM ({TasksOf(outcomes, segments, stored)}) t JOIN outcomes o ON o.task = t.task
            WHERE o.outcome IN ({Labels(outcomes, "$known", known)});
            """;
        using var reader = outcomes.ExecuteReader();
        reader.Read();
        return (tasks.Value, reader.GetInt32(0), reader.GetInt32(1));
    }

    /// <summary>
    /// One stored route's tasks over whole days from <c>route_task_counts</c> (each pair counted on its first day), when
    /// the window starts no later than the route's first pair: then a pair is in the window exactly when its first day is
    /// before the window's end. <see langword="null"/> when the window starts later (the pairs are counted instead).
    /// </summary>
    private static int? Maintained(SqliteConnection connection, SqliteLedger.WindowSegments segments, string raw)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(sum(tasks) FILTER (WHERE day < $end), 0), min(day) FROM route_task_counts WHERE route = $raw;";
        command.Parameters.AddWithValue("$raw", raw);
        command.Parameters.AddWithValue("$end", segments.EndDay ?? long.MaxValue);
        using var reader = command.ExecuteReader();
        reader.Read();
        return segments.FirstDay is { } first && !reader.IsDBNull(1) && reader.GetInt64(1) < first ? null : reader.GetInt32(0);
    }

    /// <summary>The stored routes' tasks over the window, counted from their pair rows (and the edge days' calls).</summary>
    private static int Scanned(SqliteConnection connection, SqliteLedger.WindowSegments segments, List<string> stored)
    {
        using var command = connection.CreateCommand();
        var sql = new StringBuilder();
        if (stored.Count == 1 && segments.Edges.Count == 0)
        {
            // One stored route over whole days: its pair keys are one key range, read in key order.
            sql.Append("SELECT count(DISTINCT key) FROM call_totals WHERE ").Append(PairRange(command, segments, stored[0], 0)).Append(';');
        }
        else
        {
            sql.Append("SELECT count(*) FROM (").Append(TasksOf(command, segments, stored)).Append(");");
        }

        command.CommandText = sql.ToString();
        return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the stored routes' pair rows of the window's whole days include <paramref name="task"/>.</summary>
    private static bool InWholeDays(SqliteConnection connection, SqliteLedger.WindowSegments segments, List<string> stored, string task)
    {
        if (stored.Count == 0 || !segments.WholeDays)
        {
            return false;
        }

        using var command = connection.CreateCommand();
        command.Parameters.AddWithValue("$task", task);
        var keys = new List<string>();
        for (var i = 0; i < stored.Count; i++)
        {
            command.Parameters.AddWithValue($"$raw{i}", stored[i]);
            keys.Add($"$raw{i} || char(31) || $task");
        }

        command.CommandText = $"SELECT EXISTS (SELECT 1 FROM call_totals WHERE dim = {PairDim} AND key IN ({string.Join(", ", keys)}){DayClause(command, segments)});";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) != 0;
    }

    /// <summary>The distinct tasks of the stored routes' calls on the window's partial edge days.</summary>
    private static HashSet<string> EdgeTasks(SqliteConnection connection, SqliteLedger.WindowSegments segments, List<string> stored)
    {
        using var command = connection.CreateCommand();
        var ranges = new List<string>();
        for (var e = 0; e < segments.Edges.Count; e++)
        {
            command.Parameters.AddWithValue($"$from{e}", segments.Edges[e].From);
            command.Parameters.AddWithValue($"$to{e}", segments.Edges[e].To);
            ranges.Add($"(rk >= $from{e} * 1048576 AND rk < $to{e} * 1048576)");
        }

        var raws = new List<string>();
        for (var i = 0; i < stored.Count; i++)
        {
            command.Parameters.AddWithValue($"$raw{i}", stored[i]);
            raws.Add($"$raw{i}");
        }

        command.CommandText = $"""
            SELECT DISTINCT task FROM calls
            WHERE ({string.Join(" OR ", ranges)}) AND coalesce(route, '') IN ({string.Join(", ", raws)}) AND task <> '' AND task <> '{SpendReport.NoneKey}';
            """;
        var tasks = new HashSet<string>(StringComparer.Ordinal);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            tasks.Add(reader.GetString(0));
        }

        return tasks;
    }

    private static TaskOutcome? OutcomeOf(SqliteConnection connection, string task)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT outcome FROM outcomes WHERE task = $task;";
        command.Parameters.AddWithValue("$task", task);
        return command.ExecuteScalar() is string label && WireNames.TryParseOutcome(label, out var outcome) ? outcome : null;
    }

    /// <summary>A SELECT of the distinct tasks (column <c>task</c>) of the stored routes' calls in the window.</summary>
    private static string TasksOf(SqliteCommand command, SqliteLedger.WindowSegments segments, List<string> stored)
    {
        var parts = new List<string>();
        for (var i = 0; i < stored.Count; i++)
        {
            command.Parameters.AddWithValue($"$raw{i}", stored[i]);
            if (segments.WholeDays)
            {
                parts.Add($"SELECT substr(key, length($raw{i}) + 2) AS task FROM call_totals WHERE {PairRange(command, segments, stored[i], i)}");
            }

            for (var e = 0; e < segments.Edges.Count; e++)
            {
                var (from, to) = segments.Edges[e];
                command.Parameters.AddWithValue($"$from{i}_{e}", from);
                command.Parameters.AddWithValue($"$to{i}_{e}", to);
                parts.Add($"SELECT task FROM calls WHERE rk >= $from{i}_{e} * 1048576 AND rk < $to{i}_{e} * 1048576 AND coalesce(route, '') = $raw{i} AND task <> '' AND task <> '{SpendReport.NoneKey}'");
            }
        }

        return $"SELECT DISTINCT task FROM ({string.Join(" UNION ALL ", parts)})";
    }

    /// <summary>The WHERE condition of one stored route's pair rows over the whole days (a task of no value and a literal '(none)' left out).</summary>
    private static string PairRange(SqliteCommand command, SqliteLedger.WindowSegments segments, string raw, int i)
    {
        command.Parameters.AddWithValue($"$lo{i}", raw + SpendReport.PairSeparator);
        command.Parameters.AddWithValue($"$hi{i}", raw + (char)(SpendReport.PairSeparator + 1));
        command.Parameters.AddWithValue($"$none{i}", raw + SpendReport.PairSeparator + SpendReport.NoneKey);
        return $"dim = {PairDim} AND key > $lo{i} AND key < $hi{i} AND key <> $none{i}{DayClause(command, segments)}";
    }

    private static string DayClause(SqliteCommand command, SqliteLedger.WindowSegments segments)
    {
        var clause = "";
        if (segments.FirstDay is { } first)
        {
            if (!command.Parameters.Contains("$firstDay"))
            {
                command.Parameters.AddWithValue("$firstDay", first);
            }

            clause += " AND day >= $firstDay";
        }

        if (segments.EndDay is { } end)
        {
            if (!command.Parameters.Contains("$endDay"))
            {
                command.Parameters.AddWithValue("$endDay", end);
            }

            clause += " AND day < $endDay";
        }

        return clause;
    }

    private static string Labels(SqliteCommand command, string prefix, List<string> labels)
    {
        var names = new List<string>();
        for (var i = 0; i < labels.Count; i++)
        {
            command.Parameters.AddWithValue($"{prefix}{i}", labels[i]);
            names.Add($"{prefix}{i}");
        }

        return names.Count == 0 ? "NULL" : string.Join(", ", names);
    }
}
