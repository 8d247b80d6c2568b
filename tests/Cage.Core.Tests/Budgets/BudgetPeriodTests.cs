using CageNet.Budgets;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

public sealed class BudgetPeriodTests
{
    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0) => new(y, mo, d, h, mi, 0, TimeSpan.Zero);

    [TestCase(BudgetPeriod.Day, "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z")]
    [TestCase(BudgetPeriod.Week, "2026-06-15T00:00:00Z", "2026-06-22T00:00:00Z")] // Monday to Monday
    [TestCase(BudgetPeriod.Month, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")]
    public void Calendar_Utc_StartsAtMidnightMondayAndTheFirst(BudgetPeriod period, string start, string end)
    {
        var (s, e) = BudgetPeriods.Calendar(period, Saturday, TimeZoneInfo.Utc);

        Assert.That(s, Is.EqualTo(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(e, Is.EqualTo(DateTimeOffset.Parse(end, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Calendar_NewYorkSpringForward_DayIs23Hours()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

        var (start, end) = BudgetPeriods.Calendar(BudgetPeriod.Day, Utc(2026, 3, 8, 15), zone);

        Assert.That(start, Is.EqualTo(Utc(2026, 3, 8, 5)), "midnight EST (UTC-5)");
        Assert.That(end, Is.EqualTo(Utc(2026, 3, 9, 4)), "next midnight EDT (UTC-4)");
        Assert.That(end - start, Is.EqualTo(TimeSpan.FromHours(23)));
    }

    [Test]
    public void Calendar_ParisFallBack_DayIs25Hours()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

        var (start, end) = BudgetPeriods.Calendar(BudgetPeriod.Day, Utc(2026, 10, 25, 12), zone);

        Assert.That(start, Is.EqualTo(Utc(2026, 10, 24, 22)), "midnight CEST (UTC+2)");
        Assert.That(end, Is.EqualTo(Utc(2026, 10, 25, 23)), "next midnight CET (UTC+1)");
    }

    [Test]
    public void ToUtc_MidnightInsideADstGap_IsTheEndOfTheGap()
    {
        // Cuba springs forward at midnight: 2026-03-08 00:00 local does not exist (00:00 CST → 01:00 CDT).
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/Havana");
        var local = new DateTime(2026, 3, 8, 0, 0, 0, DateTimeKind.Unspecified);
        Assume.That(zone.IsInvalidTime(local), Is.True, "this machine's tzdata has the 2026 Cuban rule");

        Assert.That(BudgetPeriods.ToUtc(local, zone), Is.EqualTo(Utc(2026, 3, 8, 5)));
    }

    [Test]
    public void Guard_DayPeriodInNewYork_RollsOverAtLocalMidnightAcrossDst()
    {
        var time = Clock(Utc(2026, 3, 8, 5, 30)); // 00:30 EST on the short day
        using var guard = Guard(time, o =>
        {
            o.TimeZone = "America/New_York";
            o.Node("team").CapUsd(1m).Every(BudgetPeriod.Day).Block();
        });
        guard.Charge(default, 1m, 0);
        Assert.That(guard.Refuse(default).ResetsAt, Is.EqualTo(Utc(2026, 3, 9, 4)));

        time.SetUtcNow(Utc(2026, 3, 9, 3, 59)); // 23:59 EDT: same local day
        guard.Refuse(default);
        time.SetUtcNow(Utc(2026, 3, 9, 4, 0)); // local midnight, 23 hours after the period began
        guard.Admit(default).Settle(0.25m);

        var node = guard.Node("team");
        Assert.That(node.Usd.Spent, Is.EqualTo(0.25m));
        Assert.That(node.PeriodStart, Is.EqualTo(Utc(2026, 3, 9, 4)));
        Assert.That(node.ResetsAt, Is.EqualTo(Utc(2026, 3, 10, 4)));
    }

    [TestCase(BudgetPeriod.Day, "2026-06-21T00:00:00Z")]
    [TestCase(BudgetPeriod.Week, "2026-06-22T00:00:00Z")]
    [TestCase(BudgetPeriod.Month, "2026-07-01T00:00:00Z")]
    public void Guard_CalendarPeriod_StartsFreshExactlyAtTheBoundary(BudgetPeriod period, string boundary)
    {
        var time = Clock();
        using var guard = Guard(time, o => o.Node("n").CapUsd(2m).Every(period).Block());
        guard.Charge(default, 2m, 10);
        var at = DateTimeOffset.Parse(boundary, System.Globalization.CultureInfo.InvariantCulture);

        time.SetUtcNow(at - TimeSpan.FromTicks(1));
        Assert.That(guard.Refuse(default).ResetsAt, Is.EqualTo(at));
        time.SetUtcNow(at);

        var node = guard.Node("n");
        Assert.That(node.Usd.Spent, Is.Zero);
        Assert.That(node.Tokens.Spent, Is.Zero);
        Assert.That(node.PeriodStart, Is.EqualTo(at));
        guard.Admit(default);
    }

    [Test]
    public void Guard_Lifetime_NeverResets()
    {
        var time = Clock();
        using var guard = Guard(time, o => o.Node("n").CapUsd(1m).Block());
        guard.Charge(default, 1m, 0);

        time.Advance(TimeSpan.FromDays(400));

        Assert.That(guard.Refuse(default).ResetsAt, Is.Null);
        Assert.That(guard.Node("n").Usd.Spent, Is.EqualTo(1m));
    }

    [Test]
    public void Guard_FiveHourWindow_OpensWithFirstSpendAndClosesFiveHoursLater()
    {
        var time = Clock();
        using var guard = Guard(time, o => o.Node("seat").CapTokens(1_000).Every(BudgetPeriod.FiveHours).Block());
        Assert.That(guard.Node("seat").ResetsAt, Is.Null, "no window is open before any spend");

        time.Advance(TimeSpan.FromMinutes(30));
        guard.Charge(default, null, 1_000);
        var opened = time.GetUtcNow();
        Assert.That(guard.Refuse(default).ResetsAt, Is.EqualTo(opened.AddHours(5)));

        time.SetUtcNow(opened.AddHours(5).AddTicks(-1));
        guard.Refuse(default);
        time.SetUtcNow(opened.AddHours(5));
        Assert.That(guard.Node("seat").Tokens.Spent, Is.Zero, "the window closed");
        time.Advance(TimeSpan.FromHours(1));
        guard.Admit(default, tokens: 10).Settle(0m, 10);
        Assert.That(guard.Node("seat").ResetsAt, Is.EqualTo(opened.AddHours(11)), "the next window opened with the next spend");
    }

    [Test]
    public void Check_ClosedFiveHourWindow_NeitherOpensNorSavesIt()
    {
        var time = Clock();
        var store = new InMemoryBudgetStore();
        using var guard = Guard(time, o => o.Node("seat").CapUsd(10m).Every(BudgetPeriod.FiveHours).Block(), store);

        Assert.That(guard.Check(default, 1m), Is.Null);
        Assert.That(store.Saves, Is.Zero, "a check saves nothing");
        time.Advance(TimeSpan.FromHours(4));
        guard.Admit(default, 1m).Settle(1m);
        time.Advance(TimeSpan.FromHours(1.5));

        var seat = guard.Node("seat");
        Assert.That(seat.Usd.Spent, Is.EqualTo(1m), "the window opened with the first spend, 1.5 h ago");
        Assert.That(seat.PeriodStart, Is.EqualTo(Saturday.AddHours(4)));
    }

    [Test]
    public void TryReserve_RefusedByAnotherNode_DoesNotOpenAFiveHourWindow()
    {
        var time = Clock();
        using var guard = Guard(time, o =>
        {
            o.Node("seat").Every(BudgetPeriod.FiveHours);
            o.Node("seat/agent").CapUsd(1m).Block();
        });
        guard.Admit(default, 1m).Settle(1m);                     // opens seat's window now; seat/agent is at its cap
        time.Advance(TimeSpan.FromHours(6));

        guard.Refuse(default, 0.5m);

        var seat = guard.Node("seat");
        Assert.That((seat.PeriodStart, seat.ResetsAt), Is.EqualTo(((DateTimeOffset?)null, (DateTimeOffset?)null)), "no spend: still closed");
    }

    [Test]
    public void TryReserve_ZeroEstimate_OpensTheFiveHourWindowAtTheFirstSpend()
    {
        var time = Clock();
        using var guard = Guard(time, o => o.Node("seat").CapUsd(10m).Every(BudgetPeriod.FiveHours).Block());

        var reservation = guard.Admit(default);
        Assert.That(guard.Node("seat").PeriodStart, Is.Null, "nothing held: not opened");
        time.Advance(TimeSpan.FromHours(2));
        reservation.Settle(0.5m);
        guard.Admit(default).Dispose();                           // released with nothing billed: opens nothing more

        var seat = guard.Node("seat");
        Assert.That(seat.PeriodStart, Is.EqualTo(Saturday.AddHours(2)));
        Assert.That(seat.ResetsAt, Is.EqualTo(Saturday.AddHours(7)));
        Assert.That(seat.Usd.Spent, Is.EqualTo(0.5m));
    }
}
