using CageNet.Ledger;
using CageNet.TestFixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static CageNet.Tests.TestRecords;

namespace CageNet.Tests.Postgres;

/// <summary>What only the PostgreSQL ledger has: migrations under an advisory lock, connection strings, server faults.</summary>
[NonParallelizable] // one test stops and restarts the shared server
public sealed class PostgresLedgerTests : PostgresSchemaTests
{
    [Test]
    public async Task OpenAsync_TenInstancesStartingTogether_MigrateOnce()
    {
        var ledgers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => PostgresLedger.OpenAsync(ConnectionString))));
        try
        {
            Assert.That(ledgers.Select(l => l.SchemaVersion), Is.All.EqualTo(PostgresSchema.LatestVersion));
            Assert.That(await ScalarAsync("SELECT count(*) FROM cage_schema;"), Is.EqualTo(PostgresSchema.LatestVersion));

            // All ten write to the same tables.
            await Task.WhenAll(ledgers.Select((l, i) => l.AppendAsync(Batch(Call($"c_{i}"))).AsTask()));
            Assert.That((await ledgers[0].ReportAsync(ReportQuery.Default)).Total.Calls, Is.EqualTo(10));
        }
        finally
        {
            foreach (var ledger in ledgers)
            {
                await ledger.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task OpenAsync_SchemaNewerThanThisCode_RefusesNamingBothVersionsAndLeavesItAlone()
    {
        await (await PostgresLedger.OpenAsync(ConnectionString)).DisposeAsync();
        await ScalarAsync("INSERT INTO cage_schema (version) VALUES (99) RETURNING version;");

        var error = Assert.ThrowsAsync<InvalidOperationException>(async () => await PostgresLedger.OpenAsync(ConnectionString));

        Assert.That(error!.Message, Does.Contain("schema version 99").And.Contain($"up to {PostgresSchema.LatestVersion}"));
        Assert.That(await ScalarAsync("SELECT max(version) FROM cage_schema;"), Is.EqualTo(99));
    }

    [Test]
    public async Task OpenAsync_SomeoneElsesCallsTable_RefusesRatherThanAdoptingIt()
    {
        await ScalarAsync("CREATE TABLE calls (x int); SELECT 0;");

        var error = Assert.ThrowsAsync<InvalidOperationException>(async () => await PostgresLedger.OpenAsync(ConnectionString));

        Assert.That(error!.Message, Does.Contain("not a Cage ledger"));
    }

    [Test]
    public void OpenAsync_ServerNotThere_FailsNamingTheServerButNeverThePassword()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Port = ClosedPort(), Password = "canary-Pa55word", Timeout = 3 };

        var error = Assert.ThrowsAsync<IOException>(async () => await PostgresLedger.OpenAsync(builder.ConnectionString));
        var url = Assert.ThrowsAsync<IOException>(async () => await PostgresLedger.OpenAsync($"postgres://cage:canary-Pa55word@127.0.0.1:{builder.Port}/postgres"));

        Assert.That(error!.Message, Does.Contain($"127.0.0.1:{builder.Port}").And.Not.Contain("canary"));
        Assert.That(error.ToString(), Does.Not.Contain("canary"));
        Assert.That(url!.Message, Does.Contain($"postgres://cage@127.0.0.1:{builder.Port}/postgres").And.Not.Contain("canary"));
    }

    [Test]
    public void Parse_Url_TakesUserPasswordHostPortDatabaseAndOptions()
    {
        var builder = PostgresConnection.Parse("postgres://app%40x:p%3Ass@db.internal:6432/ledger?sslmode=require&Search%20Path=fleet");

        Assert.That((builder.Username, builder.Password, builder.Host, builder.Port, builder.Database, builder.SslMode, builder.SearchPath),
            Is.EqualTo(("app@x", "p:ss", "db.internal", 6432, "ledger", SslMode.Require, "fleet")));
        Assert.That(PostgresConnection.Describe(builder), Is.EqualTo("postgres://app@x@db.internal:6432/ledger"));
        Assert.That(PostgresConnection.IsPostgres("Host=db;Database=ledger"), Is.True);
        Assert.That(PostgresConnection.IsPostgres("postgresql://db/ledger"), Is.True);
        Assert.That(PostgresConnection.IsPostgres("data/ledger.db"), Is.False);
        Assert.That(() => PostgresConnection.Parse("postgres://db/ledger?nonsense=1"), Throws.ArgumentException.With.Message.Contain("'nonsense'"));
        Assert.That(() => PostgresConnection.Parse("Database=ledger"), Throws.ArgumentException.With.Message.Contain("no host"));
    }

    [Test]
    public async Task Meter_ServerStopsMidRun_CallersUnaffectedAcknowledgedKeptAndWritesResume()
    {
        var cluster = TestPostgres.Throwaway
            ?? throw new InvalidOperationException($"this test stops and restarts the server: it needs the throwaway cluster, not {TestPostgres.Variable}");
        var services = new ServiceCollection();
        services.AddCage(o => { o.Metering.MaxRetries = 0; o.Metering.SetAsStaticDefault = false; }).AddPostgresLedger(ConnectionString);
        await using var provider = services.BuildServiceProvider();
        var meter = provider.GetRequiredService<ICageMeter>();

        void MeterCalls(string task, int count)
        {
            for (var i = 0; i < count; i++)
            {
                using var m = meter.Meter("chat", task: task);
                m.Usage("openai", "gpt-4o", input: 100, output: 10);
            }
        }

        MeterCalls("before", 200);
        var acknowledged = await meter.FlushAsync();
        Assert.That(acknowledged, Is.EqualTo(new FlushResult(200, 0)));

        await cluster.StopServerAsync();
        FlushResult during;
        try
        {
            Assert.DoesNotThrow(() => MeterCalls("during", 50), "fail-open: the callers never see the ledger's fault");
            during = await meter.FlushAsync();
        }
        finally
        {
            await cluster.StartServerAsync();
        }

        Assert.That(during.Dropped, Is.EqualTo(50), "with no retries, the outage's batch is dropped and counted, not acknowledged");
        Assert.That(meter.Statistics.Faults, Is.GreaterThanOrEqualTo(1));

        MeterCalls("after", 200);
        Assert.That(await meter.FlushAsync(), Is.EqualTo(new FlushResult(200, 0)), "writes resume on a new connection");

        await using var reader = await PostgresLedger.OpenAsync(ConnectionString);
        Assert.That((await reader.CallsForTaskAsync("before")).Count, Is.EqualTo(200));
        Assert.That((await reader.CallsForTaskAsync("after")).Count, Is.EqualTo(200));
        Assert.That((await reader.ReportAsync(new ReportQuery(ReportDimension.Task, TimeWindow.All))).Total.Calls, Is.EqualTo(400));
    }

    [Test]
    public async Task ReceiptTotals_KeepABucketPerPriceTierOfTheModel_NotPerThousandTokens()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        // claude-sonnet-4-6 has one price whatever the prompt; claude-sonnet-4-5 is dearer above 200,000 tokens.
        var calls = new[] { 40_000L, 90_000L, 150_000L, 210_000L, 260_000L }
            .SelectMany(prompt => new[]
            {
                Call($"c_flat_{prompt}", model: "claude-sonnet-4-6", usage: new TokenUsage(prompt, 0, 0, 0, 10)),
                Call($"c_tier_{prompt}", model: "claude-sonnet-4-5", usage: new TokenUsage(prompt, 0, 0, 0, 10)),
            })
            .ToArray();
        await ledger.AppendAsync(Batch(calls));
        await ledger.AppendAsync(Batch([.. calls.Select(c => Receipt("r_" + c.Id, callId: c.Id))]));

        await using var connection = await ledger.OpenReaderAsync(CancellationToken.None);
        await using var command = new NpgsqlCommand("SELECT model, prompt_k, receipts FROM receipt_totals ORDER BY model, prompt_k;", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, long, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        Assert.That(rows, Is.EqualTo(new[]
        {
            ("claude-sonnet-4-5", 0L, 3L),   // up to its 200,000-token tier
            ("claude-sonnet-4-5", 201L, 2L), // above it
            ("claude-sonnet-4-6", 0L, 5L),   // no tier: one bucket
        }));
    }

    [Test]
    public async Task CallsOfATask_AreFoundThroughTheTaskIndex()
    {
        await using var ledger = await PostgresLedger.OpenAsync(ConnectionString);
        await ledger.AppendAsync(Batch([.. Enumerable.Range(0, 200).Select(i => Call($"c_{i}", task: $"t{i % 20}"))]));
        await using var connection = await ledger.OpenReaderAsync(CancellationToken.None);
        await using (var analyze = new NpgsqlCommand("ANALYZE calls; SET enable_seqscan = off;", connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        await using var explain = new NpgsqlCommand("EXPLAIN SELECT id FROM calls WHERE task = 't3' ORDER BY ts_ms, seq;", connection);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.That(string.Join('\n', plan), Does.Contain("ix_calls_task"));
        Assert.That((await ledger.CallsForTaskAsync("t3")).Select(c => c.Id), Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"c_{3 + (20 * i)}")));
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
