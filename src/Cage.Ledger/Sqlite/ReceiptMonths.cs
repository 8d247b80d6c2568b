using Microsoft.Data.Sqlite;

namespace CageNet.Ledger;

/// <summary>
/// <c>receipt_totals_month</c>: <c>receipt_totals</c> summed per UTC month (the row's <c>day</c> is the month's first
/// day), kept by the writer in each batch's transaction. A window's whole months are read from it.
/// </summary>
internal static class ReceiptMonths
{
    private const string Columns =
        "day, tool, unit, method, basis, provider, model, prompt_k, route, task, receipts, raw_alternative, actual, tool_cost, added_ms, eliminated, min_confidence";

    /// <summary>The schema step's code: sums the existing per-day rows into the month table (exact decimal addition).</summary>
    public static void Migrate(SqliteConnection connection, SqliteTransaction transaction, string path)
    {
        var days = new List<KeyValuePair<ReceiptTotals.Key, ReceiptTotals.Sums>>();
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT " + Columns + " FROM receipt_totals;";
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                var key = new ReceiptTotals.Key(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    reader.GetString(5), reader.GetString(6), reader.GetInt64(7), reader.GetString(8), reader.GetString(9));
                days.Add(new(key, new ReceiptTotals.Sums
                {
                    Receipts = reader.GetInt64(10),
                    Raw = ReceiptTotals.Parse(reader.GetString(11)),
                    Actual = ReceiptTotals.Parse(reader.GetString(12)),
                    ToolCost = ReceiptTotals.Parse(reader.GetString(13)),
                    AddedMs = reader.GetDouble(14),
                    Eliminated = reader.GetInt64(15),
                    MinConfidence = reader.GetDouble(16),
                }));
            }
        }

        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO receipt_totals_month (" + Columns + ") VALUES ($d, $tool, $unit, $method, $basis, $provider, $model, $k, $route, $task, $n, $raw, $actual, $cost, $ms, $elim, $conf);";
        var p = new[] { "$d", "$tool", "$unit", "$method", "$basis", "$provider", "$model", "$k", "$route", "$task", "$n", "$raw", "$actual", "$cost", "$ms", "$elim", "$conf" }
            .Select(name => insert.Parameters.AddWithValue(name, DBNull.Value)).ToArray();
        insert.Prepare();
        foreach (var (k, s) in ReceiptTotals.ByMonth(days))
        {
            object[] values =
            [
                k.Day, k.Tool, k.Unit, k.Method, k.Basis, k.Provider, k.Model, k.PromptK, k.Route, k.Task,
                s.Receipts, ReceiptTotals.Text(s.Raw), ReceiptTotals.Text(s.Actual), ReceiptTotals.Text(s.ToolCost), s.AddedMs, s.Eliminated, s.MinConfidence,
            ];
            for (var i = 0; i < values.Length; i++)
            {
                p[i].Value = values[i];
            }

            insert.ExecuteNonQuery();
        }
    }
}
