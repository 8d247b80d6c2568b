using System.Text;
using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

/// <summary>Issue 16 item 1: any label binds a template segment; literal siblings are routed, never all charged.</summary>
public sealed class BudgetRoutingTests
{
    /// <summary>The organisation of seed 002, configured literally: org $100, team-a 40%, team-b 60%, agents and sessions.</summary>
    private static void Organisation(BudgetOptions o)
    {
        o.Route("org/{team}/{agent}/{session}");
        o.Node("org").CapUsd(100m).Every(BudgetPeriod.Month).Block();
        o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40));
        o.Node("org/team-b").CapUsd(BudgetLimit.PercentOfParent(60));
        o.Node("org/team-a/agent-x").CapUsd(10m).Block();
        o.Node("org/team-a/agent-x/session-42").CapUsd(2m).Block();
    }

    private static BudgetScope Call(string? team, string? agent = null, string? session = null)
    {
        var scope = new BudgetScope(Agent: agent, Session: session);
        return team is null ? scope : scope.WithLabel("team", team);
    }

    private static string[] Charged(BudgetGuard guard, BudgetScope scope) => [.. guard.GetStatus(scope).Nodes.Select(n => n.Path)];

    [Test]
    public void LiteralSiblings_AreChargedOnlyByTheirOwnTeamsCalls()
    {
        using var guard = Guard(Clock(), Organisation);

        guard.Charge(Call("team-a", "agent-x", "session-42"), 1.5m, 100);
        guard.Charge(Call("team-b", "agent-y", "session-7"), 4m, 400);

        Assert.That(Charged(guard, Call("team-a", "agent-x", "session-42")), Is.EqualTo(new[] { "org", "org/team-a", "org/team-a/agent-x", "org/team-a/agent-x/session-42" }));
        Assert.That(Charged(guard, Call("team-b", "agent-y", "session-7")), Is.EqualTo(new[] { "org", "org/team-b" }), "team-b configures no agent: its calls stop at org/team-b");
        Assert.That(guard.Node("org").Usd.Spent, Is.EqualTo(5.5m));
        Assert.That(guard.Node("org/team-a").Usd.Spent, Is.EqualTo(1.5m), "team-b's call never touches team-a");
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.EqualTo(4m));
        Assert.That(guard.Node("org/team-a/agent-x").Usd.Spent, Is.EqualTo(1.5m));
        Assert.That(guard.Node("org/team-a/agent-x/session-42").Tokens.Spent, Is.EqualTo(100m));
        Assert.That(guard.Node("org/team-a").Usd.Cap, Is.EqualTo(40m));
        Assert.That(guard.Node("org/team-b").Usd.Cap, Is.EqualTo(60m));
    }

    [Test]
    public void ACallBindingNoNodeOfABranch_IsChargedAtTheNearestConfiguredAncestor()
    {
        using var guard = Guard(Clock(), Organisation);

        guard.Charge(Call(null, "agent-x", "session-42"), 1m, 10);        // no team label
        guard.Charge(Call("team-c", "agent-z"), 2m, 20);                  // a team with no node
        guard.Charge(Call("team-a", "agent-q"), 4m, 40);                  // team-a, an agent with no node

        Assert.That(Charged(guard, Call(null, "agent-x", "session-42")), Is.EqualTo(new[] { "org" }));
        Assert.That(Charged(guard, Call("team-c", "agent-z")), Is.EqualTo(new[] { "org" }));
        Assert.That(Charged(guard, Call("team-a", "agent-q")), Is.EqualTo(new[] { "org", "org/team-a" }));
        Assert.That(guard.Node("org").Usd.Spent, Is.EqualTo(7m));
        Assert.That(guard.Node("org/team-a").Usd.Spent, Is.EqualTo(4m));
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.Zero);
        Assert.That(guard.Node("org/team-a/agent-x").Usd.Spent, Is.Zero, "agent-x without a team label is not routed into team-a");
    }

    [Test]
    public void PerTeamPercentCaps_ClampAcrossTheRoutedSiblings()
    {
        var ex = Assert.Throws<BudgetClampException>(() => Guard(Clock(), o =>
        {
            o.Route("org/{team}");
            o.Node("org").CapUsd(100m);
            o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40));
            o.Node("org/team-b").CapUsd(BudgetLimit.PercentOfParent(70));
        }));

        Assert.That(ex!.Node, Is.EqualTo("org/team-b"));
        Assert.That(ex.Headroom, Is.EqualTo(60m));
        Assert.That(ex.Message, Is.EqualTo("Cage:Budgets:Nodes:org/team-b:Usd is 70% of 'org', but its siblings org/team-a (40%) already take 40%: the headroom is 60% ($60.000000 of $100.000000)"));
    }

    [Test]
    public void BlockingTeamCap_RefusesThatTeamOnly()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Route("org/{team}");
            o.Node("org").CapUsd(100m);
            o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40)).Block();
            o.Node("org/team-b").CapUsd(BudgetLimit.PercentOfParent(60)).Block();
        });

        guard.Charge(Call("team-a"), 40m, 0);

        var refusal = guard.Refuse(Call("team-a"));
        Assert.That(refusal.Node, Is.EqualTo("org/team-a"));
        Assert.That(refusal.Cap, Is.EqualTo(40m));
        guard.Admit(Call("team-b"), 1m).Settle(1m);
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.EqualTo(1m));
    }

    [Test]
    public void TemplatedLabelSegment_GivesEachValueACounter_AndALiteralOverridesItsValue()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(100m);
            o.Node("org/{team}").CapUsd(5m).Block();                     // every other team: $5
            o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(40)); // team-a's own cap
            o.Node("org/{team}/{agent}").CapUsd(1m);                     // per agent, in every team (team-a too)
        });

        guard.Charge(Call("team-a", "agent-x"), 0.5m, 0);
        guard.Charge(Call("team-c", "agent-x"), 0.25m, 0);

        Assert.That(Charged(guard, Call("team-a", "agent-x")), Is.EqualTo(new[] { "org", "org/team-a", "org/team-a/agent-x" }));
        Assert.That(guard.GetStatus(Call("team-a")).Nodes.Select(n => (n.Path, n.Template, n.Usd.Cap)), Is.EqualTo(new[] { ("org", "org", (decimal?)100m), ("org/team-a", "org/team-a", 40m) }));
        Assert.That(guard.GetStatus(Call("team-c")).Nodes.Select(n => (n.Path, n.Template, n.Usd.Cap)), Is.EqualTo(new[] { ("org", "org", (decimal?)100m), ("org/team-c", "org/{team}", 5m) }));
        Assert.That(guard.Node("org/team-c/agent-x").Usd.Spent, Is.EqualTo(0.25m));
        Assert.That(guard.Node("org/team-a/agent-x").Usd.Spent, Is.EqualTo(0.5m));
        Assert.That(guard.Node("org/team-a/agent-x").Labels, Is.EqualTo(new Dictionary<string, string> { ["team"] = "team-a", ["agent"] = "agent-x" }));
    }

    [Test]
    public void ConfiguredMapping_DerivesTheTeamFromTheAgent_AndALabelOnTheScopeWins()
    {
        using var guard = Guard(Clock(), o =>
        {
            Organisation(o);
            o.MapLabel("team", "agent", new Dictionary<string, string> { ["agent-x"] = "team-a", ["agent-y"] = "team-b" });
        });

        guard.Charge(new BudgetScope(Agent: "agent-x", Session: "session-42"), 1m, 0);
        guard.Charge(new BudgetScope(Agent: "agent-y"), 2m, 0);
        guard.Charge(Call("team-b", "agent-x"), 4m, 0);                  // explicitly labelled: team-b, whatever the mapping says

        Assert.That(guard.Node("org/team-a/agent-x/session-42").Usd.Spent, Is.EqualTo(1m));
        Assert.That(guard.Node("org/team-a").Usd.Spent, Is.EqualTo(1m));
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.EqualTo(6m));
    }

    [Test]
    public async Task MeteringScopeTags_RouteMeteredCalls_InheritedByInnerScopes_AndTheRebuildAgrees()
    {
        var time = Clock();
        var ledger = new InMemoryLedger();
        Dictionary<string, decimal> live;
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddInMemoryLedger(ledger).AddBudgets(Organisation);
        await using (var provider = services.BuildServiceProvider())
        {
            var meter = provider.GetRequiredService<ICageMeter>();
            var guard = provider.GetRequiredService<BudgetGuard>();
            using (var run = meter.Meter("run", agent: "agent-x", session: "session-42").Tag("team", "team-a"))
            {
                using var m = meter.Meter("chat");                           // inherits agent, session and the team label
                Assert.That(guard.TryReserve(m, 0m, 0, out _, out var refusal), Is.True, () => refusal!.Message);
                m.Usage("anthropic", "claude-sonnet-4-5", input: 1_000, output: 100, providerCost: 0.4m);
            }

            using (var m = meter.Meter("chat", agent: "agent-y").Tag("team", "team-b"))
            {
                m.Usage("anthropic", "claude-sonnet-4-5", input: 10, output: 1, providerCost: 0.1m);
            }

            await meter.FlushAsync();
            live = guard.GetStatus("org/team-a/agent-x/session-42").Nodes.Concat(guard.GetStatus("org/team-b").Nodes.Skip(1))
                .ToDictionary(n => n.Path, n => n.Usd.Spent);
        }

        Assert.That(live, Is.EqualTo(new Dictionary<string, decimal>
        {
            ["org"] = 0.5m, ["org/team-a"] = 0.4m, ["org/team-a/agent-x"] = 0.4m, ["org/team-a/agent-x/session-42"] = 0.4m, ["org/team-b"] = 0.1m,
        }));
        using var rebuilt = Guard(time, Organisation);
        await rebuilt.InitializeAsync(ledger);
        Assert.That(rebuilt.GetStatus("org/team-a/agent-x/session-42").Nodes.Concat(rebuilt.GetStatus("org/team-b").Nodes.Skip(1)).ToDictionary(n => n.Path, n => n.Usd.Spent), Is.EqualTo(live));
    }

    [Test]
    public void GetStatusOfAPath_FollowsTheRouting()
    {
        using var guard = Guard(Clock(), Organisation);
        guard.Charge(Call("team-a", "agent-x", "session-42"), 1m, 0);

        var status = guard.GetStatus("org/team-a/agent-x/session-42");

        Assert.That(status.Nodes.Select(n => n.Path), Is.EqualTo(new[] { "org", "org/team-a", "org/team-a/agent-x", "org/team-a/agent-x/session-42" }));
        Assert.That(status.Nodes[^1].Labels, Is.EqualTo(new Dictionary<string, string> { ["team"] = "team-a", ["agent"] = "agent-x", ["session"] = "session-42" }));
        Assert.That(guard.GetStatus("org/team-b").Nodes.Select(n => n.Path), Is.EqualTo(new[] { "org", "org/team-b" }));
        Assert.Throws<ArgumentException>(() => guard.GetStatus("org/team-c"));
    }

    [Test]
    public void UnroutedLiteralSiblings_AreEachChargedByEveryCall_AsBefore()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("day").CapUsd(25m).Every(BudgetPeriod.Day);
            o.Node("month").CapUsd(500m).Every(BudgetPeriod.Month);
            o.Node("session/{session}").CapUsd(2m);
        });

        guard.Charge(new BudgetScope(Session: "s1"), 1m, 0);

        Assert.That(Charged(guard, new BudgetScope(Session: "s1")), Is.EqualTo(new[] { "day", "month", "session/s1" }));
        Assert.That(guard.Node("day").Usd.Spent, Is.EqualTo(1m));
        Assert.That(guard.Node("month").Usd.Spent, Is.EqualTo(1m));
    }

    [TestCase("org/{team}|org/{dept}/x|org/a", "the segment 'a' could be a value of {dept} (node org/{dept}, node org/{dept}/x) or {team} (node org/{team})")]
    [TestCase("org/{team}|route:org", "'org' has no template segment")]
    [TestCase("org/{team}|label:user<agent", "Cage:Budgets:Labels:user: user comes from the scope itself")]
    [TestCase("org/{team}|label:team<dept|label:dept<team", "the mappings form a cycle")]
    public void BadRouting_IsAConfigurationErrorNamingTheSetting(string spec, string expected)
    {
        var ex = Assert.Throws<BudgetConfigurationException>(() => Guard(Clock(), o =>
        {
            foreach (var part in spec.Split('|'))
            {
                if (part.StartsWith("route:", StringComparison.Ordinal)) o.Route(part[6..]);
                else if (part.StartsWith("label:", StringComparison.Ordinal)) o.MapLabel(part[6..].Split('<')[0], part.Split('<')[1], new Dictionary<string, string> { ["x"] = "y" });
                else o.Node(part).CapUsd(1m);
            }
        }));

        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void AppSettings_RoutesAndLabels_ReadAsTheFluentForm()
    {
        var json = """
            { "Cage": { "Budgets": {
              "Routes": [ "org/{team}/{agent}/{session}" ],
              "Labels": { "team": { "From": "agent", "Values": { "agent-x": "team-a", "agent-y": "team-b" } } },
              "Nodes": {
                "org":        { "Usd": 100, "Period": "month", "OnExceed": "block" },
                "org/team-a": { "Usd": { "Pct": 40, "Of": "parent" } },
                "org/team-b": { "Usd": { "Pct": 60, "Of": "parent" } },
                "org/team-a/agent-x": { "Usd": 10, "OnExceed": "block" }
              } } } }
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var options = BudgetConfiguration.Read(configuration.GetSection("Cage:Budgets"));
        using var guard = new BudgetGuard(options, Clock());

        guard.Charge(new BudgetScope(Agent: "agent-y"), 3m, 0);
        guard.Charge(new BudgetScope(Agent: "agent-x"), 1m, 0);

        Assert.That(options.Routes, Is.EqualTo(new[] { "org/{team}/{agent}/{session}" }));
        Assert.That(options.LabelMaps["team"].Values["agent-x"], Is.EqualTo("team-a"));
        Assert.That(guard.Node("org/team-b").Usd.Spent, Is.EqualTo(3m));
        Assert.That(guard.Node("org/team-a/agent-x").Usd.Spent, Is.EqualTo(1m));
        Assert.That(guard.Node("org/team-a").Usd.Spent, Is.EqualTo(1m));
    }

    [Test]
    public void AppSettings_BadLabelMapping_NamesItsPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cage:Budgets:Labels:team:Values:agent-x"] = "team-a",
        }).Build();

        var ex = Assert.Throws<BudgetConfigurationException>(() => BudgetConfiguration.Read(configuration.GetSection("Cage:Budgets")));

        Assert.That(ex!.Message, Is.EqualTo("Cage:Budgets:Labels:team needs From: the label it is derived from (for example \"agent\")"));
    }
}
