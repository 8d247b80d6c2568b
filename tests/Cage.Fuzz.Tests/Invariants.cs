using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CageNet.Fuzz.Tests;

/// <summary>
/// What must hold for any input: counts are never negative, reasoning fits in output, totals never wrap, and a $0 (or a
/// zero-token "reported" usage) only where the input reported zero tokens explicitly. A record whose usage is missing
/// or invalid is flagged (usage status missing / a problem) with an unknown cost, never a free call.
/// </summary>
internal static partial class Invariants
{
    /// <summary>The buckets are each 0..2^63, reasoning is within output, and the total does not overflow.</summary>
    public static void Usage(in TokenUsage usage, string what)
    {
        if (usage.Input < 0 || usage.CacheRead < 0 || usage.CacheWrite5m < 0 || usage.CacheWrite1h < 0 || usage.Output < 0 || usage.Reasoning < 0)
        {
            throw new FuzzViolation($"{what}: a negative token count: {usage}");
        }

        if (usage.Reasoning > usage.Output)
        {
            throw new FuzzViolation($"{what}: reasoning exceeds output: {usage}");
        }

        try
        {
            _ = checked(usage.Input + usage.CacheRead + usage.CacheWrite5m + usage.CacheWrite1h + usage.Output);
        }
        catch (OverflowException)
        {
            throw new FuzzViolation($"{what}: the token total wraps past 64 bits: {usage}");
        }
    }

    /// <summary>A record's usage and cost: valid counts, a cost in range, and $0 only when zero tokens were billed on the record's own terms.</summary>
    /// <param name="call">The record.</param>
    /// <param name="source">The text the record came from (its line, or the whole captured file).</param>
    /// <param name="what">Names the record in messages.</param>
    /// <param name="costFromSource">The source states its own cost (a reference line with <c>cost_source</c>): kept as written.</param>
    public static void Call(CallRecord call, ReadOnlySpan<byte> source, string what, bool costFromSource = false)
    {
        Usage(call.Usage, what);
        if (call.Usage.Validation() is { } invalid)
        {
            throw new FuzzViolation($"{what}: a record with an invalid bucket was produced ({invalid.Field}: {invalid.Message})");
        }

        if (call.CostUsd < 0)
        {
            throw new FuzzViolation($"{what}: a negative cost {call.CostUsd}");
        }

        if (call.CostUsd == 0 && !costFromSource)
        {
            if (call.UsageStatus != UsageStatus.Reported)
            {
                throw new FuzzViolation($"{what}: a $0 cost on a record whose usage is {call.UsageStatus} (unknown cost must be null)");
            }

            if (call.Usage.TotalTokens == 0 && !ExplicitZero(source))
            {
                throw new FuzzViolation($"{what}: a $0 reported record with zero tokens, but the input reports no explicit zero count");
            }
        }

        if (call.UsageStatus == UsageStatus.Reported && call.Usage.TotalTokens == 0 && call.CostUsd is null or 0 && !costFromSource && !ExplicitZero(source))
        {
            throw new FuzzViolation($"{what}: usage 'reported' with zero tokens, but the input reports no explicit zero count");
        }
    }

    /// <summary>Whether the input states a zero for one of the primary token counts (prompt/input/output, any provider's spelling).</summary>
    public static bool ExplicitZero(ReadOnlySpan<byte> source) => ZeroCount().IsMatch(Encoding.Latin1.GetString(source));

    [GeneratedRegex("""
        "(prompt_tokens|completion_tokens|input_tokens|output_tokens|promptTokenCount|candidatesTokenCount|tokens_in|tokens_out|input|output)"\s*:\s*-?0(?![0-9.eE])
        """, RegexOptions.CultureInvariant)]
    private static partial Regex ZeroCount();

    /// <summary>The 1-based line <paramref name="number"/> of <paramref name="text"/> (LF-separated, CR kept), or the whole text for 0.</summary>
    public static byte[] Line(byte[] text, int number)
    {
        if (number <= 0) return text;
        var span = text.AsSpan();
        for (var line = 1; ; line++)
        {
            var end = span.IndexOf((byte)'\n');
            if (line == number) return (end < 0 ? span : span[..end]).ToArray();
            if (end < 0) return [];
            span = span[(end + 1)..];
        }
    }

    public static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
