namespace CageNet.Tests.Substrate;

/// <summary><see cref="TokenUsage.Validate"/>: every invalid bucket (negative, above the sanity bound) is named; valid usage passes.</summary>
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
        yield return new TestCaseData(new TokenUsage(long.MaxValue), "input");
        yield return new TestCaseData(new TokenUsage(TokenUsage.MaxTokensPerBucket + 1), "input");
        yield return new TestCaseData(new TokenUsage(0, CacheRead: long.MaxValue), "cache_read");
        yield return new TestCaseData(new TokenUsage(0, CacheWrite5m: TokenUsage.MaxTokensPerBucket + 1), "cache_write_5m");
        yield return new TestCaseData(new TokenUsage(0, CacheWrite1h: 1L << 40), "cache_write_1h");
        yield return new TestCaseData(new TokenUsage(0, Output: long.MaxValue, Reasoning: long.MaxValue), "output");
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
            const long max = TokenUsage.MaxTokensPerBucket;
            Assert.DoesNotThrow(new TokenUsage(max, max, max, max, max, max).Validate);
            Assert.DoesNotThrow(new TokenUsage((1L << 29) + 1, Output: 1L << 29).Validate); // above the fast path's 2^29, below the bound
        });
    }

    [Test]
    public void Validate_CountAboveTheBound_SaysWhatTheBoundIs()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(new TokenUsage(0, Output: long.MaxValue).Validate);

        Assert.That(ex!.Message, Does.Contain("output 9,223,372,036,854,775,807 is above the 1,000,000,000 tokens one call can hold"));
    }
}
