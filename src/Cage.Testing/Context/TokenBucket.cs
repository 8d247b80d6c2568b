namespace CageNet.Testing;

/// <summary>A token bucket of <see cref="TokenUsage"/>, to query and assert on (<see cref="CageTestSnapshot.Tokens"/>).</summary>
public enum TokenBucket
{
    /// <summary>Every billed token: input, cache reads, cache writes and output.</summary>
    Total,

    /// <summary>Uncached input tokens.</summary>
    Input,

    /// <summary>Input tokens read from a prompt cache.</summary>
    CacheRead,

    /// <summary>Input tokens written to a 5-minute prompt cache.</summary>
    CacheWrite5m,

    /// <summary>Input tokens written to a 1-hour prompt cache.</summary>
    CacheWrite1h,

    /// <summary>Output tokens, reasoning included.</summary>
    Output,

    /// <summary>The reasoning part of <see cref="Output"/>.</summary>
    Reasoning,

    /// <summary>Prompt-side tokens: input, cache reads and cache writes.</summary>
    Prompt,
}
