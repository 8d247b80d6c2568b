using CageNet.Ledger;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Ledger;

public class TimeWindowTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero));

    [TestCase("7d", "2026-06-13T12:00:00Z")]
    [TestCase("12h", "2026-06-20T00:00:00Z")]
    [TestCase("30m", "2026-06-20T11:30:00Z")]
    [TestCase("2w", "2026-06-06T12:00:00Z")]
    [TestCase("2026-06-01", "2026-06-01T00:00:00Z")]
    [TestCase("2026-06-19T08:15:00Z", "2026-06-19T08:15:00Z")]
    public void Parse_ValidSince_GivesLowerBound(string text, string expected)
    {
        var w = TimeWindow.Parse(text, null, Clock);
        Assert.That(w.Since, Is.EqualTo(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(w.Until, Is.Null);
        Assert.That(w.SinceText, Is.EqualTo(text));
    }

    [Test]
    public void Parse_UntilDate_MeansThroughEndOfThatDay()
    {
        var w = TimeWindow.Parse(null, "2026-06-20", Clock);
        Assert.That(w.Until, Is.EqualTo(new DateTimeOffset(2026, 6, 21, 0, 0, 0, TimeSpan.Zero)));
        Assert.That(w.Contains(new DateTimeOffset(2026, 6, 20, 23, 59, 59, TimeSpan.Zero)), Is.True);
        Assert.That(w.Contains(new DateTimeOffset(2026, 6, 21, 0, 0, 0, TimeSpan.Zero)), Is.False);
    }

    [TestCase("bogus")]
    [TestCase("7")]
    [TestCase("d7")]
    [TestCase("7y")]
    [TestCase("2026-13-01")]
    [TestCase("")]
    [TestCase("-3d")]
    public void Parse_MalformedSince_ThrowsNamingTheOption(string text)
    {
        var ex = Assert.Throws<FormatException>(() => TimeWindow.Parse(text, null, Clock));
        Assert.That(ex!.Message, Does.Contain("--since"));
    }

    [Test]
    public void Parse_UntilBeforeSince_Throws()
    {
        var ex = Assert.Throws<FormatException>(() => TimeWindow.Parse("2026-06-10", "2026-06-01", Clock));
        Assert.That(ex!.Message, Does.Contain("empty"));
    }

    [Test]
    public void All_ContainsEverything()
    {
        Assert.That(TimeWindow.All.Contains(DateTimeOffset.MinValue), Is.True);
        Assert.That(TimeWindow.All.Contains(DateTimeOffset.MaxValue), Is.True);
    }
}
