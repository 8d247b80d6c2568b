using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Budgets;

/// <summary>
/// Issue 13 items 7–8 (SPEC 7.5, "counters and warning state survive process restarts"): a host over a real SQLite
/// ledger file is disposed and a new one is built over the same file; the new guard must read exactly what the live
/// one showed, for spend without a ledger call, for a call that straddles a day boundary and around an explicit reset.
/// </summary>
public sealed class BudgetRestartTests
{
    private static readonly DateTimeOffset BeforeMidnight = new(2026, 6, 20, 23, 59, 50, TimeSpan.Zero);

    private static void Tree(BudgetOptions o)
    {
        o.Node("org").CapUsd(100m).Every(BudgetPeriod.Day).WarnAt(usd: 1m);
        o.Node("org/users/{user}").CapUsd(10m).Every(BudgetPeriod.Day).Block();
        o.Node("seat").CapTokens(1_000_000).Every(BudgetPeriod.FiveHours);
    }

    private sealed class Host : IAsyncDisposable
    {
        private readonly ServiceProvider _provider;

        public Host(string path, FakeTimeProvider time)
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(time);
            services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddSqliteLedger(o => o.Path = path).AddBudgets(Tree);
            _provider = services.BuildServiceProvider();
            Meter = _provider.GetRequiredService<ICageMeter>();
            Guard = _provider.GetRequiredService<BudgetGuard>();
        }

        public ICageMeter Meter { get; }

        public BudgetGuard Guard { get; }

        public void Metered(decimal cost, string user = "alice")
        {
            using var m = Meter.Meter("chat", user: user);
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10, providerCost: cost);
        }

        public async ValueTask DisposeAsync()
        {
            await Meter.FlushAsync();
            await _provider.DisposeAsync();
        }
    }

    /// <summary>Per node of alice's scope (org, org/users/alice, seat): dollars and tokens spent.</summary>
    private static (string Path, decimal Usd, decimal Tokens)[] Spent(BudgetGuard guard) =>
        [.. guard.GetStatus(new BudgetScope(User: "alice")).Nodes.Select(n => (n.Path, n.Usd.Spent, n.Tokens.Spent)).OrderBy(n => n.Path, StringComparer.Ordinal)];

    /// <summary>Runs <paramref name="live"/> in a first host, then checks a second host over the same file reads the same.</summary>
    private static async Task<(string Path, decimal Usd, decimal Tokens)[]> LiveThenRestarted(FakeTimeProvider time, Action<Host> live)
    {
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        (string, decimal, decimal)[] before;
        await using (var first = new Host(test.Path, time))
        {
            live(first);
            before = Spent(first.Guard);
        }

        await using var second = new Host(test.Path, time);
        var after = Spent(second.Guard);
        Assert.That(after, Is.EqualTo(before), "the restarted guard reads what the live one showed");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return after;
    }

    [Test]
    public async Task Charge_WithoutAMeteredCall_SurvivesARestart()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero));

        var spent = await LiveThenRestarted(time, host =>
        {
            host.Guard.Charge(new BudgetScope(User: "alice"), 1.25m, 300);
            host.Metered(0.5m);                             // in the ledger: counted once, not also as a charge
            host.Guard.Charge(new BudgetScope(User: "alice"), null, 1_000); // unknown cost: tokens only
        });

        Assert.That(spent, Is.EqualTo(new[] { ("org", 1.75m, 1_410m), ("org/users/alice", 1.75m, 1_410m), ("seat", 1.75m, 1_410m) }));
    }

    [Test]
    public async Task ReserveAndSettle_WithoutALedgerCall_SurvivesARestart()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero));

        var spent = await LiveThenRestarted(time, host =>
        {
            host.Guard.Reserve(new BudgetScope(User: "alice"), 1m, 100).Settle(0.75m, 80);
            host.Guard.Reserve(new BudgetScope(User: "alice"), 1m).Release(billedUsd: 0.05m, billedTokens: 5); // a cut stream keeps what was billed
            host.Guard.Reserve(new BudgetScope(User: "alice"), 1m).Dispose();                                   // nothing billed: nothing kept
            using (var m = host.Meter.Meter("chat", user: "alice"))
            {
                host.Guard.Reserve(m, 1m).Settle(0.2m, 20); // a metering scope whose Usage never comes: no ledger call
            }

            using (var m = host.Meter.Meter("chat", user: "alice"))
            {
                host.Guard.Reserve(m, 1m).Settle(0.1m, 110); // settled first; the scope's Usage is the same call (in the ledger)
                m.Usage("openai", "gpt-4o-mini", input: 100, output: 10, providerCost: 0.1m);
            }
        });

        Assert.That(spent, Is.EqualTo(new[] { ("org", 1.1m, 215m), ("org/users/alice", 1.1m, 215m), ("seat", 1.1m, 215m) }));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task CallStraddlingMidnight_IsChargedToTheDayItStarted_BeforeAndAfterARestart(bool reserved)
    {
        var time = new FakeTimeProvider(BeforeMidnight);

        var spent = await LiveThenRestarted(time, host =>
        {
            using (var m = host.Meter.Meter("chat", user: "alice")) // opened 23:59:50
            {
                time.Advance(TimeSpan.FromSeconds(15));
                if (reserved) host.Guard.Reserve(m, 1m);             // reserved 00:00:05, in the new day
                time.Advance(TimeSpan.FromSeconds(5));               // answered 00:00:10
                m.Usage("openai", "gpt-4o-mini", input: 100, output: 10, providerCost: 0.4m);
            }

            host.Metered(0.1m); // started and answered on the new day
        });

        Assert.That(spent.Select(s => s.Usd), Is.EqualTo(new[] { 0.1m, 0.1m, 0.5m }), "the straddling call counts toward the day it started (and the 5-hour window it opened)");
    }

    [Test]
    public async Task ExplicitReset_ThenRestart_ReadsTheSameSpend()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 12, 0, 0, TimeSpan.Zero));

        var spent = await LiveThenRestarted(time, host =>
        {
            var straddler = host.Meter.Meter("chat", user: "alice"); // started before the reset
            host.Metered(0.3m);
            host.Guard.Charge(new BudgetScope(User: "alice"), 0.2m, 20);
            host.Guard.Reset("org/users/alice");                      // same instant as the calls above: they do not count
            time.Advance(TimeSpan.FromSeconds(2));
            straddler.Usage("openai", "gpt-4o-mini", input: 100, output: 10, providerCost: 0.7m); // answered after it
            straddler.Dispose();
            host.Metered(0.1m);
            host.Guard.Charge(new BudgetScope(User: "alice"), 0.05m, 5);
        });

        Assert.That(spent, Is.EqualTo(new[] { ("org", 1.35m, 355m), ("org/users/alice", 0.15m, 115m), ("seat", 1.35m, 355m) }), "org was not reset; alice counts only what started after her reset");
    }

    [Test]
    public async Task FiveHourWindow_OpenedByAReservedMeteredCall_CountsItAfterARestart()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 12, 0, 0, 250, TimeSpan.Zero));
        using var test = TestLedger.Create();
        test.Ledger.Dispose();
        await using (var first = new Host(test.Path, time))
        {
            using var m = first.Meter.Meter("chat", user: "alice");
            time.Advance(TimeSpan.FromMilliseconds(1_500)); // the reservation opens the window after the scope started
            first.Guard.Reserve(m, 0.01m, 500);
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10, providerCost: 0.01m);
        }

        await using var second = new Host(test.Path, time);
        var seat = second.Guard.GetStatus("seat").Nodes.Single();
        Assert.That(seat.Tokens.Spent, Is.EqualTo(110m));
        Assert.That(seat.PeriodStart, Is.EqualTo(new DateTimeOffset(2026, 6, 20, 12, 0, 0, 250, TimeSpan.Zero)), "the window opened when the call started");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}
