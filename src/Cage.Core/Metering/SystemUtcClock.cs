using System.Diagnostics;

namespace CageNet.Metering;

/// <summary>
/// UTC instants for <see cref="TimeProvider.System"/> derived from the monotonic timestamp a metering scope reads
/// anyway, so opening a scope reads the clock once instead of twice. The (timestamp, UTC) anchor is refreshed from
/// the wall clock every <see cref="RefreshMilliseconds"/> ms, which bounds the drift between the two clocks (NTP
/// slews by at most 0.5 ms/s) and follows a wall-clock step within that interval. Only used for the system clock:
/// any other provider (a test's fake clock) is read directly, every time.
/// </summary>
internal static class SystemUtcClock
{
    private const long RefreshMilliseconds = 100;
    private static readonly long RefreshTimestamps = Stopwatch.Frequency * RefreshMilliseconds / 1000;
    private static readonly double TicksPerTimestamp = (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency;
    private static Anchor? s_anchor;

    /// <summary>The UTC instant of a <see cref="Stopwatch.GetTimestamp"/> value read just now.</summary>
    public static DateTimeOffset UtcAt(long timestamp)
    {
        var anchor = Volatile.Read(ref s_anchor);
        var delta = anchor is null ? -1 : timestamp - anchor.Timestamp;
        if (anchor is null || (ulong)delta >= (ulong)RefreshTimestamps)
        {
            anchor = Refresh(); // first use, stale, or a timestamp from before the anchor (another thread refreshed)
            delta = timestamp - anchor.Timestamp;
        }

        return new DateTimeOffset(anchor.UtcTicks + (long)(delta * TicksPerTimestamp), TimeSpan.Zero);
    }

    private static Anchor Refresh()
    {
        var anchor = new Anchor(Stopwatch.GetTimestamp(), TimeProvider.System.GetUtcNow().UtcTicks);
        Volatile.Write(ref s_anchor, anchor);
        return anchor;
    }

    private sealed record Anchor(long Timestamp, long UtcTicks);
}
