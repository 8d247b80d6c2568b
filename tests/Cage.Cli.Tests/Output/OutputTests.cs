using System.Text;
using CageNet.Cli.Output;

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

    [TestCase("0.0483", "$0.0483")]
    [TestCase("0.04835", "$0.0484")]
    [TestCase("1234.5", "$1,234.5000")]
    [TestCase("0", "$0.0000")]
    [TestCase("-0.01", "-$0.0100")]
    public void Usd_Amount_HasFourDecimalsAndSeparators(string input, string expected)
    {
        Assert.That(Formats.Usd(decimal.Parse(input, System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(expected));
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
