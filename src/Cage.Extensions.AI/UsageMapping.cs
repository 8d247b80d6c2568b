using Microsoft.Extensions.AI;

namespace CageNet.Extensions.AI;

/// <summary>Maps Microsoft.Extensions.AI <see cref="UsageDetails"/> to Cage's exclusive buckets (SPEC 2.2).</summary>
internal static class UsageMapping
{
    // Keys providers use in UsageDetails.AdditionalCounts for prompt-cache writes (compared case-insensitively).
    private static readonly string[] CacheWrite5mKeys =
    [
        "cache_creation_input_tokens", "CacheCreationInputTokens", "cache_write_tokens", "CacheWriteTokens",
        "ephemeral_5m_input_tokens", "CacheCreation.Ephemeral5mInputTokens", "InputTokenDetails.CacheCreationTokenCount",
    ];

    private static readonly string[] CacheWrite1hKeys = ["ephemeral_1h_input_tokens", "CacheCreation.Ephemeral1hInputTokens"];

    /// <summary>
    /// input = InputTokenCount − CachedInputTokenCount − cache writes (never below 0); cache_read = CachedInputTokenCount;
    /// cache writes from <see cref="UsageDetails.AdditionalCounts"/>; output = OutputTokenCount;
    /// reasoning = ReasoningTokenCount (⊂ output, clamped to it).
    /// </summary>
    public static TokenUsage ToTokenUsage(UsageDetails usage)
    {
        var cacheRead = NonNegative(usage.CachedInputTokenCount);
        var write5m = Lookup(usage.AdditionalCounts, CacheWrite5mKeys);
        var write1h = Lookup(usage.AdditionalCounts, CacheWrite1hKeys);
        var input = Math.Max(0, NonNegative(usage.InputTokenCount) - cacheRead - write5m - write1h);
        var output = NonNegative(usage.OutputTokenCount);
        long? reasoning = usage.ReasoningTokenCount is { } r ? Math.Clamp(r, 0, output) : null;
        return new TokenUsage(input, cacheRead, write5m, write1h, output, reasoning);
    }

    private static long NonNegative(long? value) => value is > 0 ? value.Value : 0;

    private static long Lookup(AdditionalPropertiesDictionary<long>? counts, string[] keys)
    {
        if (counts is null || counts.Count == 0)
        {
            return 0;
        }

        foreach (var (key, value) in counts)
        {
            foreach (var candidate in keys)
            {
                if (string.Equals(key, candidate, StringComparison.OrdinalIgnoreCase))
                {
                    return Math.Max(0, value);
                }
            }
        }

        return 0;
    }
}
