namespace CageNet;

/// <summary>
/// Token counts of one provider round-trip in exclusive buckets: every token lands in exactly one of
/// <see cref="Input"/>, <see cref="CacheRead"/>, <see cref="CacheWrite5m"/>, <see cref="CacheWrite1h"/>
/// and <see cref="Output"/>. <see cref="Reasoning"/> is the part of <see cref="Output"/> spent on reasoning
/// and is never added again.
/// </summary>
/// <param name="Input">Uncached input tokens.</param>
/// <param name="CacheRead">Input tokens read from a prompt cache.</param>
/// <param name="CacheWrite5m">Input tokens written to a 5-minute prompt cache.</param>
/// <param name="CacheWrite1h">Input tokens written to a 1-hour prompt cache.</param>
/// <param name="Output">Output tokens, reasoning included.</param>
/// <param name="Reasoning">The reasoning part of <paramref name="Output"/>, when the provider reports it.</param>
public readonly record struct TokenUsage(
    long Input,
    long CacheRead = 0,
    long CacheWrite5m = 0,
    long CacheWrite1h = 0,
    long Output = 0,
    long? Reasoning = null)
{
    /// <summary>
    /// The most tokens one bucket of one call may hold: 1,000,000,000, a hundred times the largest context window on
    /// offer. A larger count is a corrupt or hostile record, not a call, and is refused (naming the field), so a report
    /// total cannot be pushed past the range of a 64-bit count.
    /// </summary>
    public const long MaxTokensPerBucket = 1_000_000_000;

    /// <summary>Prompt-side tokens: input + cache reads + cache writes. Long-context tiers compare against this.</summary>
    public long PromptTokens => Input + CacheRead + CacheWrite5m + CacheWrite1h;

    /// <summary>All billed tokens: <see cref="PromptTokens"/> + <see cref="Output"/>.</summary>
    public long TotalTokens => PromptTokens + Output;

    /// <summary>Checks the buckets: none negative or above <see cref="MaxTokensPerBucket"/>, and reasoning not larger than output.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A bucket is negative or above <see cref="MaxTokensPerBucket"/>, or <see cref="Reasoning"/> exceeds <see cref="Output"/>; the message names the field.</exception>
    public void Validate()
    {
        // Every metered call passes here: one branch for the valid case (no bucket has a bit at or above 2^29 set, so
        // none is negative or above the bound, and reasoning fits in output), the named error only when something is
        // wrong or a count lies between 2^29 and the bound.
        if ((ulong)(Input | CacheRead | CacheWrite5m | CacheWrite1h | Output) < (1UL << 29) && (Reasoning is not { } reasoning || (ulong)reasoning <= (ulong)Output))
        {
            return;
        }

        if (Validation() is { } error)
        {
            throw new ArgumentOutOfRangeException(error.Field, error.Message);
        }
    }

    internal (string Field, string Message)? Validation()
    {
        if (Input < 0) return ("input", $"input must be >= 0 (got {Input})");
        if (CacheRead < 0) return ("cache_read", $"cache_read must be >= 0 (got {CacheRead})");
        if (CacheWrite5m < 0) return ("cache_write_5m", $"cache_write_5m must be >= 0 (got {CacheWrite5m})");
        if (CacheWrite1h < 0) return ("cache_write_1h", $"cache_write_1h must be >= 0 (got {CacheWrite1h})");
        if (Output < 0) return ("output", $"output must be >= 0 (got {Output})");
        if (Reasoning < 0) return ("reasoning", $"reasoning must be >= 0 (got {Reasoning})");
        if (Above(Input)) return ("input", TooLarge("input", Input));
        if (Above(CacheRead)) return ("cache_read", TooLarge("cache_read", CacheRead));
        if (Above(CacheWrite5m)) return ("cache_write_5m", TooLarge("cache_write_5m", CacheWrite5m));
        if (Above(CacheWrite1h)) return ("cache_write_1h", TooLarge("cache_write_1h", CacheWrite1h));
        if (Above(Output)) return ("output", TooLarge("output", Output));
        if (Reasoning > Output) return ("reasoning", $"reasoning ({Reasoning}) is part of output and cannot exceed it ({Output})");
        return null;
    }

    private static bool Above(long count) => count > MaxTokensPerBucket;

    private static string TooLarge(string field, long count) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{field} {count:N0} is above the {MaxTokensPerBucket:N0} tokens one call can hold (a corrupt count?)");
}
