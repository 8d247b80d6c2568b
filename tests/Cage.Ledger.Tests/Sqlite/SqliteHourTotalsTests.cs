using CageNet.Ledger;
using Microsoft.Data.Sqlite;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// <c>call_totals_hour</c>: calls and spend per UTC hour by model, route and agent, kept by the writer with the batch,
/// and summed from the calls when an older file is migrated.
/// </summary>
public sealed class SqliteHourTotalsTests
{
    private static LedgerBatch Calls() => new(
    [
        Call("h1", "2026-03-01T09:00:00Z", route: "code-edit", agent: "a1", cost: 0.0105m),
        Call("h2", "2026-03-01T09:59:59.999Z", route: "code-edit", agent: "a2", cost: 0.021m),
        Call("h3", "2026-03-01T10:00:00Z", route: null, agent: null, model: "claude-haiku-4-5", cost: 0.0015m),
        Call("h4", "2026-03-01T10:30:00Z", route: "review", agent: "a1", cost: null, source: CostSource.Unpriced),
        Call("h5", "1969-12-31T23:30:00Z", route: "review", agent: "a1", cost: 0.002m),
    ], []);

    // Hours since the epoch: 2026-03-01T09 is 492,321; 1969-12-31T23 is −1.
    private static readonly string[] Expected =
    [
        "0 -1 review 1 20000000",
        "0 492321 code-edit 2 315000000",
        "0 492322  1 15000000",
        "0 492322 review 1 0",
        "1 -1 claude-opus-4-8 1 20000000",
        "1 492321 claude-opus-4-8 2 315000000",
        "1 492322 claude-haiku-4-5 1 15000000",
        "1 492322 claude-opus-4-8 1 0",
        "4 -1 a1 1 20000000",
        "4 492321 a1 1 105000000",
        "4 492321 a2 1 210000000",
        "4 492322  1 15000000",
        "4 492322 a1 1 0",
    ];

    [Test]
    public async Task Append_SumsCallsAndCostPerHourByModelRouteAndAgent()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());

        Assert.That(Rows(test.Path), Is.EqualTo(Expected));
    }

    [Test]
    public async Task Append_TwoBatchesOfOneHour_AddUp()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Batch(Call("h1", "2026-03-01T09:00:00Z", route: "code-edit", agent: "a1", cost: 0.0105m)));
        await test.Ledger.WriteAsync(Batch(Call("h2", "2026-03-01T09:59:59.999Z", route: "code-edit", agent: "a2", cost: 0.021m)));
        await test.Ledger.WriteAsync(Batch(Call("h2", "2026-03-01T09:59:59.999Z", route: "code-edit", agent: "a2", cost: 0.021m))); // a duplicate adds nothing

        Assert.That(Rows(test.Path).Where(r => r.StartsWith("0 ", StringComparison.Ordinal)), Is.EqualTo(new[] { "0 492321 code-edit 2 315000000" }));
    }

    [Test]
    public async Task Open_LedgerOfTheStepBefore_MigrationSumsItsCallsPerHour()
    {
        using var test = TestLedger.Create();
        await test.Ledger.WriteAsync(Calls());
        test.Ledger.Dispose();
        using (var connection = new SqliteConnection($"Data Source={test.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The file as the step before call_totals_hour (step 11) left it: the later steps' tables dropped too.
            command.CommandText = "DROP TABLE call_totals_hour; DROP TABLE receipt_totals_month; DROP TABLE route_task_counts; PRAGMA user_version = 10;";
            command.ExecuteNonQuery();
        }

        var reopened = test.Reopen();

        Assert.That(reopened.SchemaVersion, Is.EqualTo(LedgerSchema.LatestVersion));
        Assert.That(Rows(test.Path), Is.EqualTo(Expected));
    }

    private static List<string> Rows(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT dim, hour, key, calls, cost_e10 FROM call_totals_hour ORDER BY dim, hour, key;";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add($"{reader.GetInt64(0)} {reader.GetInt64(1)} {reader.GetString(2)} {reader.GetInt64(3)} {reader.GetInt64(4)}");
        }

        return rows;
    }
}
