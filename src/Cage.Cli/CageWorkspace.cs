using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Cli.Policy;
using CageNet.Pricing;

namespace CageNet.Cli;

/// <summary>
/// Where a command's ledger, policy and price map are: the ledger from <c>--ledger</c>, else <c>CAGE_LEDGER</c>, else the
/// nearest ancestor with a <c>.cage/</c> folder (SPEC 5); the policy is <c>cage.json</c> in the ledger's <c>.cage/</c>
/// folder (or in the project's <c>.cage/</c> when the ledger lives elsewhere); the price map from <c>--prices</c>, else
/// <c>CAGE_PRICES</c>, else the policy's <c>Pricing.MapFile</c>.
/// </summary>
internal sealed class CageWorkspace
{
    public const string PricesVariable = "CAGE_PRICES";

    private const string DefaultOrigin = "the default location";

    private CageWorkspace(string ledgerPath, string ledgerOrigin, string policyPath, string? pricesFile, string? pricesOrigin, string? postgres = null)
    {
        PostgresConnectionString = postgres;
        LedgerPath = ledgerPath;
        LedgerOrigin = ledgerOrigin;
        PolicyPath = policyPath;
        PricesFile = pricesFile;
        PricesOrigin = pricesOrigin;
    }

    /// <summary>
    /// The full path of the ledger file (it may not exist yet); for a PostgreSQL ledger, the database as messages show it
    /// (<c>postgres://user@host:port/database</c>, never the password).
    /// </summary>
    public string LedgerPath { get; }

    /// <summary>The connection string or URL of a PostgreSQL ledger (<c>--ledger</c> or <c>CAGE_LEDGER</c>), else <see langword="null"/>. Never printed.</summary>
    public string? PostgresConnectionString { get; }

    /// <summary>Whether the ledger is a PostgreSQL database rather than a SQLite file.</summary>
    public bool IsPostgres => PostgresConnectionString is not null;

    /// <summary>Where <see cref="LedgerPath"/> came from, for messages: <c>--ledger</c>, <c>CAGE_LEDGER</c> or <c>the default location</c>.</summary>
    public string LedgerOrigin { get; }

    /// <summary>Whether the ledger is the default one (neither <c>--ledger</c> nor <c>CAGE_LEDGER</c> named it).</summary>
    public bool LedgerIsDefault => LedgerOrigin == DefaultOrigin;

    /// <summary>The full path of the policy file <c>.cage/cage.json</c> (it may not exist yet).</summary>
    public string PolicyPath { get; }

    /// <summary>The folder of <see cref="PolicyPath"/>; relative paths in the policy resolve against it.</summary>
    public string PolicyDirectory => Path.GetDirectoryName(PolicyPath)!;

    /// <summary>The price map given by <c>--prices</c> or <c>CAGE_PRICES</c> (full path), or <see langword="null"/>.</summary>
    public string? PricesFile { get; }

    /// <summary>Where <see cref="PricesFile"/> came from: <c>--prices</c> or <c>CAGE_PRICES</c>.</summary>
    public string? PricesOrigin { get; }

    public bool LedgerExists => File.Exists(LedgerPath);

    public static CageWorkspace Resolve(CliContext context, string? ledgerOption, string? pricesOption)
    {
        ArgumentNullException.ThrowIfNull(context);
        var explicitLedger = !string.IsNullOrWhiteSpace(ledgerOption) ? ledgerOption : context.Variable(LedgerLocation.EnvironmentVariable);
        var ledgerOrigin = !string.IsNullOrWhiteSpace(ledgerOption) ? "--ledger"
            : explicitLedger is not null ? LedgerLocation.EnvironmentVariable
            : DefaultOrigin;
        if (PostgresConnection.IsPostgres(explicitLedger))
        {
            string where;
            try
            {
                where = PostgresConnection.Describe(PostgresConnection.Parse(explicitLedger!));
            }
            catch (ArgumentException ex)
            {
                throw CliException.BadInput($"{ledgerOrigin}: {ex.Message}", ex);
            }

            context.LedgerInUse = where;
            var (pricesFile, pricesOrigin) = PricesFor(context, pricesOption);
            return new CageWorkspace(where, ledgerOrigin, PolicyPathFor(where, context.WorkingDirectory), pricesFile, pricesOrigin, explicitLedger!.Trim());
        }

        var ledgerPath = string.IsNullOrWhiteSpace(explicitLedger)
            ? DefaultLedgerPath(context.WorkingDirectory)
            : LedgerLocation.Resolve(context.FullPath(explicitLedger), context.WorkingDirectory);

        var (prices, origin) = PricesFor(context, pricesOption);
        context.LedgerInUse = ledgerPath;
        return new CageWorkspace(ledgerPath, ledgerOrigin, PolicyPathFor(ledgerPath, context.WorkingDirectory), prices, origin);
    }

    private static (string? File, string? Origin) PricesFor(CliContext context, string? pricesOption) =>
        !string.IsNullOrWhiteSpace(pricesOption) ? (context.FullPath(pricesOption), "--prices")
        : context.Variable(PricesVariable) is { } fromEnvironment ? (context.FullPath(fromEnvironment), PricesVariable)
        : (null, null);

    /// <summary>
    /// <see cref="LedgerLocation.Resolve"/>'s rule without its environment lookup (the CLI reads <c>CAGE_LEDGER</c> from
    /// the environment it was given, so tests never see the machine's): <c>&lt;root&gt;/.cage/ledger.db</c> for the
    /// nearest ancestor with a <c>.cage/</c> folder, else <c>&lt;workingDirectory&gt;/.cage/ledger.db</c>.
    /// </summary>
    internal static string DefaultLedgerPath(string workingDirectory) =>
        Path.Combine(ProjectRoot(workingDirectory) ?? workingDirectory, LedgerLocation.FolderName, LedgerLocation.FileName);

    /// <summary>The nearest ancestor of <paramref name="workingDirectory"/> (itself included) that has a <c>.cage/</c> folder.</summary>
    internal static string? ProjectRoot(string workingDirectory)
    {
        for (var folder = new DirectoryInfo(workingDirectory); folder is not null; folder = folder.Parent)
        {
            if (Directory.Exists(Path.Combine(folder.FullName, LedgerLocation.FolderName)))
            {
                return folder.FullName;
            }
        }

        return null;
    }

    /// <summary>The policy next to the ledger's <c>.cage/</c> folder, else in the project's <c>.cage/</c> folder.</summary>
    internal static string PolicyPathFor(string ledgerPath, string workingDirectory)
    {
        var ledgerFolder = Path.GetDirectoryName(ledgerPath);
        if (ledgerFolder is not null && string.Equals(Path.GetFileName(ledgerFolder), LedgerLocation.FolderName, StringComparison.Ordinal))
        {
            return Path.Combine(ledgerFolder, PolicyFile.FileName);
        }

        return Path.Combine(ProjectRoot(workingDirectory) ?? workingDirectory, LedgerLocation.FolderName, PolicyFile.FileName);
    }

    /// <summary>The bound policy (defaults when the file does not exist).</summary>
    /// <exception cref="CliException">The policy file is malformed (exit 2, naming the file).</exception>
    public CageOptions LoadPolicy(CliContext context) => PolicyFile.Load(PolicyPath, context.Warn);

    /// <summary>Checks the price map given by <c>--prices</c> or <c>CAGE_PRICES</c> (if any): it must exist and parse.</summary>
    /// <exception cref="CliException">The map is missing or invalid (exit 2, naming the option and the file).</exception>
    public void CheckPrices()
    {
        if (PricesFile is null)
        {
            return;
        }

        if (Directory.Exists(PricesFile) || !File.Exists(PricesFile))
        {
            throw CliException.BadInput($"{PricesOrigin}: price map '{PricesFile}' was not found");
        }

        try
        {
            PriceCatalog.LoadPriceMap(PricesFile);
        }
        catch (PriceMapException ex)
        {
            throw CliException.BadInput($"{PricesOrigin}: {ex.Message}", ex);
        }
    }

    /// <summary>The price catalog: built-in table, then the price map, then the policy's overrides, local models and aliases.</summary>
    /// <exception cref="CliException">The price map or a pricing setting is bad (exit 2, naming the file).</exception>
    public PriceCatalog LoadCatalog(CageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckPrices();
        try
        {
            return PriceCatalog.FromOptions(options.Pricing, PolicyDirectory, PricesFile);
        }
        catch (PriceMapException ex)
        {
            var origin = PricesOrigin ?? $"{PolicyPath} (Cage:Pricing:MapFile)";
            throw CliException.BadInput($"{origin}: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw CliException.BadInput($"{PolicyPath}: Cage:Pricing: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Opens the ledger for <c>cage budget</c>: as <see cref="OpenReader"/> does (nothing is created), but read-write
    /// when the SQLite file can be written, so the guard can register its tree's budget rollup the first time (one pass
    /// over the current periods' calls) and later runs read one row per node. Read-only otherwise.
    /// </summary>
    /// <exception cref="CliException">As <see cref="OpenReader"/>.</exception>
    public LedgerHandle OpenForBudgets()
    {
        if (PostgresConnectionString is not null || LedgerFile.Inspect(LedgerPath, LedgerOrigin) != LedgerFile.State.Current)
        {
            return OpenReader();
        }

        try
        {
            using (new FileStream(LedgerPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
            {
            }

            return new LedgerHandle(SqliteLedger.Open(LedgerPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
        {
            return OpenReader(); // a read-only file or folder: every run replays the current periods' calls
        }
    }

    /// <summary>Opens (creating when missing) the SQLite ledger, for commands that write.</summary>
    /// <exception cref="CliException">The path is a folder or holds a file that is not a Cage ledger (exit 2, nothing written); it cannot be opened (exit 1).</exception>
    public SqliteLedger OpenLedger()
    {
        if (IsPostgres)
        {
            throw CliException.BadInput(
                $"this command writes to a SQLite ledger, and {LedgerOrigin} names the PostgreSQL ledger {LedgerPath}: write to a SQLite file, then copy it with cage migrate --to, or meter into PostgreSQL from the app (AddPostgresLedger)");
        }

        LedgerFile.Inspect(LedgerPath, LedgerOrigin);
        return OpenReadWrite();
    }

    /// <summary>
    /// Opens the ledger for a command that only reads: the file must exist (a missing ledger is exit 2 naming the path,
    /// and nothing is created) and be a Cage ledger; it is opened read-only (<c>Mode=ReadOnly</c>), so a ledger in a
    /// read-only folder can be read. A ledger of an earlier schema version is migrated forward first.
    /// </summary>
    /// <exception cref="CliException">There is no ledger at the path, or it is not a (readable) Cage ledger.</exception>
    public LedgerHandle OpenReader()
    {
        if (PostgresConnectionString is { } postgres)
        {
            return new LedgerHandle(OpenPostgres(postgres, LedgerOrigin));
        }

        var state = LedgerFile.Inspect(LedgerPath, LedgerOrigin);
        if (state == LedgerFile.State.Missing)
        {
            throw CliException.BadInput(
                $"no ledger at {LedgerPath} ({LedgerOrigin}); nothing was created. Record calls first (cage init, cage demo or cage import), or point --ledger or CAGE_LEDGER at an existing ledger");
        }

        if (state == LedgerFile.State.Older)
        {
            return new LedgerHandle(OpenReadWrite());
        }

        try
        {
            return new LedgerHandle(SqliteLedger.OpenReadOnly(LedgerPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            if (LedgerFile.FindDamage(ex) is { } damage)
            {
                throw LedgerFile.Damaged(LedgerPath, damage.Message);
            }

            throw CliException.Failure($"cannot open the ledger {LedgerPath}: {ex.Message}", ex);
        }
    }

    /// <summary>Connects to a PostgreSQL ledger (migrating it forward; creating its tables on first use).</summary>
    /// <exception cref="CliException">The connection string is bad or the database holds something else (exit 2); the server cannot be reached (exit 1). Never with the password.</exception>
    internal static PostgresLedger OpenPostgres(string connectionString, string origin)
    {
        try
        {
            return PostgresLedger.OpenAsync(connectionString).GetAwaiter().GetResult();
        }
        catch (ArgumentException ex)
        {
            throw CliException.BadInput($"{origin}: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw CliException.BadInput(ex.Message, ex);
        }
        catch (IOException ex)
        {
            throw CliException.Failure(ex.Message, ex);
        }
    }

    private SqliteLedger OpenReadWrite()
    {
        try
        {
            return SqliteLedger.Open(LedgerPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            if (LedgerFile.FindDamage(ex) is { } damage)
            {
                throw LedgerFile.Damaged(LedgerPath, damage.Message);
            }

            throw CliException.Failure($"cannot open the ledger {LedgerPath}: {ex.Message}", ex);
        }
    }
}

/// <summary>An open ledger for the duration of one command; disposing closes the file (if there is one).</summary>
internal sealed class LedgerHandle(ILedgerStore store) : IAsyncDisposable
{
    public ILedgerStore Store { get; } = store;

    public ValueTask DisposeAsync() => Store is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
