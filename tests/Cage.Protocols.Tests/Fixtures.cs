using CageNet.TestFixtures;

namespace CageNet.Protocols.Tests;

/// <summary>The repository's wire fixtures (<c>tests/fixtures/wire</c>) and this project's own.</summary>
internal static class Fixtures
{
    public static string SharedWire => RepositoryFixtures.Wire;

    public static string Own => Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures");

    public static byte[] SharedBytes(string name) => File.ReadAllBytes(Path.Combine(SharedWire, name));

    public static byte[] OwnBytes(string name) => File.ReadAllBytes(Path.Combine(Own, name));
}
