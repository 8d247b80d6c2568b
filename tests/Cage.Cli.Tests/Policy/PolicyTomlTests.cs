using CageNet.Cli.Policy;

namespace CageNet.Cli.Tests.Policy;

/// <summary>
/// The reference <c>policy.toml</c> as the importer sees it after Tomlyn has parsed it: typed values (floats as exact
/// decimals), nesting, where each key was written, and malformed files as <c>file:line:column: what</c>.
/// </summary>
[TestFixture]
public sealed class PolicyTomlTests
{
    private static PolicyTable Parse(string text) => PolicyToml.Parse(text, "policy.toml");

    private static PolicyTable Table(PolicyTable table, string key) => (PolicyTable)table[key];

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

    [TestCase("0.1", "0.1")]
    [TestCase("0.0000025", "0.0000025")]
    [TestCase("1_000.000_001", "1000.000001")]
    [TestCase("2.5e-7", "0.00000025")]
    [TestCase("0.30000000000000004441", "0.30000000000000004441")]
    public void Parse_Floats_AreExactDecimalsFromTheirText(string literal, string expected)
    {
        var root = Parse($"price = {literal}\n");

        Assert.That(root["price"], Is.TypeOf<decimal>());
        Assert.That(((decimal)root["price"]).ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(expected));
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

        Assert.That((PolicyArray)root["order"], Is.EqualTo(new object[] { "graphify", "fux", "compressor" }));
        var nested = (PolicyArray)root["nested"];
        Assert.That((PolicyArray)nested[0], Is.EqualTo(new object[] { 1L, 2L }));
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
            [rule.limits]
            usd = 1
            """);

        var rules = (PolicyArray)root["rule"];
        Assert.That(rules, Has.Count.EqualTo(2));
        Assert.That(((PolicyTable)rules[1])["name"], Is.EqualTo("two"));
        Assert.That(Table((PolicyTable)rules[1], "limits")["usd"], Is.EqualTo(1L));
    }

    [Test]
    public void Parse_ImpliedTableThenItsHeader_IsOneTable()
    {
        var root = Parse("[prices.acme.m]\ninput = 1\n[prices]\nlocal = [\"ollama/*\"]\n");

        Assert.That(Table(root, "prices").Keys, Is.EqualTo(new[] { "acme", "local" }));
    }

    [Test]
    public void Parse_CrlfLineEndsAndByteOrderMark_AreAccepted()
    {
        var root = Parse("\uFEFF[tools]\r\norder = [\"a\"]\r\n");

        Assert.That((PolicyArray)Table(root, "tools")["order"], Is.EqualTo(new object[] { "a" }));
    }

    [Test]
    public void LineOf_Key_IsTheLineItWasWrittenOn()
    {
        var root = Parse("\n\n[tools]\n\norder = []\n");

        Assert.That(Table(root, "tools").LineOf("order"), Is.EqualTo(5));
        Assert.That(Table(root, "tools").ValuePositionOf("order"), Is.EqualTo(new TomlPosition(5, 9)));
        Assert.That(root.LineOf("tools"), Is.EqualTo(3));
    }

    [TestCase("a = 1\na = 2\n", "2:1", "already defined")]
    [TestCase("[t]\nx = 1\n[t]\n", "3:1", "already defined")]
    [TestCase("[a]\nb.c = 1\n[a.b]\n", "3:1", "already defined")]
    [TestCase("p = { x = 1 }\n[p]\n", "2:1", "already defined")]
    [TestCase("a = 1\n[a.b]\n", "2:2", "already defined")]
    [TestCase("a = \"open\n", "1:10", "newline in a string")]
    [TestCase("x = 1\na = '''never closed\n\n", "2:5", "unterminated multi-line string")]
    [TestCase("a = [1, 2\n", "1:5", "unterminated array")]
    [TestCase("a = [1,\n  2,\n", "1:5", "unterminated array")]
    [TestCase("a = { x = 1\n", "1:5", "unterminated inline table")]
    [TestCase("x = 1\na = bare\n", "2:5", "`bare`")]
    [TestCase("a = 1 2\n", "1:7", "`2`")]
    [TestCase("= 1\n", "1:1", "[=]")]
    [TestCase("a = \"\\q\"\n", "1:7", "escape")]
    [TestCase("[tools\norder = []\n", "1:7", "`]`")]
    [TestCase("[[tools]\n", "1:8", "`]]`")]
    [TestCase("[ok]\n[]\n", "2:2", "key")]
    [TestCase("n = 99999999999999999999\n", "1:5", "integer")]
    [TestCase("f = 3..5\n", "1:5", "`3.`")]
    public void Parse_Malformed_ThrowsNamingFileLineAndColumn(string text, string at, string what)
    {
        var ex = Assert.Throws<PolicyTomlException>(() => Parse(text));

        Assert.That(ex!.Message, Does.StartWith($"policy.toml:{at}: "));
        Assert.That(ex.Message, Does.Contain(what));
        Assert.That(ex.Message, Does.Not.Contain("\n").And.Not.Contain("␤"), "one line, no symbol for the newline");
    }
}
