using System.Globalization;
using System.Text.Json.Serialization;

namespace CageNet.Budgets;

/// <summary>The period a budget node's counters cover before they start fresh (SPEC 7.1).</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<BudgetPeriod>))]
public enum BudgetPeriod
{
    /// <summary>Never resets (only an explicit reset clears it). Configuration name <c>lifetime</c>.</summary>
    Lifetime = 0,

    /// <summary>
    /// A 5-hour window that opens with the first spend after the previous window closed and lasts 5 hours (the way
    /// subscription seat windows behave: Anthropic's start at the first message). Configuration name <c>5h</c> (the
    /// default reading of <c>5h</c>) or <c>5h-window</c>.
    /// </summary>
    [JsonStringEnumMemberName("5h")]
    FiveHours,

    /// <summary>A calendar day, from local midnight in the configured time zone. Configuration name <c>day</c>.</summary>
    Day,

    /// <summary>A calendar week starting Monday at local midnight. Configuration name <c>week</c>.</summary>
    Week,

    /// <summary>A calendar month starting on the 1st at local midnight. Configuration name <c>month</c>.</summary>
    Month,

    /// <summary>
    /// A sliding 5-hour sum: what was spent in the last 5 hours, whenever it started (spend leaves the sum between 5 h
    /// and 5 h 1 min after it was charged: minute buckets, never early). Configuration name <c>5h_rolling</c> (or <c>5h-rolling</c>).
    /// </summary>
    [JsonStringEnumMemberName("5h_rolling")]
    FiveHoursRolling,
}

/// <summary>What a budget node does when a call would take it past its cap.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<BudgetExceedAction>))]
public enum BudgetExceedAction
{
    /// <summary>Let the call through; warnings fire (default).</summary>
    Warn = 0,

    /// <summary>Refuse the next call before it is sent, with <c>stop_reason = "budget_exceeded"</c>.</summary>
    Block,
}

/// <summary>Period arithmetic in a time zone: where the period containing an instant starts and ends (DST-correct).</summary>
internal static class BudgetPeriods
{
    public static readonly TimeSpan FiveHours = TimeSpan.FromHours(5);

    public static string Name(BudgetPeriod period) => period switch
    {
        BudgetPeriod.FiveHours => "5h",
        BudgetPeriod.FiveHoursRolling => "5h_rolling",
        BudgetPeriod.Day => "day",
        BudgetPeriod.Week => "week",
        BudgetPeriod.Month => "month",
        _ => "lifetime",
    };

    public static bool TryParse(string? text, out BudgetPeriod period)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "5h" or "5h-window" or "5h_window" or "window5h" or "fivehours" or "five_hours" or "subscription_5h": period = BudgetPeriod.FiveHours; return true;
            case "5h-rolling" or "5h_rolling" or "rolling5h" or "rolling_5h" or "rolling-5h": period = BudgetPeriod.FiveHoursRolling; return true;
            case "day" or "daily" or "1d": period = BudgetPeriod.Day; return true;
            case "week" or "weekly" or "7d" or "1w": period = BudgetPeriod.Week; return true;
            case "month" or "monthly": period = BudgetPeriod.Month; return true;
            case "lifetime" or "none" or "total" or "forever": period = BudgetPeriod.Lifetime; return true;
            default: period = default; return false;
        }
    }

    /// <summary>
    /// The calendar period (day, week, month) containing <paramref name="now"/> in <paramref name="zone"/>, as UTC
    /// instants. A local midnight that does not exist (a DST gap) starts at the first instant after the gap; an
    /// ambiguous one (a DST overlap) at its earlier instant. Lifetime is (MinValue, MaxValue); 5h windows are not
    /// calendar periods (see the guard).
    /// </summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Calendar(BudgetPeriod period, DateTimeOffset now, TimeZoneInfo zone)
    {
        if (period is BudgetPeriod.Lifetime or BudgetPeriod.FiveHours or BudgetPeriod.FiveHoursRolling)
        {
            return (DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
        }

        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime.Date;
        DateTime start, end;
        switch (period)
        {
            case BudgetPeriod.Day:
                start = local;
                end = local.AddDays(1);
                break;
            case BudgetPeriod.Week:
                start = local.AddDays(-(((int)local.DayOfWeek + 6) % 7));
                end = start.AddDays(7);
                break;
            default:
                start = new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified);
                end = start.AddMonths(1);
                break;
        }

        return (ToUtc(start, zone), ToUtc(end, zone));
    }

    /// <summary>A local wall-clock time in <paramref name="zone"/> as a UTC instant (gap → end of the gap, overlap → earlier instant).</summary>
    public static DateTimeOffset ToUtc(DateTime local, TimeZoneInfo zone)
    {
        local = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
        TimeSpan offset;
        if (zone.IsInvalidTime(local))
        {
            // The clocks jumped over this time: the offset in force before the jump maps it onto the jump's instant.
            offset = zone.GetUtcOffset(local.AddHours(-6));
        }
        else if (zone.IsAmbiguousTime(local))
        {
            offset = zone.GetAmbiguousTimeOffsets(local).Max();
        }
        else
        {
            offset = zone.GetUtcOffset(local);
        }

        return new DateTimeOffset(local.Ticks - offset.Ticks, TimeSpan.Zero);
    }

    /// <summary>Finds a time zone by IANA or Windows id; <c>UTC</c> when empty.</summary>
    /// <exception cref="BudgetConfigurationException">The zone is unknown.</exception>
    public static TimeZoneInfo Zone(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || string.Equals(id, "UTC", StringComparison.OrdinalIgnoreCase) || string.Equals(id, "Z", StringComparison.Ordinal))
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id.Trim());
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new BudgetConfigurationException(string.Create(CultureInfo.InvariantCulture, $"Cage:Budgets:TimeZone '{id}' is not a known time zone (use an IANA id such as Europe/Paris)"), ex);
        }
    }
}
