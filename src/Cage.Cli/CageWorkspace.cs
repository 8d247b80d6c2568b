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

    private CageWorkspace(string ledgerPath, string policyPath, string? pricesFile, string? pricesOrigin)
    {
        LedgerPath = ledgerPath;
        PolicyPath = policyPath;
        PricesFile = pricesFile;
        PricesOrigin = pricesOrigin;
    }

    /// <summary>The full path of the ledger file (it may not exist yet).</summary>
    public string LedgerPath { get; }

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
        var ledgerPath = string.IsNullOrWhiteSpace(explicitLedger)
            ? DefaultLedgerPath(context.WorkingDirectory)
            : LedgerLocation.Resolve(context.FullPath(explicitLedger), context.WorkingDirectory);

        string? prices = null, origin = null;
        if (!string.IsNullOrWhiteSpace(pricesOption))
        {
            (prices, origin) = (context.FullPath(pricesOption), "--prices");
        }
        else if (context.Variable(PricesVariable) is { } fromEnvironment)
        {
            (prices, origin) = (context.FullPath(fromEnvironment), PricesVariable);
        }

        return new CageWorkspace(ledgerPath, PolicyPathFor(ledgerPath, context.WorkingDirectory), prices, origin);
    }

    /// <summary>
    /// <see cref="LedgerLocation.Resolve"/>'s rule without its environment lookup (the CLI reads <c>CAGE_LEDGER</c> from
    /// the environment it was given, so tests never see the machine's): <c>&lt;root&gt;/.cage/ledger.db</c> for the
    /// nearest ancestor with a <c>.cage/</c> folder, else <c>&lt;workingDirectory&gt;/.cage/ledger.db</c>.
    /// </summary>
    internal static string DefaultLedgerPath(string workingDirectory) =>
        Path.Combine(ProjectRoot(workingDirectory) ?? workingDirectory, LedgerLocation.FolderName, LedgerLocation.FileName);

    /// <summary>The nearest ancestor of <paramref name="workingDirectory"/> (itself included) that has a <c>.cage/</c> folder.</summary>
    private static string? ProjectRoot(string workingDirectory)
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

    /// <summary>The price catalog: built-in table, then the price map, then the policy's overrides, local models and aliases.</summary>
    /// <exception cref="CliException">The price map or a pricing setting is bad (exit 2, naming the file).</exception>
    public PriceCatalog LoadCatalog(CageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (PricesFile is not null && !File.Exists(PricesFile))
        {
            throw CliException.BadInput($"{PricesOrigin}: price map '{PricesFile}' was not found");
        }

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

    /// <summary>Opens (creating when missing) the SQLite ledger.</summary>
    /// <exception cref="CliException">The file cannot be opened or is not a Cage ledger (exit 1).</exception>
    public SqliteLedger OpenLedger()
    {
        try
        {
            return SqliteLedger.Open(LedgerPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw CliException.Failure($"cannot open the ledger {LedgerPath}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A reader over the ledger for read-only commands: the SQLite file when it exists, else an empty in-memory ledger,
    /// so reading never creates files.
    /// </summary>
    public LedgerHandle OpenReader() => new(LedgerExists ? OpenLedger() : new InMemoryLedger());
}

/// <summary>An open ledger for the duration of one command; disposing closes the file (if there is one).</summary>
internal sealed class LedgerHandle(ILedgerStore store) : IAsyncDisposable
{
    public ILedgerStore Store { get; } = store;

    public ValueTask DisposeAsync() => Store is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
