namespace CageNet.Tests.Substrate;

/// <summary><see cref="TokenUsage.Validate"/>: every invalid bucket is named; valid usage passes.</summary>
public class TokenUsageTests
{
    private static IEnumerable<TestCaseData> Invalid()
    {
        yield return new TestCaseData(new TokenUsage(-1), "input");
        yield return new TestCaseData(new TokenUsage(0, CacheRead: -5), "cache_read");
        yield return new TestCaseData(new TokenUsage(0, CacheWrite5m: long.MinValue), "cache_write_5m");
        yield return new TestCaseData(new TokenUsage(0, CacheWrite1h: -1), "cache_write_1h");
        yield return new TestCaseData(new TokenUsage(0, Output: -1), "output");
        yield return new TestCaseData(new TokenUsage(0, Output: 10, Reasoning: -1), "reasoning");
        yield return new TestCaseData(new TokenUsage(0, Output: 10, Reasoning: 11), "reasoning");
        yield return new TestCaseData(new TokenUsage(0, Output: 0, Reasoning: 1), "reasoning");
        yield return new TestCaseData(new TokenUsage(5, Output: -1, Reasoning: -2), "output");
    }

    [TestCaseSource(nameof(Invalid))]
    public void Validate_InvalidBucket_ThrowsNamingIt(TokenUsage usage, string field)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(usage.Validate);
        Assert.That(ex!.ParamName, Is.EqualTo(field));
    }

    [Test]
    public void Validate_ValidUsage_DoesNotThrow()
    {
        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(default(TokenUsage).Validate);
            Assert.DoesNotThrow(new TokenUsage(8600, 6000, 400, 100, 1500).Validate);
            Assert.DoesNotThrow(new TokenUsage(1, Output: 10, Reasoning: 10).Validate);
            Assert.DoesNotThrow(new TokenUsage(1, Output: 10, Reasoning: 0).Validate);
            Assert.DoesNotThrow(new TokenUsage(long.MaxValue, long.MaxValue, long.MaxValue, long.MaxValue, long.MaxValue, long.MaxValue).Validate);
        });
    }
}
