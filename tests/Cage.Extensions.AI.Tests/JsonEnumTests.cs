using CageNet.Tests;

namespace CageNet.Extensions.AI.Tests;

/// <summary>Any public enum of the Microsoft.Extensions.AI integration serializes as its snake_case name (none today).</summary>
public sealed class JsonEnumTests
{
    [Test]
    public void EveryPublicEnumOfExtensionsAI_RoundTripsAsItsWireName() =>
        PublicEnumJson.AssertEveryEnumRoundTrips(typeof(CageChatClientOptions).Assembly);
}
