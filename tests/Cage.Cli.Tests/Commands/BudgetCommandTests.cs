using System.Text.Json;
using CageNet.Budgets;
using CageNet.Ledger;

namespace CageNet.Cli.Tests.Commands;

[TestFixture]
public sealed class BudgetCommandTests
{
    [Test]
    public async Task Budget_WorkedExample_MatchesTheReferenceNumbers()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var run = await cli.RunAsync("budget", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var json = run.Json();
        var reference = Fixtures.OutputJson("budget.json");
        Assert.That(json.GetProperty("on_exceed").GetString(), Is.EqualTo(reference.GetProperty("on_exceed").GetString()));
        Assert.That(json.GetProperty("over").GetBoolean(), Is.False);
        Assert.That(json.GetProperty("proceed").GetBoolean(), Is.True);
        var day = json.GetProperty("scopes").GetProperty("day");
        Assert.That(day.GetProperty("cap").GetDecimal(), Is.EqualTo(25m));
        Assert.That(day.GetProperty("used").GetDecimal(), Is.EqualTo(reference.GetProperty("scopes").GetProperty("day").GetProperty("used").GetDecimal()));
        Assert.That(day.GetProperty("would_be").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(day.GetProperty("remaining").GetDecimal(), Is.EqualTo(24.9517m));
        Assert.That(day.GetProperty("percent").GetDecimal(), Is.EqualTo(0.19m));
        Assert.That(day.GetProperty("resets_at").GetString(), Is.EqualTo("2026-06-21T00:00:00Z"));
        var session = json.GetProperty("scopes").GetProperty("session/{session}");
        Assert.That(session.GetProperty("cap").GetDecimal(), Is.EqualTo(2m));
        Assert.That(session.GetProperty("used").GetDecimal(), Is.Zero, "no session given: the reference shows 0 too");
        Assert.That(session.GetProperty("bound").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Budget_FirstRunRegistersTheTreesRollup_LaterRunsAnswerTheSameFromIt()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        Assert.That(RollupCount(cli.LedgerPath), Is.Zero, "nothing registered the policy's tree yet");

        var first = await cli.RunAsync("budget", "--session", "demo", "--json");
        Assert.That(first.ExitCode, Is.EqualTo(0), first.Err);
        Assert.That(RollupCount(cli.LedgerPath), Is.EqualTo(1), "the first run registered the tree's budget rollup");

        // A call recorded after the registration (by another writer) is summed into the rollup as it is stored.
        await using (var ledger = SqliteLedger.Open(cli.LedgerPath))
        {
            await ledger.AppendAsync(new LedgerBatch([new CallRecord
            {
                Id = "c_after_registration",
                Timestamp = new DateTimeOffset(2026, 6, 1, 9, 0, 0, TimeSpan.Zero),
                Session = "demo",
                Provider = "openai",
                Model = "gpt-4o-mini",
                Usage = new TokenUsage(100, 0, 0, 0, 10),
                CostUsd = 1m,
                CostSource = CostSource.Provider,
            }], []));
        }

        var second = await cli.RunAsync("budget", "--session", "demo", "--json");
        Assert.That(RollupCount(cli.LedgerPath), Is.EqualTo(1));
        var before = first.Json().GetProperty("scopes").GetProperty("session/demo").GetProperty("used").GetDecimal();
        Assert.That(second.Json().GetProperty("scopes").GetProperty("session/demo").GetProperty("used").GetDecimal(), Is.EqualTo(before + 1m));
    }

    private static long RollupCount(string path)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM budget_rollups;";
        return (long)command.ExecuteScalar()!;
    }

    [Test]
    public async Task Budget_SessionDemo_ShowsTheSessionsSpend()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");

        var json = (await cli.RunAsync("budget", "--session", "demo", "--json")).Json();
        var text = await cli.RunAsync("budget", "--session", "demo");

        var session = json.GetProperty("scopes").GetProperty("session/demo");
        Assert.That(session.GetProperty("used").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(session.GetProperty("percent").GetDecimal(), Is.EqualTo(2.42m));
        Assert.That(session.GetProperty("resets_at").ValueKind, Is.EqualTo(JsonValueKind.Null), "a session budget is for the session's lifetime");
        Assert.That(text.Out, Does.StartWith("Budget (warn on exceed)\n\n"));
        Assert.That(text.Out, Does.Contain("session/demo").And.Contain("$0.0483").And.Contain("$2.00 ").And.Contain("2%"));
        Assert.That(text.Out, Does.Contain("day").And.Contain("$25.00 ").And.Not.Contain("$25.0000").And.Contain("2026-06-21T00:00:00Z"));
    }

    [Test]
    public async Task Budget_ScopePathAndWarningStateFromTheLedgerFile()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, """
            { "Cage": { "Budgets": { "OnExceed": "block", "Nodes": {
                "org": { "Usd": 10, "Period": "month", "WarnAtPct": [ 50 ] },
                "org/{user}": { "Usd": { "Pct": 20, "Of": "parent" }, "Tokens": 5000, "Period": "day" } } } } }
            """);
        await using (var ledger = SqliteLedger.Open(cli.LedgerPath))
        {
            await ledger.AppendAsync(new LedgerBatch(
            [
                new CallRecord { Id = "c_1", Timestamp = CliHarness.FixtureNow.AddHours(-1), User = "alice", CostUsd = 2m, CostSource = CostSource.Provider, Usage = new TokenUsage(Input: 4000, Output: 1000) },
                new CallRecord { Id = "c_2", Timestamp = CliHarness.FixtureNow.AddDays(-3), User = "alice", CostUsd = 4m, CostSource = CostSource.Provider },
            ], []));
            await new SqliteBudgetStore(ledger).SaveAsync(new BudgetNodeState("org", new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero), null, ["usd:50%"], CliHarness.FixtureNow));
        }

        var run = await cli.RunAsync("budget", "--scope", "org/alice", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var json = run.Json();
        Assert.That(json.GetProperty("proceed").GetBoolean(), Is.False, "alice is at her $2 daily cap and her token cap");
        var org = json.GetProperty("scopes").GetProperty("org");
        Assert.That(org.GetProperty("used").GetDecimal(), Is.EqualTo(6m));
        Assert.That(org.GetProperty("percent").GetDecimal(), Is.EqualTo(60m));
        Assert.That(org.GetProperty("warnings_fired")[0].GetString(), Is.EqualTo("usd:50%"));
        var alice = json.GetProperty("scopes").GetProperty("org/alice");
        Assert.That(alice.GetProperty("used").GetDecimal(), Is.EqualTo(2m));
        Assert.That(alice.GetProperty("cap").GetDecimal(), Is.EqualTo(2m));
        Assert.That(alice.GetProperty("over").GetBoolean(), Is.True);
        Assert.That(alice.GetProperty("tokens").GetProperty("used").GetDecimal(), Is.EqualTo(5000m));
        Assert.That(alice.GetProperty("tokens").GetProperty("remaining").GetDecimal(), Is.Zero);
        var text = await cli.RunAsync("budget", "--scope", "org/alice");
        Assert.That(text.Out, Does.Contain("blocked: the next call for this scope is refused"));
    }

    [Test]
    public async Task Budget_AfterAHostStopped_ShowsWhatItsLiveGuardShowed()
    {
        // Issue 13 items 7–8: spend without a ledger call, a call that started before an explicit reset and one that
        // started the day before are counted by `cage budget` exactly as the host's live guard counted them.
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, """
            { "Cage": { "Budgets": { "Nodes": {
                "org": { "Usd": 10, "Period": "month" },
                "org/{user}": { "Usd": 5, "Period": "day" } } } } }
            """);
        var options = new BudgetOptions();
        options.Node("org").CapUsd(10m).Every(BudgetPeriod.Month);
        options.Node("org/{user}").CapUsd(5m).Every(BudgetPeriod.Day);
        var alice = new BudgetScope(User: "alice");
        var now = CliHarness.FixtureNow;
        CallRecord Call(string id, DateTimeOffset at, decimal cost) =>
            new() { Id = id, Timestamp = at, User = "alice", CostUsd = cost, CostSource = CostSource.Provider, Usage = new TokenUsage(Input: 100, Output: 10) };
        Dictionary<string, (decimal Usd, decimal Tokens)> live;
        await using (var ledger = SqliteLedger.Open(cli.LedgerPath))
        {
            using var guard = new BudgetGuard(options, cli.Time, new SqliteBudgetStore(ledger));
            await guard.InitializeAsync(ledger);
            CallRecord[] calls = [Call("c_yesterday", now.Date.AddSeconds(-10), 1m), Call("c_before_reset", now, 0.5m)];
            guard.Charge(alice, 0.25m, 25);                             // not metered: no ledger call
            guard.Reset("org/alice");
            cli.Time.Advance(TimeSpan.FromSeconds(1));
            calls = [.. calls, Call("c_after_reset", cli.Time.GetUtcNow(), 0.125m)];
            foreach (var call in calls) guard.Charge(call);             // what the meter does once each call is answered
            guard.Reserve(alice, 1m).Settle(0.0625m, 5);                // reserved and settled without a ledger call
            await ledger.AppendAsync(new LedgerBatch(calls, []));
            live = guard.GetStatus(alice).Nodes.ToDictionary(n => n.Path, n => (n.Usd.Spent, n.Tokens.Spent));
        }

        var run = await cli.RunAsync("budget", "--user", "alice", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var scopes = run.Json().GetProperty("scopes");
        var shown = live.Keys.ToDictionary(k => k, k => (scopes.GetProperty(k).GetProperty("spent").GetDecimal(), scopes.GetProperty(k).GetProperty("tokens").GetProperty("used").GetDecimal()));
        Assert.That(shown, Is.EqualTo(live));
        Assert.That(live["org"], Is.EqualTo((1.9375m, 360m)), "the month counts everything");
        Assert.That(live["org/alice"], Is.EqualTo((0.1875m, 115m)), "today, after the reset: the call that started after it and the settled reservation");
    }

    [TestCase("""{ "Cage": { "Budgets": { "Nodes": { "org": { "Usd": "lots" } } } } }""", "Cage:Budgets:Nodes:org:Usd 'lots' is not a number")]
    [TestCase("""{ "Cage": { "Budgets": { "Nodes": { "org": { "Usd": 1 }, "org/a": { "Usd": 5 } } } } }""", "exceeds the cap of its parent 'org'")]
    [TestCase("""{ "Cage": { "Budgets": { "Nodes": { "org": { "Usd": 1000000000000 } } } } }""", "Cage:Budgets:Nodes:org:Usd 1000000000000 is above the largest supported amount ($100,000,000)")]
    [TestCase("""{ "Cage": { "Budgets": { "Nodes": { "seat": { "Tokens": { "Pct": 10, "Of": "subscription_30d" } } } } } }""", "Cage:Budgets:Nodes:seat:Tokens Of 'subscription_30d' is not 'parent' or a subscription window")]
    public async Task Budget_BadPolicy_Exits2NamingFileAndSetting(string policy, string expected)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, policy);

        var run = await cli.RunAsync("budget");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain(cli.PolicyPath).And.Contain(expected));
    }

    [TestCase("", 2.0, true)]
    [TestCase(", \"FallbackUsdPerMillionTokens\": 3", 2.003, false)] // 1,000 tokens × $3 / 1,000,000
    public async Task Budget_CallOfUnknownCost_CountedAsUnpricedAndDollarSpendFlagged(string fallback, double used, bool lowerBound)
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, $$"""
            { "Cage": { "Budgets": { "Nodes": { "org": { "Usd": 10, "Period": "month" } }{{fallback}} } } }
            """);
        await using (var ledger = SqliteLedger.Open(cli.LedgerPath))
        {
            await ledger.AppendAsync(new LedgerBatch(
            [
                new CallRecord { Id = "c_1", Timestamp = CliHarness.FixtureNow.AddHours(-2), CostUsd = 2m, CostSource = CostSource.Provider, Usage = new TokenUsage(Input: 100, Output: 10) },
                new CallRecord { Id = "c_2", Timestamp = CliHarness.FixtureNow.AddHours(-1), Model = "mystery-9", CostUsd = null, CostSource = CostSource.Unpriced, Usage = new TokenUsage(Input: 900, Output: 100) },
            ], []));
        }

        var run = await cli.RunAsync("budget", "--json");
        var text = await cli.RunAsync("budget");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var org = run.Json().GetProperty("scopes").GetProperty("org");
        Assert.That(org.GetProperty("used").GetDecimal(), Is.EqualTo((decimal)used));
        Assert.That(org.GetProperty("unpriced_calls").GetInt64(), Is.EqualTo(1));
        Assert.That(org.GetProperty("usd_lower_bound").GetBoolean(), Is.EqualTo(lowerBound));
        Assert.That(org.GetProperty("tokens").GetProperty("used").GetDecimal(), Is.EqualTo(1_110m), "the unpriced call's tokens count");
        Assert.That(text.Out, Does.Contain("unknown cost: org 1 call"));
        Assert.That(text.Out.Contains("lower bound", StringComparison.Ordinal), Is.EqualTo(lowerBound));
    }

    [Test]
    public async Task Budget_FlatPolicyOfEarlierVersions_ReadsAsTheDayAndSessionNodes()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("demo");
        await File.WriteAllTextAsync(cli.PolicyPath, """
            { "Cage": { "Tools": { "Order": [ "graphify", "fux", "compressor" ] },
                        "Budgets": { "OnExceed": "warn", "Session": { "Usd": 2.0 }, "Day": { "Usd": 25.0 } } } }
            """);

        var run = await cli.RunAsync("budget", "--json");
        var forecast = await cli.RunAsync("forecast", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(0), run.Err);
        var scopes = run.Json().GetProperty("scopes");
        Assert.That(scopes.GetProperty("day").GetProperty("cap").GetDecimal(), Is.EqualTo(25m));
        Assert.That(scopes.GetProperty("day").GetProperty("used").GetDecimal(), Is.EqualTo(0.0483m));
        Assert.That(scopes.GetProperty("session/{session}").GetProperty("cap").GetDecimal(), Is.EqualTo(2m));
        Assert.That(forecast.ExitCode, Is.EqualTo(0), forecast.Err);
        Assert.That(forecast.Json().GetProperty("monthly_cap").GetDecimal(), Is.EqualTo(25m * 30), "June 2026 has 30 days");
    }

    [Test]
    public async Task Budget_UnknownScopePath_Exits2()
    {
        using var cli = new CliHarness();
        await cli.RunAsync("init");

        var run = await cli.RunAsync("budget", "--scope", "nowhere/x");

        Assert.That(run.ExitCode, Is.EqualTo(2));
        Assert.That(run.Err, Does.Contain("no budget node matches 'nowhere/x'"));
    }
}
