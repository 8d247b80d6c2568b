using System.Globalization;
using CageNet.Ledger;
using CageNet.Views;

namespace CageNet.AspNetCore;

/// <summary>Spend per time bucket and group: the stacked series of the spend-over-time chart.</summary>
/// <param name="Hourly">Whether the buckets are hours (else UTC days).</param>
/// <param name="By">The stacking dimension.</param>
/// <param name="Window">The window asked for.</param>
/// <param name="Buckets">The start of each bucket, oldest first.</param>
/// <param name="Groups">Per group (most expensive first), its spend and calls per bucket.</param>
/// <param name="Total">The totals of the whole range.</param>
internal sealed record SpendSeries(bool Hourly, ReportDimension By, TimeWindow Window, IReadOnlyList<DateTimeOffset> Buckets, IReadOnlyList<SeriesGroup> Groups, SpendTotals Total);

/// <summary>One stacked group of a <see cref="SpendSeries"/>.</summary>
internal sealed record SeriesGroup(string Key, decimal[] Usd, long[] Calls, decimal TotalUsd);

/// <summary>
/// The dashboard's own reads over any <see cref="ILedgerReader"/>, built from its report and window reads: per-day
/// series come from the per-day totals a report reads (one report per day that has calls), per-hour series and the
/// recent calls read the calls of a bounded window. Over a <see cref="SqliteLedger"/> the series are summed by SQLite
/// (<see cref="SpendBuckets"/>), with the same result.
/// </summary>
internal sealed class DashboardQueries(ILedgerReader ledger, TimeProvider time)
{
    /// <summary>The most hour buckets one series may have (14 days).</summary>
    public const int MaxHours = 14 * 24;

    /// <summary>
    /// The most cells (series × buckets) one series answer may hold: a stack by model, route or agent is a few
    /// thousand, while 2,000 sessions over 90 days (180,000) would be megabytes no chart can show.
    /// </summary>
    public const int MaxCells = 20_000;

    /// <summary>
    /// The longest range (48 hours) of an hourly series by a dimension the ledger keeps no hourly totals for (user,
    /// session, task, provider, category: only model, route and agent are summed per hour), which is summed from the calls.
    /// </summary>
    public static readonly TimeSpan MaxHoursFromCalls = TimeSpan.FromHours(48);

    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>The ledger's call count and spend: what the live feed compares to notice new calls.</summary>
    public async ValueTask<(long Calls, decimal Usd)> StampAsync(CancellationToken cancellationToken)
    {
        var total = (await ledger.ReportAsync(new ReportQuery(ReportDimension.Day, TimeWindow.All), cancellationToken).ConfigureAwait(false)).Total;
        return (total.Calls, total.CostUsd);
    }

    /// <summary>
    /// A page of a report's groups: the <paramref name="top"/> groups from rank <paramref name="offset"/> (from 0; most
    /// expensive first, ties by key), with the total of every group, and how many groups there are in all. Over a
    /// <see cref="SqliteLedger"/> SQLite picks them; otherwise the whole report is read.
    /// </summary>
    public async ValueTask<(SpendReport Report, int Count)> ReportTopAsync(ReportDimension by, TimeWindow window, int top, int offset, CancellationToken cancellationToken)
    {
        if (ledger is SqliteLedger sqlite && by != ReportDimension.Day)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (groups, count) = SpendTop.Read(sqlite, by, window, top, offset);
            var total = (await ledger.ReportAsync(new ReportQuery(ReportDimension.Day, window), cancellationToken).ConfigureAwait(false)).Total;
            return (new SpendReport(by, window, groups, total), count);
        }

        var report = await ledger.ReportAsync(new ReportQuery(by, window), cancellationToken).ConfigureAwait(false);
        return (report with { Groups = [.. report.Groups.Skip(offset).Take(top)] }, report.Groups.Count);
    }

    /// <summary>
    /// The spend of <paramref name="window"/> per bucket and group. An open start begins at the first day with calls;
    /// an open end stops at now, or at the end of the last day with calls when the start is open too.
    /// </summary>
    public async ValueTask<SpendSeries> SeriesAsync(bool hourly, ReportDimension by, TimeWindow window, CancellationToken cancellationToken)
    {
        if (by == ReportDimension.Day)
        {
            throw new FormatException("by 'day': stack by a dimension such as model, route or agent (the buckets are already days or hours)");
        }

        var days = await ledger.ReportAsync(new ReportQuery(ReportDimension.Day, window), cancellationToken).ConfigureAwait(false);
        var dayStarts = days.Groups.Select(g => ParseDay(g.Key)).Order().ToList();
        var step = hourly ? Hour : Day;
        var now = time.GetUtcNow();
        // An open end: now when the start is given (the last 7 days), else the end of the last day with calls; an open
        // start: the first day with calls (hours: the 48 hours before the end).
        var last = window.Until ?? (window.Since is null && dayStarts.Count > 0 ? dayStarts[^1] + Day : now);
        var first = window.Since ?? (hourly ? last - TimeSpan.FromHours(48) : dayStarts.Count > 0 ? dayStarts[0] : Floor(now, Day));
        if (hourly && window.Since is null)
        {
            window = window with { Since = first };
        }
        var start = Floor(first, step);
        var count = (int)Math.Ceiling((last - start) / step);
        count = Math.Max(count, 1);
        if (hourly && count > MaxHours)
        {
            throw new FormatException($"bucket 'hour' covers at most {MaxHours / 24} days and this range spans {Math.Ceiling((last - start) / Day).ToString(CultureInfo.InvariantCulture)}; use bucket=day or a shorter since");
        }

        if (hourly && Array.IndexOf(CallTotals.HourlyDimensions, by) < 0 && last - first > MaxHoursFromCalls)
        {
            var name = ReportView.NameOf(by);
            throw new FormatException($"by '{name}' per hour covers at most {MaxHoursFromCalls.TotalHours.ToString(CultureInfo.InvariantCulture)} hours (hours are kept only by model, route and agent) and this range spans {Math.Ceiling((last - first) / Hour).ToString(CultureInfo.InvariantCulture)}; use a shorter since (48h), bucket=day, or by=model, route or agent");
        }

        if (!hourly && count > 3660)
        {
            throw new FormatException("the range spans more than ten years of days; give a since");
        }

        var buckets = Enumerable.Range(0, count).Select(i => start + (step * i)).ToArray();
        var groups = new Dictionary<string, SeriesGroup>(StringComparer.Ordinal);
        SeriesGroup Group(string key) => groups.TryGetValue(key, out var g) ? g : groups[key] = new SeriesGroup(key, new decimal[count], new long[count], 0);

        if (ledger is SqliteLedger sqlite)
        {
            // SQLite sums the buckets itself (per-day totals for whole days, one GROUP BY over the calls otherwise).
            var sinceMs = (window.Since ?? start).ToUnixTimeMilliseconds();
            var untilMs = (window.Until ?? start + (step * count)).ToUnixTimeMilliseconds();
            var startMs = start.ToUnixTimeMilliseconds();
            var stepMs = (long)step.TotalMilliseconds;
            foreach (var bucket in SpendBuckets.Read(sqlite, by, hourly, sinceMs, untilMs))
            {
                var i = (int)((bucket.StartMs - startMs) / stepMs);
                if (i >= 0 && i < count)
                {
                    var group = Group(bucket.Key);
                    group.Usd[i] += LedgerMoney.FromE10(bucket.CostE10);
                    group.Calls[i] += bucket.Calls;
                }
            }
        }
        else if (hourly)
        {
            await foreach (var call in ledger.ReadCallsAsync(window, cancellationToken).ConfigureAwait(false))
            {
                var i = (int)((call.Timestamp - start) / Hour);
                if (i < 0 || i >= count)
                {
                    continue;
                }

                var group = Group(KeyOf(call, by));
                group.Usd[i] += call.CostUsd ?? 0m;
                group.Calls[i]++;
            }
        }
        else
        {
            // One report per day that has calls: the ledger answers it from its per-day totals.
            foreach (var dayStart in dayStarts)
            {
                var i = (int)((dayStart - start) / Day);
                var since = window.Since is { } s && s > dayStart ? s : dayStart;
                var until = window.Until is { } u && u < dayStart + Day ? u : dayStart + Day;
                var report = await ledger.ReportAsync(new ReportQuery(by, new TimeWindow(since, until)), cancellationToken).ConfigureAwait(false);
                foreach (var g in report.Groups)
                {
                    var group = Group(g.Key);
                    group.Usd[i] += g.Totals.CostUsd;
                    group.Calls[i] += g.Totals.Calls;
                }
            }
        }

        if ((long)groups.Count * count > MaxCells)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"by '{ReportView.NameOf(by)}': {groups.Count:N0} series × {count:N0} {(hourly ? "hours" : "days")} is more than the {MaxCells:N0} cells a series holds; stack by model, route or agent, or give a shorter since"));
        }

        var sorted = groups.Values
            .Select(g => g with { TotalUsd = g.Usd.Sum() })
            .OrderByDescending(g => g.TotalUsd).ThenByDescending(g => g.Calls.Sum()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        return new SpendSeries(hourly, by, window, buckets, sorted, days.Total);
    }

    /// <summary>
    /// The latest <paramref name="limit"/> calls, newest first. The per-day totals say which day the latest call is
    /// on; windows ending there grow eightfold (1 hour, 8 hours, 64 hours…) until they hold enough calls, so a read
    /// touches about the calls it returns, not the ledger.
    /// </summary>
    public async ValueTask<IReadOnlyList<CallRecord>> RecentCallsAsync(int limit, CancellationToken cancellationToken)
    {
        var days = await ledger.ReportAsync(new ReportQuery(ReportDimension.Day, TimeWindow.All), cancellationToken).ConfigureAwait(false);
        if (days.Groups.Count == 0)
        {
            return [];
        }

        var dayStarts = days.Groups.Select(g => ParseDay(g.Key)).Order().ToList();
        var end = dayStarts[^1] + Day;
        var recent = new Queue<CallRecord>(limit + 1);
        for (var span = Hour; ; span *= 8)
        {
            var since = end - span;
            var whole = since <= dayStarts[0];
            recent.Clear();
            await foreach (var call in ledger.ReadCallsAsync(new TimeWindow(whole ? null : since, null), cancellationToken).ConfigureAwait(false))
            {
                recent.Enqueue(call);
                if (recent.Count > limit)
                {
                    recent.Dequeue();
                }
            }

            if (recent.Count >= limit || whole)
            {
                return recent.Reverse().ToList();
            }
        }
    }

    internal static string KeyOf(CallRecord call, ReportDimension dimension) =>
        InMemoryLedger.KeyOf(call, dimension) is { Length: > 0 } key ? key : SpendReport.NoneKey;

    private static DateTimeOffset ParseDay(string key) =>
        DateTimeOffset.ParseExact(key, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static DateTimeOffset Floor(DateTimeOffset at, TimeSpan step) =>
        new(at.UtcTicks - (((at.UtcTicks % step.Ticks) + step.Ticks) % step.Ticks), TimeSpan.Zero);

}
