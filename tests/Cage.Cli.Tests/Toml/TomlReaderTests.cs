using CageNet.Cli.Toml;

namespace CageNet.Cli.Tests.Toml;

[TestFixture]
public sealed class TomlReaderTests
{
    private static TomlTable Parse(string text) => TomlReader.Parse(text, "policy.toml");

    private static TomlTable Table(TomlTable table, string key) => (TomlTable)table[key];

    [Test]
    public void Parse_ScalarsOfEveryKind_AreTyped()
    {
        var root = Parse("""
            s = "a \"quoted\" \u00e9 string\t"
            lit = 'C:\path\n'
            i = 1_000
            neg = -17
            hex = 0xff
            f = 3.25
            e = 1e-6
            t = true
            no = false
            day = 2026-06-20
            at = 2026-06-20T10:00:00Z
            inf = -inf
            """);

        Assert.That(root["s"], Is.EqualTo("a \"quoted\" é string\t"));
        Assert.That(root["lit"], Is.EqualTo(@"C:\path\n"));
        Assert.That(root["i"], Is.EqualTo(1000L));
        Assert.That(root["neg"], Is.EqualTo(-17L));
        Assert.That(root["hex"], Is.EqualTo(255L));
        Assert.That(root["f"], Is.EqualTo(3.25m));
        Assert.That(root["e"], Is.EqualTo(0.000001m));
        Assert.That(root["t"], Is.EqualTo(true));
        Assert.That(root["no"], Is.EqualTo(false));
        Assert.That(root["day"], Is.EqualTo("2026-06-20"));
        Assert.That(root["at"], Is.EqualTo("2026-06-20T10:00:00Z"));
        Assert.That(root["inf"], Is.EqualTo(double.NegativeInfinity));
    }

    [Test]
    public void Parse_Floats_AreExactDecimals()
    {
        var root = Parse("price = 0.0000025\n");

        Assert.That(root["price"], Is.EqualTo(0.0000025m));
    }

    [Test]
    public void Parse_TablesDottedAndQuotedKeys_NestAsWritten()
    {
        var root = Parse("""
            # comment
            [prices."anthropic/claude-opus-4-8"]
            input = 3   # trailing comment
            [prices.openai.gpt-4o]
            output.value = 10
            [ a . 'b c' ]
            x = 1
            """);

        var prices = Table(root, "prices");
        Assert.That(Table(prices, "anthropic/claude-opus-4-8")["input"], Is.EqualTo(3L));
        Assert.That(Table(Table(Table(prices, "openai"), "gpt-4o"), "output")["value"], Is.EqualTo(10L));
        Assert.That(Table(Table(root, "a"), "b c")["x"], Is.EqualTo(1L));
        Assert.That(prices.Keys, Is.EqualTo(new[] { "anthropic/claude-opus-4-8", "openai" }));
    }

    [Test]
    public void Parse_ArraysAndInlineTables_SpanLinesWithComments()
    {
        var root = Parse("""
            order = [
              "graphify",  # first
              "fux",
              "compressor", ]
            nested = [[1, 2], ["a"]]
            point = { x = 1, y = { z = "deep" } }
            """);

        Assert.That((TomlArray)root["order"], Is.EqualTo(new object[] { "graphify", "fux", "compressor" }));
        var nested = (TomlArray)root["nested"];
        Assert.That((TomlArray)nested[0], Is.EqualTo(new object[] { 1L, 2L }));
        var point = Table(root, "point");
        Assert.That(point["x"], Is.EqualTo(1L));
        Assert.That(Table(point, "y")["z"], Is.EqualTo("deep"));
    }

    [Test]
    public void Parse_MultilineStrings_FollowTheTrimmingRules()
    {
        var root = Parse("a = \"\"\"\nline one\nline two\"\"\"\nb = \"\"\"one \\\n    two\"\"\"\nc = '''\nraw \\n'''\n");

        Assert.That(root["a"], Is.EqualTo("line one\nline two"));
        Assert.That(root["b"], Is.EqualTo("one two"));
        Assert.That(root["c"], Is.EqualTo("raw \\n"));
    }

    [Test]
    public void Parse_ArrayOfTables_AppendsOneTablePerHeader()
    {
        var root = Parse("""
            [[rule]]
            name = "one"
            [[rule]]
            name = "two"
            """);

        var rules = (TomlArray)root["rule"];
        Assert.That(rules, Has.Count.EqualTo(2));
        Assert.That(((TomlTable)rules[1])["name"], Is.EqualTo("two"));
    }

    [Test]
    public void Parse_CrlfLineEnds_AreAccepted()
    {
        var root = Parse("[tools]\r\norder = [\"a\"]\r\n");

        Assert.That((TomlArray)Table(root, "tools")["order"], Is.EqualTo(new object[] { "a" }));
    }

    [Test]
    public void LineOf_Key_IsTheLineItWasWrittenOn()
    {
        var root = Parse("\n\n[tools]\n\norder = []\n");

        Assert.That(Table(root, "tools").LineOf("order"), Is.EqualTo(5));
        Assert.That(root.LineOf("tools"), Is.EqualTo(3));
    }

    [TestCase("a = 1\na = 2\n", 2, "defined twice")]
    [TestCase("[t]\nx = 1\n[t]\n", 3, "defined twice")]
    [TestCase("a = \"open\n", 1, "unterminated string")]
    [TestCase("a = [1, 2\n", 1, "unterminated array")]
    [TestCase("x = 1\na = bare\n", 2, "strings need quotes")]
    [TestCase("a = 1 2\n", 1, "end of the line")]
    [TestCase("= 1\n", 1, "key")]
    [TestCase("a = \"\\q\"\n", 1, "escape")]
    [TestCase("a = 1\n[a.b]\n", 2, "already a value")]
    [TestCase("p = { x = 1 }\n[p]\n", 2, "defined twice")]
    [TestCase("n = 99999999999999999999\n", 1, "out of range")]
    public void Parse_Malformed_ThrowsNamingFileAndLine(string text, int line, string what)
    {
        var ex = Assert.Throws<TomlException>(() => Parse(text));

        Assert.That(ex!.Message, Does.StartWith($"policy.toml:{line}: "));
        Assert.That(ex.Message, Does.Contain(what));
    }
}
