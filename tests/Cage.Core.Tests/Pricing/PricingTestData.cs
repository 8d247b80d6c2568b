using System.Text;
using CageNet.Pricing;
using CageNet.TestFixtures;

namespace CageNet.Tests.Pricing;

/// <summary>The repository's price map and wire fixtures (<c>tests/fixtures</c>), and small catalogs from inline JSON.</summary>
internal static class PricingTestData
{
    public const string MapFileName = "model_prices_and_context_window.json";

    public static string MapPath => RepositoryFixtures.PriceMap;

    public static string WireFixture(string name) => RepositoryFixtures.WireFile(name);

    /// <summary>A catalog parsed from inline community-format JSON.</summary>
    public static PriceCatalog Catalog(string json, string sourceName = "inline.json")
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return PriceCatalog.ParsePriceMap(stream, sourceName);
    }
}
