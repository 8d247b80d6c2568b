using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace CageNet.TestFixtures;

/// <summary>
/// The PostgreSQL server the tests run against: the one named by <c>CAGE_TEST_POSTGRES</c> (a connection string), else a
/// throwaway cluster this process starts once — <c>initdb</c> into a temporary folder, <c>postgres</c> on a free loopback
/// port — and stops when the test run ends (<see cref="StopAsync"/>, called by the assembly's set-up fixture). Each test
/// gets a fresh schema (<see cref="NewSchemaAsync"/>), so tests never see each other's rows.
/// </summary>
/// <remarks>
/// When no server can be had, <see cref="ConnectionString"/> throws with the reason, so the tests that need one fail
/// rather than skip. <c>initdb</c> and <c>postgres</c> refuse to run as root: as root, they run as the <c>postgres</c> OS
/// user (through <c>runuser</c>), in a folder it owns.
/// </remarks>
internal static class TestPostgres
{
    /// <summary>The environment variable naming an existing server to use instead of a throwaway cluster.</summary>
    public const string Variable = "CAGE_TEST_POSTGRES";

    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static Cluster? s_cluster;
    private static string? s_connectionString;
    private static string? s_failure;

    /// <summary>The server's connection string (the admin database); starts the cluster on first use.</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL could not be started or reached; the message says why.</exception>
    public static async Task<string> ConnectionStringAsync()
    {
        await s_gate.WaitAsync();
        try
        {
            if (s_connectionString is not null)
            {
                return s_connectionString;
            }

            if (s_failure is not null)
            {
                throw new InvalidOperationException(s_failure);
            }

            try
            {
                var configured = Environment.GetEnvironmentVariable(Variable);
                if (!string.IsNullOrWhiteSpace(configured))
                {
                    await ProbeAsync(configured, $"the server named by {Variable}");
                    s_connectionString = configured;
                }
                else
                {
                    s_cluster = await Cluster.StartAsync();
                    s_connectionString = s_cluster.ConnectionString;
                }

                return s_connectionString;
            }
            catch (Exception ex)
            {
                s_failure = "PostgreSQL is needed by this test and could not be started: " + ex.Message +
                    $" (install the server, e.g. apt-get install postgresql, or set {Variable} to a connection string of an existing server)";
                throw new InvalidOperationException(s_failure, ex);
            }
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>A connection string whose search path is a new, empty schema (dropped by nobody: the cluster goes away, and on a shared server the names are unique).</summary>
    public static async Task<string> NewSchemaAsync()
    {
        var admin = await ConnectionStringAsync();
        var schema = "cage_test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE SCHEMA {schema};", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(admin) { SearchPath = schema }.ConnectionString;
    }

    /// <summary>Drops a schema made by <see cref="NewSchemaAsync"/> (best effort: a leftover schema must not fail a test).</summary>
    public static async Task DropSchemaAsync(string connectionString)
    {
        var schema = new NpgsqlConnectionStringBuilder(connectionString).SearchPath;
        if (string.IsNullOrEmpty(schema) || s_connectionString is null)
        {
            return;
        }

        try
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(s_connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE;", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }

    /// <summary>The throwaway cluster's data folder and <c>pg_ctl</c>, for tests that stop and restart the server; null when using <c>CAGE_TEST_POSTGRES</c>.</summary>
    public static Cluster? Throwaway => s_cluster;

    /// <summary>Stops the throwaway cluster (if this process started one) and deletes its folder.</summary>
    public static async Task StopAsync()
    {
        if (s_cluster is { } cluster)
        {
            s_cluster = null;
            NpgsqlConnection.ClearAllPools();
            await cluster.DisposeAsync();
        }
    }

    private static async Task ProbeAsync(string connectionString, string what)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException or SocketException)
        {
            throw new InvalidOperationException($"cannot connect to {what}: {ex.Message}", ex);
        }
    }

    /// <summary>A cluster started by this process.</summary>
    internal sealed class Cluster : IAsyncDisposable
    {
        private readonly string _bin;
        private readonly bool _asPostgresUser;

        private readonly bool _durable;

        private Cluster(string folder, string bin, bool asPostgresUser, int port, bool durable)
        {
            _durable = durable;
            Folder = folder;
            _bin = bin;
            _asPostgresUser = asPostgresUser;
            Port = port;
        }

        public string Folder { get; }

        public string DataFolder => Path.Combine(Folder, "data");

        public int Port { get; }

        public string ConnectionString => string.Create(CultureInfo.InvariantCulture,
            $"Host=127.0.0.1;Port={Port};Username=cage;Database=postgres;Pooling=true;Timeout=10;Command Timeout=60");

        /// <summary>Creates and starts a cluster; <paramref name="durable"/> keeps <c>fsync</c> on (benchmarks), tests turn it off.</summary>
        public static async Task<Cluster> StartAsync(bool durable = false)
        {
            var bin = FindBin() ?? throw new InvalidOperationException(
                "initdb was not found on PATH nor in /usr/lib/postgresql/<version>/bin");
            var asPostgresUser = Environment.UserName == "root";
            var folder = Path.Combine(Path.GetTempPath(), "cage-pg-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(folder);
            var cluster = new Cluster(folder, bin, asPostgresUser, FreePort(), durable);
            try
            {
                if (asPostgresUser)
                {
                    await RunAsync("chown", ["postgres:postgres", folder], folder, "chown the cluster folder to the postgres user");
                }

                await cluster.PgAsync("initdb", ["-D", cluster.DataFolder, "-U", "cage", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb");
                await cluster.StartServerAsync();
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        /// <summary>Starts the server (again) and waits until it accepts connections.</summary>
        public Task StartServerAsync() => PgAsync("pg_ctl",
            ["-D", DataFolder, "-l", Path.Combine(Folder, "server.log"), "-w", "-t", "60", "-o",
             string.Create(CultureInfo.InvariantCulture, $"-p {Port} -c listen_addresses=127.0.0.1 -k {Folder} -c fsync={(_durable ? "on" : "off")} -c max_connections=200"), "start"],
            "pg_ctl start");

        /// <summary>Stops the server at once (immediate shutdown: like a crash, without the client getting a goodbye).</summary>
        public Task StopServerAsync() => PgAsync("pg_ctl", ["-D", DataFolder, "-m", "immediate", "-w", "stop"], "pg_ctl stop");

        public async ValueTask DisposeAsync()
        {
            if (File.Exists(Path.Combine(DataFolder, "postmaster.pid")))
            {
                try
                {
                    await StopServerAsync();
                }
                catch (InvalidOperationException)
                {
                }
            }

            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        private Task PgAsync(string tool, string[] args, string what)
        {
            var exe = Path.Combine(_bin, tool);
            return _asPostgresUser
                ? RunAsync("runuser", ["-u", "postgres", "--", exe, .. args], Folder, what)
                : RunAsync(exe, args, Folder, what);
        }

        private static async Task RunAsync(string file, string[] args, string workingDirectory, string what)
        {
            var start = new ProcessStartInfo(file)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"{what}: cannot start {file}");
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{what} failed (exit {process.ExitCode}): {(await error).Trim()} {(await output).Trim()}");
            }
        }

        private static string? FindBin()
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            {
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
                {
                    return dir;
                }
            }

            const string debian = "/usr/lib/postgresql";
            if (!Directory.Exists(debian))
            {
                return null;
            }

            return Directory.GetDirectories(debian)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
                .OrderByDescending(d => d.Version)
                .Select(d => d.Dir)
                .FirstOrDefault();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
