using System.Runtime.CompilerServices;
using System.Text.Json;
using CageNet.Configuration;
using CageNet.Metering;
using CageNet.Pricing;

namespace CageNet.Ledger;

/// <summary>
/// Gives the static <see cref="Cage"/> facade its embedded default when no host configured one: a SQLite ledger at
/// <see cref="LedgerLocation.Resolve"/> with the policy of the <c>.cage/cage.json</c> beside it (if any) and the
/// price map named by <c>CAGE_PRICES</c>. Registered by this module's initializer, which Cage.Core runs when the facade is first used.
/// </summary>
internal static class EmbeddedDefault
{
    public const string PricesEnvironmentVariable = "CAGE_PRICES";
    public const string PolicyFileName = "cage.json";

#pragma warning disable CA2255 // A module initializer is how this package plugs its default into Cage.Core without Core referencing SQLite.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => Cage.RegisterEmbeddedFactory(Create);

    internal static ICageMeter Create()
    {
        var path = LedgerLocation.Resolve();
        var options = LoadPolicy(path);
        var catalog = PriceCatalog.FromOptions(options.Pricing, Path.GetDirectoryName(path), Environment.GetEnvironmentVariable(PricesEnvironmentVariable));
        ILedgerSink sink;
        IAsyncDisposable? owned = null;
        try
        {
            var ledger = SqliteLedger.Open(path);
            sink = ledger;
            owned = ledger;
        }
#pragma warning disable CA1031 // Fail-open: an unusable ledger must not break the app's LLM calls.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // No logger exists for the static facade: say it once on stderr and in the trace log, and keep metering in memory.
            Cage.WarnInMemory($"cannot open the ledger at {path} ({ex.Message})");
            sink = new InMemoryLedger();
        }

        return new CageMeter(sink, catalog, TimeProvider.System, options.Metering) { OwnedSink = owned };
    }

    /// <summary>Reads the <c>Cage</c> section of <c>cage.json</c> next to the ledger, when the ledger sits in a <c>.cage/</c> folder.</summary>
    internal static CageOptions LoadPolicy(string ledgerPath)
    {
        var folder = Path.GetDirectoryName(ledgerPath);
        var file = folder is null ? null : Path.Combine(folder, PolicyFileName);
        if (file is null || !File.Exists(file))
        {
            return new CageOptions();
        }

        try
        {
            using var stream = File.OpenRead(file);
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.NameEquals(CageOptions.SectionName) || string.Equals(property.Name, CageOptions.SectionName, StringComparison.OrdinalIgnoreCase))
                {
                    var options = property.Value.Deserialize<CageOptions>(new JsonSerializerOptions { PropertyNameCaseInsensitive = true }) ?? new CageOptions();
                    if (string.IsNullOrWhiteSpace(options.Pricing.MapFile))
                    {
                        options.Pricing.MapFile = null;
                    }
                    else if (!Path.IsPathRooted(options.Pricing.MapFile))
                    {
                        options.Pricing.MapFile = Path.GetFullPath(options.Pricing.MapFile, folder!);
                    }

                    return options;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            Console.Error.WriteLine($"cage: ignoring the policy {file}: {ex.Message}");
        }

        return new CageOptions();
    }
}
