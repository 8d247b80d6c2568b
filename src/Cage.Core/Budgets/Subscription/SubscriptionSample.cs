using System.Globalization;

namespace CageNet.Budgets.Subscription;

/// <summary>
/// One utilization reading of a subscription window (a seat plan's 5-hour or weekly quota), from the Anthropic
/// unified rate-limit headers (fractions) or Codex <c>rate_limits.*.used_percent</c> (percents).
/// </summary>
/// <param name="Window">The window: <c>5h</c>, <c>7d</c>, or a named variant such as <c>7d_sonnet</c>.</param>
/// <param name="Utilization">The fraction of the window used, 0..1 (may exceed 1 when over quota).</param>
/// <param name="ObservedAt">When it was read.</param>
/// <param name="ResetsAt">When the window resets, when known.</param>
/// <param name="Status">The provider's status for the window (<c>allowed</c>, <c>rejected</c>…), when known.</param>
public sealed record SubscriptionSample(string Window, double Utilization, DateTimeOffset ObservedAt, DateTimeOffset? ResetsAt = null, string? Status = null)
{
    /// <summary>The utilization in percent (0..100).</summary>
    public double Percent => Utilization * 100.0;

    /// <summary>A sample from a fraction 0..1 (Anthropic's <c>…-utilization</c> headers).</summary>
    /// <param name="window">The window.</param>
    /// <param name="fraction">0..1.</param>
    /// <param name="observedAt">When it was read.</param>
    /// <param name="resetsAt">When the window resets.</param>
    /// <returns>The sample.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is negative or not finite.</exception>
    public static SubscriptionSample FromFraction(string window, double fraction, DateTimeOffset observedAt, DateTimeOffset? resetsAt = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(window);
        if (!double.IsFinite(fraction) || fraction < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "utilization must be a finite fraction ≥ 0");
        }

        return new SubscriptionSample(NormalizeWindow(window), fraction, observedAt, resetsAt);
    }

    /// <summary>A sample from a percent 0..100 (Codex <c>used_percent</c>).</summary>
    /// <param name="window">The window.</param>
    /// <param name="percent">0..100.</param>
    /// <param name="observedAt">When it was read.</param>
    /// <param name="resetsAt">When the window resets.</param>
    /// <returns>The sample.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The percent is negative or not finite.</exception>
    public static SubscriptionSample FromPercent(string window, double percent, DateTimeOffset observedAt, DateTimeOffset? resetsAt = null)
    {
        if (!double.IsFinite(percent) || percent < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), percent, "utilization must be a finite percent ≥ 0");
        }

        return FromFraction(window, percent / 100.0, observedAt, resetsAt);
    }

    /// <summary>The window name of a window length in minutes: 300 → <c>5h</c>, 10080 → <c>7d</c>, else <c>{n}m</c>.</summary>
    /// <param name="windowMinutes">The window length (Codex <c>window_minutes</c>).</param>
    /// <returns>The window name.</returns>
    public static string WindowFromMinutes(int windowMinutes) => windowMinutes switch
    {
        300 => "5h",
        10080 => "7d",
        _ when windowMinutes > 0 && windowMinutes % 1440 == 0 => string.Create(CultureInfo.InvariantCulture, $"{windowMinutes / 1440}d"),
        _ when windowMinutes > 0 && windowMinutes % 60 == 0 => string.Create(CultureInfo.InvariantCulture, $"{windowMinutes / 60}h"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{windowMinutes}m"),
    };

    internal static string NormalizeWindow(string window) => window.Trim().ToLowerInvariant().Replace('-', '_');
}

/// <summary>Reads the Anthropic "unified" subscription rate-limit headers (Claude Pro/Max) into samples.</summary>
public static class AnthropicUnifiedHeaders
{
    /// <summary>The common prefix: <c>anthropic-ratelimit-unified-</c>.</summary>
    public const string Prefix = "anthropic-ratelimit-unified-";

    /// <summary>
    /// One sample per window that has a <c>…-{window}-utilization</c> header (a fraction 0..1): <c>5h</c>, <c>7d</c>,
    /// <c>7d_sonnet</c>…, with <c>…-{window}-reset</c> (Unix seconds) and <c>…-{window}-status</c> when present.
    /// Header names are matched case-insensitively; a value that is not a finite number ≥ 0 is skipped (never a crash).
    /// Other headers (request bodies never reach here) are ignored.
    /// </summary>
    /// <param name="headers">Header names and values.</param>
    /// <param name="observedAt">When the response was received.</param>
    /// <returns>The samples, ordered by window.</returns>
    public static IReadOnlyList<SubscriptionSample> Parse(IEnumerable<KeyValuePair<string, string>> headers, DateTimeOffset observedAt)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var utilization = new Dictionary<string, double>(StringComparer.Ordinal);
        var resets = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            if (name is null || value is null || !name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var rest = name[Prefix.Length..].ToLowerInvariant();
            if (TrySplit(rest, "-utilization", out var window))
            {
                if (double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction) && double.IsFinite(fraction) && fraction >= 0)
                {
                    utilization[window] = fraction;
                }
            }
            else if (TrySplit(rest, "-reset", out window))
            {
                if (long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and < 253_402_300_799)
                {
                    resets[window] = DateTimeOffset.FromUnixTimeSeconds(seconds);
                }
            }
            else if (TrySplit(rest, "-status", out window))
            {
                statuses[window] = value.Trim();
            }
        }

        return [.. utilization.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new SubscriptionSample(
            p.Key, p.Value, observedAt, resets.TryGetValue(p.Key, out var r) ? r : null, statuses.TryGetValue(p.Key, out var s) ? s : null))];
    }

    private static bool TrySplit(string rest, string suffix, out string window)
    {
        if (rest.Length > suffix.Length && rest.EndsWith(suffix, StringComparison.Ordinal))
        {
            window = SubscriptionSample.NormalizeWindow(rest[..^suffix.Length]);
            return true;
        }

        window = "";
        return false;
    }
}
