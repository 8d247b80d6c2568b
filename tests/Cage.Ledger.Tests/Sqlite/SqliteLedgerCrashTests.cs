using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using CageNet.Ledger;

namespace CageNet.Tests.Sqlite;

/// <summary>
/// SPEC 10: <c>kill -9</c> during a 1M-record ingest loses no acknowledged record, leaves a readable ledger, and a
/// re-run adds no duplicates. The ingest runs in a separate process (tests/Cage.Ledger.CrashHost) that prints the
/// highest acknowledged index after every committed batch; the test kills it with SIGKILL once 100,000 are acknowledged.
/// </summary>
[NonParallelizable]
public sealed class SqliteLedgerCrashTests
{
    private const int Total = 1_000_000;
    private const int KillAfter = 100_000;
    private const int BatchSize = 5_000;

    [Test]
    [CancelAfter(120_000)]
    public async Task AppendAsync_ProcessKilledMidIngest_KeepsEveryAcknowledgedRecordAndRerunAddsNoDuplicates(CancellationToken cancellationToken)
    {
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        try
        {
            // 1. Ingest until at least 100,000 records are acknowledged, then SIGKILL.
            var acknowledged = await RunAndKillAsync(path, cancellationToken);
            Assert.That(acknowledged, Is.GreaterThanOrEqualTo(KillAfter - 1).And.LessThan(Total - 1), "the host was killed mid-ingest");

            // 2. The ledger opens, is intact, and holds every acknowledged record.
            using (var ledger = SqliteLedger.Open(path))
            using (var connection = ledger.OpenReader())
            {
                Assert.That(SqliteLedgerSchemaTests.Scalar(connection, "PRAGMA integrity_check;"), Is.EqualTo("ok"));
                var lastAcknowledgedId = CallId(acknowledged);
                Assert.That(
                    SqliteLedgerSchemaTests.Scalar(connection, $"SELECT count(*) FROM calls WHERE id <= '{lastAcknowledgedId}';"),
                    Is.EqualTo((long)acknowledged + 1),
                    "every acknowledged id (c_crash_00000000 … the last acknowledged) is present");
                Assert.That(await ledger.FindCallAsync(lastAcknowledgedId), Is.Not.Null);
            }

            // 3. Running the same ingest again to completion adds exactly the missing records.
            var (exitCode, lastLine) = await RunToCompletionAsync(path, cancellationToken);
            Assert.That(exitCode, Is.EqualTo(0));
            Assert.That(lastLine, Is.EqualTo("done"));
            using (var ledger = SqliteLedger.Open(path))
            using (var connection = ledger.OpenReader())
            {
                Assert.That(SqliteLedgerSchemaTests.Scalar(connection, "SELECT count(*) FROM calls;"), Is.EqualTo((long)Total));
                Assert.That(SqliteLedgerSchemaTests.Scalar(connection, "SELECT count(DISTINCT id) FROM calls;"), Is.EqualTo((long)Total));
                Assert.That(SqliteLedgerSchemaTests.Scalar(connection, "PRAGMA integrity_check;"), Is.EqualTo("ok"));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task FlushAsync_ProcessKilledWhileMetering_KeepsEveryCallAFlushAcknowledged(CancellationToken cancellationToken)
    {
        const int calls = 200_000, every = 500, killAfter = 20_000;
        var folder = TestLedger.NewFolder();
        var path = Path.Combine(folder, "ledger.db");
        try
        {
            // Meter through scopes and the queue, flushing every 500 calls; SIGKILL once 20,000 are acknowledged.
            using var process = StartHost("meter", path, calls.ToString(CultureInfo.InvariantCulture), every.ToString(CultureInfo.InvariantCulture));
            var acknowledged = -1;
            var killed = false;
            while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            {
                Assert.That(line, Does.Not.StartWith("lost"), "a flush reported dropped records");
                if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    acknowledged = Math.Max(acknowledged, index);
                }

                if (!killed && acknowledged >= killAfter - 1)
                {
                    process.Kill(entireProcessTree: true);
                    killed = true;
                }
            }

            await process.WaitForExitAsync(cancellationToken);
            Assert.That(killed, Is.True, "the host finished before it could be killed: " + await process.StandardError.ReadToEndAsync(cancellationToken));

            using var ledger = SqliteLedger.Open(path);
            using var connection = ledger.OpenReader();
            Assert.That(SqliteLedgerSchemaTests.Scalar(connection, "PRAGMA integrity_check;"), Is.EqualTo("ok"));
            var last = string.Create(CultureInfo.InvariantCulture, $"req_crash_{acknowledged:D8}");
            Assert.That(
                SqliteLedgerSchemaTests.Scalar(connection, $"SELECT count(*) FROM calls WHERE request_id <= '{last}';"),
                Is.EqualTo((long)acknowledged + 1),
                "every call metered before an acknowledging flush is in the ledger");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TestLedger.DeleteFolder(folder);
        }
    }

    private static string CallId(int index) => string.Create(CultureInfo.InvariantCulture, $"c_crash_{index:D8}");

    private static async Task<int> RunAndKillAsync(string path, CancellationToken cancellationToken)
    {
        using var process = StartHost(path);
        var acknowledged = -1;
        var killed = false;
        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                acknowledged = Math.Max(acknowledged, index);
            }

            if (!killed && acknowledged >= KillAfter - 1)
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no finally blocks, no disposal, no checkpoint
                killed = true;
            }
        }

        // Lines already in the pipe when the kill landed were printed after their batch committed: they count too.
        await process.WaitForExitAsync(cancellationToken);
        Assert.That(killed, Is.True, "the host finished before it could be killed: " + await process.StandardError.ReadToEndAsync(cancellationToken));
        return acknowledged;
    }

    private static async Task<(int ExitCode, string? LastLine)> RunToCompletionAsync(string path, CancellationToken cancellationToken)
    {
        using var process = StartHost(path);
        string? last = null;
        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            last = line;
        }

        var errors = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.That(errors, Is.Empty);
        return (process.ExitCode, last);
    }

    private static Process StartHost(string path) =>
        StartHost(path, Total.ToString(CultureInfo.InvariantCulture), BatchSize.ToString(CultureInfo.InvariantCulture));

    /// <summary>Starts tests/Cage.Ledger.CrashHost with the arguments, output redirected (also used by the PostgreSQL budget tests).</summary>
    internal static Process StartHost(params string[] arguments)
    {
        var host = typeof(SqliteLedgerCrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "CrashHostAssembly")?.Value;
        Assert.That(host, Is.Not.Null.And.Not.Empty, "the test project records where tests/Cage.Ledger.CrashHost was built");
        Assert.That(File.Exists(host), Is.True, $"crash host not found at {host}");

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host!);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start the crash host");
    }
}
