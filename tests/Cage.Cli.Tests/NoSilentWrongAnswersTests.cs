using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace CageNet.Cli.Tests;

/// <summary>
/// Issue 12 A: what is not a Cage ledger, not a price map or not a number is exit 2 with a message naming the path or
/// option — never an empty answer, never a write to a file Cage did not create, never a .NET type name.
/// </summary>
[TestFixture]
public sealed class NoSilentWrongAnswersTests
{
    /// <summary>Every command that only reads the ledger, with the arguments it needs.</summary>
    private static readonly string[][] ReadCommands =
    [
        ["report"],
        ["report", "--json"],
        ["why", "c_s1call000001"],
        ["attrib"],
        ["matrix"],
        ["roi"],
        ["recommend"],
        ["quality"],
        ["regression"],
        ["forecast"],
        ["budget"],
        ["export", "exported"],
    ];

    /// <summary>Commands that write the ledger.</summary>
    private static readonly string[][] WriteCommands =
    [
        ["demo"],
        ["outcome", "fix-handover-bug"],
        ["import", Path.Combine(Fixtures.WorkedExample, "input")],
    ];

    private static IEnumerable<TestCaseData> Reads() => ReadCommands.Select(c => new TestCaseData((object)c).SetArgDisplayNames(string.Join(' ', c)));

    private static IEnumerable<TestCaseData> All() =>
        ReadCommands.Concat(WriteCommands).Select(c => new TestCaseData((object)c).SetArgDisplayNames(string.Join(' ', c)));

    private static IEnumerable<TestCaseData> Every() =>
        ReadCommands.Concat(WriteCommands).Append(["init"]).Append(["import", Path.Combine(Fixtures.WorkedExample, "input"), "--dry-run"])
            .Select(c => new TestCaseData((object)c).SetArgDisplayNames(string.Join(' ', c)));

    /// <summary>A failure message is for people: no exception or type names from .NET.</summary>
    internal static void AssertPlainError(CliRun run)
    {
        foreach (var leak in new[] { "Exception", "System.", "(Parameter '", "Nullable`1", "   at " })
        {
            Assert.That(run.Err, Does.Not.Contain(leak), $"stderr leaks '{leak}': {run.Err}");
            Assert.That(run.Out, Does.Not.Contain(leak), $"stdout leaks '{leak}'");
        }
    }

    private static async Task<CliRun> RunWithLedger(CliHarness cli, string ledger, string[] command) =>
        await cli.RunAsync([.. command, "--ledger", ledger]);

    private static string[] FilesUnder(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(folder, p)).Order(StringComparer.Ordinal).ToArray()
            : [];

    // ---- A missing ledger ----

    [TestCaseSource(nameof(Reads))]
    public async Task ReadCommand_MissingLedger_Exits2NamingThePathAndCreatesNothing(string[] command)
    {
        using var cli = new CliHarness();
        var ledger = cli.PathOf("nowhere", "ledger.db");

        var run = await RunWithLedger(cli, ledger, command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(ledger).And.Contain("--ledger"));
        Assert.That(run.Out, Is.Empty);
        Assert.That(FilesUnder(cli.Folder), Is.Empty, "nothing is created: no ledger, no folder, no export");
        AssertPlainError(run);
    }

    [TestCaseSource(nameof(Reads))]
    public async Task ReadCommand_MissingDefaultLedger_Exits2AndCreatesNoCageFolder(string[] command)
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync(command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(cli.LedgerPath));
        Assert.That(FilesUnder(cli.Folder), Is.Empty);
    }

    [Test]
    public async Task ReadCommand_MissingLedgerFromTheVariable_NamesTheVariable()
    {
        using var cli = new CliHarness();
        cli.Environment["CAGE_LEDGER"] = cli.PathOf("gone.db");

        var run = await cli.RunAsync("report");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PathOf("gone.db")).And.Contain("CAGE_LEDGER"));
    }

    // ---- A folder ----

    [TestCaseSource(nameof(All))]
    public async Task Command_LedgerPathIsAFolder_Exits2NamingIt(string[] command)
    {
        using var cli = new CliHarness();
        var folder = cli.PathOf("a-folder");
        Directory.CreateDirectory(folder);

        var run = await RunWithLedger(cli, folder, command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(folder).And.Contain("folder"));
        Assert.That(FilesUnder(folder), Is.Empty);
        AssertPlainError(run);
    }

    // ---- SQLite files Cage did not create ----

    private static string ForeignDatabase(CliHarness cli, string name, int applicationId, bool withTable = true)
    {
        var path = cli.PathOf(name);
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = (withTable ? "CREATE TABLE calls (id TEXT); INSERT INTO calls VALUES ('mine');" : "")
                + $"PRAGMA application_id = {applicationId}; PRAGMA user_version = 1;";
            command.ExecuteNonQuery();
            if (!withTable)
            {
                // Make the file non-empty: SQLite writes nothing for an empty schema until a page is needed.
                command.CommandText = "CREATE TABLE t (x); DROP TABLE t;";
                command.ExecuteNonQuery();
            }
        }

        return path;
    }

    [TestCaseSource(nameof(All))]
    public async Task Command_ForeignSqliteWithApplicationIdZero_Exits2AndLeavesTheFileUntouched(string[] command)
    {
        using var cli = new CliHarness();
        var path = ForeignDatabase(cli, "other-app.db", applicationId: 0);
        var before = await File.ReadAllBytesAsync(path);

        var run = await RunWithLedger(cli, path, command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(path).And.Contain("not a Cage ledger"));
        SqliteConnection.ClearAllPools();
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(before), "the file is never written");
        Assert.That(File.Exists(path + "-wal"), Is.False);
        Assert.That(File.Exists(path + "-journal"), Is.False);
        AssertPlainError(run);
    }

    [TestCase(0x12345678, true)]
    [TestCase(0, false)]
    public async Task Demo_ForeignSqlite_Exits2AndLeavesTheFileUntouched(int applicationId, bool withTable)
    {
        using var cli = new CliHarness();
        var path = ForeignDatabase(cli, "other.sqlite", applicationId, withTable);
        var before = await File.ReadAllBytesAsync(path);

        var run = await RunWithLedger(cli, path, ["demo"]);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(path));
        SqliteConnection.ClearAllPools();
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(before));
        Assert.That(FilesUnder(cli.Folder), Is.EqualTo(new[] { "other.sqlite" }), "no policy or .cage/ either");
    }

    // ---- Damaged ledgers ----

    [TestCaseSource(nameof(All))]
    public async Task Command_RandomBytes_Exits2NamingTheFile(string[] command)
    {
        using var cli = new CliHarness();
        var path = cli.PathOf("noise.db");
        var bytes = new byte[8192];
        new Random(12).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);

        var run = await RunWithLedger(cli, path, command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(path));
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(bytes));
        AssertPlainError(run);
    }

    [Test]
    public async Task Command_EmptyFile_Exits2()
    {
        using var cli = new CliHarness();
        var path = cli.PathOf("empty.db");
        await File.WriteAllBytesAsync(path, []);

        var report = await RunWithLedger(cli, path, ["report"]);
        var demo = await RunWithLedger(cli, path, ["demo"]);

        Assert.That(report.ExitCode, Is.EqualTo(2));
        Assert.That(demo.ExitCode, Is.EqualTo(2));
        Assert.That(report.Err, Does.Contain(path).And.Contain("empty"));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(0));
    }

    [TestCaseSource(nameof(All))]
    public async Task Command_TruncatedLedger_Exits2SayingItIsDamaged(string[] command)
    {
        using var cli = new CliHarness();
        var path = cli.PathOf("ledger.db");
        Assert.That((await RunWithLedger(cli, path, ["demo"])).ExitCode, Is.EqualTo(0));
        SqliteConnection.ClearAllPools();
        var whole = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, whole[..(whole.Length / 2)]);
        var truncated = await File.ReadAllBytesAsync(path);

        var run = await RunWithLedger(cli, path, command);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(path).And.Contain("damaged"));
        SqliteConnection.ClearAllPools();
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(truncated));
        AssertPlainError(run);
    }

    [Test]
    public async Task Command_NewerSchema_Exits2AndLeavesTheFileUntouched()
    {
        using var cli = new CliHarness();
        var path = cli.PathOf("future.db");
        await RunWithLedger(cli, path, ["demo"]);
        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 999;";
            command.ExecuteNonQuery();
        }

        var before = await File.ReadAllBytesAsync(path);
        var report = await RunWithLedger(cli, path, ["report"]);
        var demo = await RunWithLedger(cli, path, ["demo"]);

        Assert.That(report.ExitCode, Is.EqualTo(2));
        Assert.That(demo.ExitCode, Is.EqualTo(2));
        Assert.That(report.Err, Does.Contain(path).And.Contain("999"));
        SqliteConnection.ClearAllPools();
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(before));
    }

    // ---- --prices on every command ----

    [TestCaseSource(nameof(Every))]
    public async Task Command_MissingPriceMap_Exits2NamingTheFileAndOption(string[] command)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var map = cli.PathOf("no-such-prices.json");
        var before = FilesUnder(cli.Folder);

        var run = await cli.RunAsync([.. command, "--prices", map]);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(map).And.Contain("--prices"));
        Assert.That(FilesUnder(cli.Folder), Is.EqualTo(before), "nothing is written");
        AssertPlainError(run);
    }

    [TestCaseSource(nameof(Every))]
    public async Task Command_InvalidPriceMap_Exits2NamingTheFile(string[] command)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        var map = cli.PathOf("bad-prices.json");
        await File.WriteAllTextAsync(map, "{ \"anthropic/claude-opus-4-8\": { \"input_cost_per_token\": ");

        var run = await cli.RunAsync([.. command, "--prices", map]);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain(map));
        AssertPlainError(run);
    }

    [Test]
    public async Task Init_MissingPriceMap_CreatesNothing()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("init", "--prices", "missing.json");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(FilesUnder(cli.Folder), Is.Empty);
    }

    [Test]
    public async Task Report_PriceMapFromTheVariableMissing_Exits2NamingTheVariable()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        cli.Environment["CAGE_PRICES"] = cli.PathOf("gone.json");

        var run = await cli.RunAsync("report");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("CAGE_PRICES").And.Contain("gone.json"));
    }

    [Test]
    public async Task Report_PriceMapIsAFolder_Exits2()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        Directory.CreateDirectory(cli.PathOf("maps"));

        var run = await cli.RunAsync("report", "--prices", "maps");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PathOf("maps")));
    }

    // ---- demo --ledger writes only that ledger ----

    [Test]
    public async Task Demo_ExplicitLedger_WritesThatLedgerAndNothingElse()
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync("demo", "--ledger", Path.Combine("out", "x.db"));

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        SqliteConnection.ClearAllPools();
        var written = FilesUnder(cli.Folder);
        Assert.That(written, Does.Contain(Path.Combine("out", "x.db")));
        Assert.That(
            written.Except(["out", Path.Combine("out", "x.db"), Path.Combine("out", "x.db-wal"), Path.Combine("out", "x.db-shm")]),
            Is.Empty,
            "no .cage/ folder, no cage.json, no .gitignore");
    }

    [Test]
    public async Task Demo_LedgerFromTheVariable_WritesThatLedgerAndNothingElse()
    {
        using var cli = new CliHarness();
        cli.Environment["CAGE_LEDGER"] = cli.PathOf("y.db");

        var run = await cli.RunAsync("demo");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        SqliteConnection.ClearAllPools();
        Assert.That(FilesUnder(cli.Folder).Except(["y.db", "y.db-wal", "y.db-shm"]), Is.Empty);
    }

    // ---- a ledger in a read-only folder ----

    private static void MakeReadOnly(string folder, string file)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead); // 444
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute); // 555
    }

    private static void MakeWritable(string folder)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    [TestCaseSource(nameof(Reads))]
    public async Task ReadCommand_LedgerInAReadOnlyFolder_Reads(string[] command)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes");
        }

        using var cli = new CliHarness();
        var folder = cli.PathOf("ro");
        var ledger = Path.Combine(folder, "ledger.db");
        Assert.That((await RunWithLedger(cli, ledger, ["demo"])).ExitCode, Is.EqualTo(0));
        SqliteConnection.ClearAllPools();
        MakeReadOnly(folder, ledger);
        try
        {
            var run = await RunWithLedger(cli, ledger, command);

            Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
            Assert.That(run.Out, Is.Not.Empty);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            MakeWritable(folder);
        }
    }

    /// <summary>
    /// Root ignores file modes, so as root the in-process test above proves little: this one runs the real executable
    /// as the unprivileged user <c>nobody</c> (through <c>setpriv</c>), for whom the folder really is read-only.
    /// </summary>
    [Test]
    [Category("Process")]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Report_LedgerInAReadOnlyFolder_ReadsAsAnUnprivilegedUser()
    {
        if (OperatingSystem.IsWindows() || Environment.UserName != "root" || !File.Exists("/usr/bin/setpriv"))
        {
            Assert.Ignore("needs root and setpriv to run as nobody (without root the in-process test covers it)");
        }

        using var cli = new CliHarness();
        var folder = cli.PathOf("ro");
        var ledger = Path.Combine(folder, "ledger.db");
        Assert.That((await RunWithLedger(cli, ledger, ["demo"])).ExitCode, Is.EqualTo(0));
        SqliteConnection.ClearAllPools();
        MakeReadOnly(folder, ledger);
        // nobody may not be able to reach the build output (a clone in a private folder): run a world-readable copy.
        var app = CopyForAnyone(Path.GetDirectoryName(ProcessTests.LocateCageDll())!);
        try
        {
            foreach (var command in new[] { "report", "attrib", "budget" })
            {
                var start = new ProcessStartInfo("/usr/bin/setpriv")
                {
                    WorkingDirectory = cli.Folder,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", Path.Combine(app, Path.GetFileName(ProcessTests.LocateCageDll())), command, "--ledger", ledger })
                {
                    start.ArgumentList.Add(arg);
                }

                start.Environment.Clear();
                start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
                start.Environment["HOME"] = Path.GetTempPath();
                start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
                using var process = Process.Start(start)!;
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                await process.WaitForExitAsync(timeout.Token);

                Assert.That(process.ExitCode, Is.EqualTo(0), $"{command}: {await stderr}");
                Assert.That(await stdout, Is.Not.Empty);
            }

            Assert.That(Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName), Is.EqualTo(new[] { "ledger.db" }));
        }
        finally
        {
            MakeWritable(folder);
            Directory.Delete(app, recursive: true);
        }
    }

    /// <summary>A copy of a folder under the system temp folder that every user can read and traverse.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string CopyForAnyone(string source)
    {
        const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        const UnixFileMode File644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        var target = Path.Combine(Path.GetTempPath(), "cage-cli-app-" + Guid.NewGuid().ToString("N"));
        foreach (var folder in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories).Prepend(source))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, folder));
            Directory.CreateDirectory(copy);
            File.SetUnixFileMode(copy, Folder);
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(target, Path.GetRelativePath(source, file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, File644);
        }

        return target;
    }

    // ---- numbers ----

    [TestCase("forecast", "--budget", "lots", "is not an amount in dollars")]
    [TestCase("forecast", "--budget", "-5", "negative")]
    [TestCase("forecast", "--budget", "1e3", "is not an amount in dollars")]
    [TestCase("regression", "--tolerance", "x", "is not a number")]
    [TestCase("regression", "--tolerance", "-0.1", "negative")]
    [TestCase("regression", "--since", "soon", "is not a span")]
    [TestCase("regression", "--since", "2026-01-01", "is not a span")]
    [TestCase("regression", "--baseline", "forever", "is not a span")]
    [TestCase("forecast", "--since", "weekly", "is not a span")]
    [TestCase("report", "--since", "lots", "is not a window")]
    [TestCase("report", "--until", "2026-13-01", "is not a window")]
    [TestCase("report", "--since", "99999999999d", "--since")]
    [TestCase("roi", "--since", "yesterday", "is not a window")]
    [TestCase("recommend", "--since", "a while", "is not a window")]
    [TestCase("quality", "--since", "7 days", "is not a window")]
    [TestCase("report", "--by", "color", "--by")]
    public async Task BadValue_Exits2NamingTheOptionAndTheValue(string command, string option, string value, string expected)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync(command, option, value);

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Err);
        Assert.That(run.Err, Does.Contain($"{option} '{value}'").Or.Contain($"{option}: "));
        Assert.That(run.Err, Does.Contain(value));
        Assert.That(run.Err, Does.Contain(expected));
        Assert.That(run.Out, Is.Empty, "no help text on stdout for a usage error");
        AssertPlainError(run);
    }

    [Test]
    public async Task BadBudget_ReadsLikeASentence()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("forecast", "--budget", "lots");

        Assert.That(run.Err, Does.StartWith("cage: --budget 'lots' is not an amount in dollars"));
    }

    [TestCase("25", "25")]
    [TestCase("$1,000", "1000")]
    [TestCase("12.50", "12.50")]
    public async Task Budget_AcceptsAmountsInDollars(string value, string expected)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("forecast", "--budget", value, "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        Assert.That(run.Json().GetProperty("monthly_cap").GetDecimal(), Is.EqualTo(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [TestCase("why")]
    [TestCase("nosuch")]
    [TestCase("report", "--bogus")]
    public async Task UsageError_Exits2OnStderrOnly(params string[] args)
    {
        using var cli = new CliHarness();

        var run = await cli.RunAsync(args);

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Out, Is.Empty);
        Assert.That(run.Err, Does.StartWith("cage: ").And.Contain("--help"));
        AssertPlainError(run);
    }
}
