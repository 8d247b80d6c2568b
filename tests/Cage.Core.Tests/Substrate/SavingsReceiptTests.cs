namespace CageNet.Tests.Substrate;

public class SavingsReceiptTests
{
    private static readonly DateTimeOffset At = new(2026, 6, 20, 10, 0, 0, TimeSpan.Zero);

    [Test]
    public void Create_Valid_RecomputesSavedAndDefaultsToModeled()
    {
        var r = SavingsReceipt.Create("r_1", At, "graphify", 30000m, 3000m, callId: "c_1", task: "t");
        Assert.Multiple(() =>
        {
            Assert.That(r.Saved, Is.EqualTo(27000m));
            Assert.That(r.Method, Is.EqualTo(SavingsMethod.Modeled));
            Assert.That(r.Unit, Is.EqualTo(SavingsUnit.Tokens));
            Assert.That(r.Confidence, Is.EqualTo(1.0));
        });
    }

    [Test]
    public void Create_ToolMadeItWorse_SavedIsNegative()
    {
        var r = SavingsReceipt.Create("r_1", At, "compressor", 1000m, 1200m);
        Assert.That(r.Saved, Is.EqualTo(-200m));
    }

    [TestCase(-1, 0, "raw_alternative")]
    [TestCase(0, -5, "actual")]
    public void Create_NegativeAmount_ThrowsNamingField(decimal raw, decimal actual, string field)
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.Create("r_1", At, "t", raw, actual));
        Assert.That(ex!.Field, Is.EqualTo(field));
        Assert.That(ex.Message, Does.Contain(field));
    }

    // Issue 13, item 3: receipts have magnitude bounds, as call token counts do (1e20 dollars was accepted).
    [TestCase(SavingsUnit.Usd, "100000000000000000000", 0, "raw_alternative")]
    [TestCase(SavingsUnit.Usd, "0", "1000000.01", "actual")]
    [TestCase(SavingsUnit.Tokens, "1000000001", 0, "raw_alternative")]
    [TestCase(SavingsUnit.Ms, "31536000001", 0, "raw_alternative")]
    [TestCase(SavingsUnit.Gco2, "1000000001", 0, "raw_alternative")]
    public void Create_AboveTheUnitsBound_ThrowsNamingField(SavingsUnit unit, string raw, object actual, string field)
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.Create(
            "r_1", At, "t", decimal.Parse(raw, System.Globalization.CultureInfo.InvariantCulture),
            Convert.ToDecimal(actual, System.Globalization.CultureInfo.InvariantCulture), unit: unit));
        Assert.That(ex!.Field, Is.EqualTo(field));
        Assert.That(ex.Message, Does.Contain("one receipt can claim"));
    }

    [TestCase(SavingsUnit.Usd, 1_000_000)]
    [TestCase(SavingsUnit.Tokens, 1_000_000_000)]
    [TestCase(SavingsUnit.Ms, 31_536_000_000)]
    [TestCase(SavingsUnit.Gco2, 1_000_000_000)]
    public void Create_AtTheUnitsBound_IsAccepted(SavingsUnit unit, long bound)
    {
        var r = SavingsReceipt.Create("r_1", At, "t", bound, bound, unit: unit);
        Assert.That(r.RawAlternative, Is.EqualTo((decimal)bound));
    }

    [TestCase("tool_cost_usd", "1e20")]
    [TestCase("tool_cost_usd", "-0.5")]
    [TestCase("added_latency_ms", "1e15")]
    public void Create_MetaAmountOutOfBounds_ThrowsNamingTheMetaKey(string key, string value)
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.Create(
            "r_1", At, "t", 10, 5, meta: new Dictionary<string, string> { [key] = value }));
        Assert.That(ex!.Field, Is.EqualTo("meta." + key));
    }

    [Test]
    public void Create_EmptyTool_Throws()
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.Create("r_1", At, " ", 1, 0));
        Assert.That(ex!.Field, Is.EqualTo("tool"));
    }

    [TestCase(double.NaN)]
    [TestCase(1.5)]
    [TestCase(-0.1)]
    [TestCase(double.PositiveInfinity)]
    public void Create_ConfidenceOutOfRange_Throws(double confidence)
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.Create("r_1", At, "t", 1, 0, confidence: confidence));
        Assert.That(ex!.Field, Is.EqualTo("confidence"));
    }

    [Test]
    public void Create_UndefinedUnitOrMethod_Throws()
    {
        Assert.That(Assert.Throws<CageValidationException>(() => SavingsReceipt.Create("r", At, "t", 1, 0, unit: (SavingsUnit)42))!.Field, Is.EqualTo("unit"));
        Assert.That(Assert.Throws<CageValidationException>(() => SavingsReceipt.Create("r", At, "t", 1, 0, method: (SavingsMethod)42))!.Field, Is.EqualTo("method"));
    }

    [TestCase(double.NaN)]
    [TestCase(double.NegativeInfinity)]
    [TestCase(-3.0)]
    [TestCase(1e300)]
    public void ToAmount_NonFiniteNegativeOrHuge_Throws(double value)
    {
        var ex = Assert.Throws<CageValidationException>(() => SavingsReceipt.ToAmount("actual", value));
        Assert.That(ex!.Field, Is.EqualTo("actual"));
    }

    [TestCase("tokens", SavingsUnit.Tokens)]
    [TestCase("USD", SavingsUnit.Usd)]
    [TestCase("ms", SavingsUnit.Ms)]
    [TestCase("gco2", SavingsUnit.Gco2)]
    public void TryParseUnit_KnownUnits_Parse(string text, SavingsUnit expected)
    {
        Assert.That(WireNames.TryParseUnit(text, out var unit), Is.True);
        Assert.That(unit, Is.EqualTo(expected));
        Assert.That(WireNames.TryParseUnit(unit.ToWire(), out var again) && again == unit, Is.True);
    }

    [TestCase("bytes")]
    [TestCase("")]
    [TestCase(null)]
    public void TryParseUnit_UnknownUnit_Fails(string? text) => Assert.That(WireNames.TryParseUnit(text, out _), Is.False);

    [TestCase("guessed")]
    [TestCase("")]
    public void TryParseMethod_UnknownMethod_Fails(string text) => Assert.That(WireNames.TryParseMethod(text, out _), Is.False);

    [Test]
    public void Meta_ToolCostAndLatency_AreParsed()
    {
        var r = SavingsReceipt.Create("r", At, "cache", 1, 0, meta: new Dictionary<string, string> { ["tool_cost_usd"] = "0.0012", ["added_latency_ms"] = "35.5" });
        Assert.That(r.ToolCostUsd, Is.EqualTo(0.0012m));
        Assert.That(r.AddedLatencyMs, Is.EqualTo(35.5));
    }
}
