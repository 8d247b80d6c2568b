using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Substrate;

public class CageIdsTests
{
    [Test]
    public void NewCallId_ManyIds_AreUniqueAndWellFormed()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero));
        var ids = new HashSet<string>();
        for (var i = 0; i < 200_000; i++)
        {
            Assert.That(ids.Add(CageIds.NewCallId(time)), Is.True, "collision");
        }

        Assert.That(ids.All(id => id.Length == 28 && id.StartsWith("c_", StringComparison.Ordinal)), Is.True);
        Assert.That(ids.All(id => id[2..].All(ch => "0123456789ABCDEFGHJKMNPQRSTVWXYZ".Contains(ch))), Is.True);
    }

    [Test]
    public void NewCallId_LaterMillisecond_SortsAfter()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero));
        var previous = CageIds.NewCallId(time);
        for (var i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            var next = CageIds.NewCallId(time);
            Assert.That(string.CompareOrdinal(next, previous), Is.GreaterThan(0));
            previous = next;
        }
    }

    [Test]
    public void NewCallId_RandomPart_UsesAllEightyBits()
    {
        // Character 15 carries bits 60–64 of the random part: with 80 random bits it takes all 32 values.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero));
        var seen = new HashSet<char>();
        for (var i = 0; i < 5000; i++)
        {
            seen.Add(CageIds.NewCallId(time)[15]);
        }

        Assert.That(seen, Has.Count.EqualTo(32));
        var first = new HashSet<char>();
        for (var i = 0; i < 5000; i++)
        {
            first.Add(CageIds.NewCallId(time)[12]); // bits 75–79: the top of the 16 high random bits
        }

        Assert.That(first, Has.Count.EqualTo(32));
    }

    [Test]
    public void NewReceiptId_HasReceiptPrefix()
    {
        Assert.That(CageIds.NewReceiptId(TimeProvider.System), Does.StartWith("r_"));
    }

    [Test]
    public void TruncateToMilliseconds_DropsTicksAndConvertsToUtc()
    {
        var local = new DateTimeOffset(2026, 6, 20, 12, 0, 0, 123, TimeSpan.FromHours(2)).AddTicks(4567);
        var t = CageIds.TruncateToMilliseconds(local);
        Assert.That(t, Is.EqualTo(new DateTimeOffset(2026, 6, 20, 10, 0, 0, 123, TimeSpan.Zero)));
        Assert.That(t.Offset, Is.EqualTo(TimeSpan.Zero));
    }
}
