using System.Globalization;
using System.Text.RegularExpressions;

namespace CageNet.Ledger;

/// <summary>
/// A half-open time window [<see cref="Since"/>, <see cref="Until"/>) over call timestamps, parsed from
/// the CLI forms <c>7d</c>, <c>12h</c>, <c>30m</c>, <c>2w</c> (relative to the clock), <c>YYYY-MM-DD</c> (a UTC
/// day) or an ISO-8601 instant. A malformed bound is an error, never "no filter".
/// </summary>
public sealed partial record TimeWindow(DateTimeOffset? Since, DateTimeOffset? Until, string? SinceText = null, string? UntilText = null)
{
    /// <summary>No bounds.</summary>
    public static TimeWindow All { get; } = new(null, null);

    /// <summary>Whether an instant falls inside the window.</summary>
    /// <param name="at">The instant.</param>
    public bool Contains(DateTimeOffset at) => (Since is null || at >= Since) && (Until is null || at < Until);

    /// <summary>Parses <c>--since</c> / <c>--until</c> values.</summary>
    /// <param name="since">The lower bound text, or <see langword="null"/>.</param>
    /// <param name="until">The upper bound text, or <see langword="null"/>. A date means "through the end of that day".</param>
    /// <param name="time">The clock relative bounds count back from.</param>
    /// <exception cref="FormatException">A bound is malformed, or the window is empty (since ≥ until); the message names the option.</exception>
    public static TimeWindow Parse(string? since, string? until, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        DateTimeOffset? s = since is null ? null : ParseBound("--since", since, now, endOfDay: false);
        DateTimeOffset? u = until is null ? null : ParseBound("--until", until, now, endOfDay: true);
        if (s is not null && u is not null && s >= u)
        {
            throw new FormatException($"--since {since} is not before --until {until}: the window is empty");
        }

        return new TimeWindow(s, u, since, until);
    }

    private static DateTimeOffset ParseBound(string option, string text, DateTimeOffset now, bool endOfDay)
    {
        var trimmed = text.Trim();
        var rel = RelativePattern().Match(trimmed);
        if (rel.Success)
        {
            if (!long.TryParse(rel.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > 100_000)
            {
                throw new FormatException($"{option} '{text}': the amount is too large");
            }

            var span = rel.Groups[2].Value switch
            {
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                "d" => TimeSpan.FromDays(n),
                _ => TimeSpan.FromDays(7 * n),
            };
            return now - span;
        }

        if (DateOnly.TryParseExact(trimmed, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            return endOfDay ? start.AddDays(1) : start;
        }

        if (DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            && trimmed.Contains('T', StringComparison.Ordinal))
        {
            return instant;
        }

        throw new FormatException($"{option} '{text}' is not a window: use 30m, 12h, 7d, 2w, YYYY-MM-DD or an ISO-8601 instant");
    }

    [GeneratedRegex("^([0-9]{1,9})([mhdw])$", RegexOptions.CultureInvariant)]
    private static partial Regex RelativePattern();
}
