using System.Text;
using CageNet.Views;

namespace CageNet.Cli.Tests.Output;

[TestFixture]
public sealed class OutputTests
{
    [TestCase("0.04830000", "0.0483")]
    [TestCase("2.0", "2")]
    [TestCase("0", "0")]
    [TestCase("0.000028", "0.000028")]
    [TestCase("1234567.8900", "1234567.89")]
    public void Normalize_TrailingZeros_AreDropped(string input, string expected)
    {
        var value = decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture);

        var json = JsonOutput.Write(w =>
        {
            w.WriteStartObject();
            w.WriteDecimal("v", value);
            w.WriteEndObject();
        });

        Assert.That(json, Is.EqualTo($"{{\n  \"v\": {expected}\n}}\n"));
    }

    // The one money rule (README, "How money is shown"): 4 decimals; whole dollars show cents only; a non-zero amount
    // never shows as zero (up to 6 decimals, then "<$0.000001").
    [TestCase("0.0483", "$0.0483")]
    [TestCase("0.04835", "$0.0484")]
    [TestCase("1234.5", "$1,234.5000")]
    [TestCase("0.1", "$0.1000")]
    [TestCase("-0.01", "-$0.0100")]
    [TestCase("25", "$25.00")]
    [TestCase("25.0000", "$25.00")]
    [TestCase("750.00", "$750.00")]
    [TestCase("1000", "$1,000.00")]
    [TestCase("0", "$0.00")]
    [TestCase("-3", "-$3.00")]
    [TestCase("25.00001", "$25.0000")]
    [TestCase("0.00005", "$0.0001")]
    [TestCase("0.00004", "$0.00004")]
    [TestCase("0.000012", "$0.000012")]
    [TestCase("0.0000123", "$0.000012")]
    [TestCase("0.0000005", "$0.000001")]
    [TestCase("0.0000004", "<$0.000001")]
    [TestCase("-0.00002", "-$0.00002")]
    [TestCase("-0.0000001", ">-$0.000001")]
    public void Usd_OneRule(string input, string expected)
    {
        Assert.That(Formats.Usd(decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(expected));
    }

    [Test]
    public void Usd_NonZeroAmounts_NeverShowAsZero()
    {
        for (var e = 1; e <= 12; e++)
        {
            var tiny = 1m / (decimal)Math.Pow(10, e);
            Assert.That(Formats.Usd(tiny), Does.Not.Match(@"^\$0\.0+$"), tiny.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [TestCase(512, "512 B")]
    [TestCase(1536, "1.5 KiB")]
    [TestCase(5 * 1024 * 1024, "5.0 MiB")]
    public void Bytes_BinaryUnits(long value, string expected)
    {
        Assert.That(Formats.Bytes(value), Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase(" ")]
    public void Column_WithoutAHeader_IsRefused(string header)
    {
        Assert.Throws<ArgumentException>(() => new TextTable().Column(header));
    }

    [Test]
    public void Timestamp_WithAndWithoutMilliseconds_IsIsoUtc()
    {
        Assert.That(Formats.Timestamp(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.FromHours(2))), Is.EqualTo("2026-06-20T10:00:00Z"));
        Assert.That(Formats.Timestamp(new DateTimeOffset(2026, 6, 20, 10, 0, 0, 5, TimeSpan.Zero)), Is.EqualTo("2026-06-20T10:00:00.005Z"));
    }

    [Test]
    public void Render_Table_AlignsColumnsAndTrimsTrailingSpaces()
    {
        var text = new StringBuilder();
        new TextTable().Column("name").Column("n", alignRight: true).Column("note")
            .Row("a", "1", "")
            .Row("longer", "1,000", "x")
            .Render(text);

        Assert.That(text.ToString(), Is.EqualTo(
            "name        n  note\n" +
            "------  -----  ----\n" +
            "a           1\n" +
            "longer  1,000  x\n"));
    }
}
