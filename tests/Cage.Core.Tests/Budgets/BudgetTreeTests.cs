using CageNet.Budgets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using static CageNet.Tests.Budgets.BudgetTestKit;

namespace CageNet.Tests.Budgets;

public sealed class BudgetTreeTests
{
    [Test]
    public void Compile_PercentOfParent_ConvertsAtRegistration()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(100m).CapTokens(1_000_000);
            o.Node("org/team-a").CapUsd(BudgetLimit.PercentOfParent(30)).CapTokens(BudgetLimit.PercentOfParent(25));
            o.Node("org/team-a/bot").CapUsd(BudgetLimit.PercentOfParent(10));
        });

        var status = guard.GetStatus("org/team-a/bot");

        Assert.That(status.Nodes.Select(n => n.Path), Is.EqualTo(new[] { "org", "org/team-a", "org/team-a/bot" }));
        Assert.That(status.Nodes.Select(n => n.Usd.Cap), Is.EqualTo(new decimal?[] { 100m, 30m, 3m }));
        Assert.That(status.Nodes[1].Tokens.Cap, Is.EqualTo(250_000m));
    }

    [Test]
    public void Compile_PercentSiblingsAbove100_FailsNamingSiblingsAndHeadroom()
    {
        var ex = Assert.Throws<BudgetClampException>(() => Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(200m);
            o.Node("org/a").CapUsd(BudgetLimit.PercentOfParent(30));
            o.Node("org/b").CapUsd(BudgetLimit.PercentOfParent(45));
            o.Node("org/c").CapUsd(BudgetLimit.PercentOfParent(40));
        }));

        Assert.That(ex!.Node, Is.EqualTo("org/c"));
        Assert.That(ex.Siblings, Is.EqualTo(new[] { "org/a (30%)", "org/b (45%)" }));
        Assert.That(ex.Headroom, Is.EqualTo(25m));
        Assert.That(ex.Message, Does.Contain("org/a (30%), org/b (45%)").And.Contain("headroom is 25%").And.Contain("$50.000000 of $200.000000"));
    }

    [Test]
    public void Compile_AbsoluteChildAboveParentCap_FailsNamingTheHeadroom()
    {
        var ex = Assert.Throws<BudgetClampException>(() => Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(10m);
            o.Node("org/a").CapUsd(4m);
            o.Node("org/b").CapUsd(12m);
        }));

        Assert.That(ex!.Node, Is.EqualTo("org/b"));
        Assert.That(ex.Headroom, Is.EqualTo(10m));
        Assert.That(ex.Message, Does.Contain("$12.000000 exceeds the cap of its parent 'org' ($10.000000)").And.Contain("org/a ($4.000000)"));
    }

    [Test]
    public void Compile_PercentOfParentWithoutParentCap_Fails()
    {
        var ex = Assert.Throws<BudgetConfigurationException>(() => Guard(Clock(), o => o.Node("org/a").CapUsd(BudgetLimit.PercentOfParent(10))));

        Assert.That(ex!.Message, Does.Contain("org/a").And.Contain("'org' has no Usd cap"));
    }

    [TestCase("org/{ten ant}", "template segment")]
    [TestCase("org/{user}/x/{user}", "appears twice")]
    [TestCase("org//a", "empty segment")]
    public void Compile_BadPath_Fails(string path, string expected)
    {
        var ex = Assert.Throws<BudgetConfigurationException>(() => Guard(Clock(), o => o.Node(path).CapUsd(1m)));

        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void TemplatedNode_OneCounterPerUser_UnboundScopeChargesOnlyAncestors()
    {
        using var guard = Guard(Clock(), o =>
        {
            o.Node("app").CapUsd(10m).Block();
            o.Node("app/{user}").CapUsd(1m).Block();
        });

        guard.Charge(new BudgetScope(User: "alice"), 1m, 0);
        guard.Charge(new BudgetScope(User: "bob"), 0.25m, 0);
        guard.Charge(default, 2m, 0);

        Assert.That(guard.Node("app/alice").Usd.Spent, Is.EqualTo(1m));
        Assert.That(guard.Node("app/bob").Usd.Spent, Is.EqualTo(0.25m));
        Assert.That(guard.Node("app").Usd.Spent, Is.EqualTo(3.25m));
        guard.Refuse(new BudgetScope(User: "alice"));
        guard.Admit(new BudgetScope(User: "bob"));
        Assert.That(guard.GetStatus(new BudgetScope(User: "alice")).Nodes.Select(n => n.Path), Is.EqualTo(new[] { "app", "app/alice" }));
    }

    [TestCase("Usd", "Cage:Budgets:Nodes:org:Usd 1000000000000 is above the largest supported amount ($100,000,000)")]
    [TestCase("Tokens", "Cage:Budgets:Nodes:org:Tokens 10000000000000000000 is above the largest supported token count (1,000,000,000,000,000)")]
    [TestCase("WarnAtUsd", "Cage:Budgets:Nodes:org:WarnAtUsd 1000000000000 is above the largest supported amount ($100,000,000)")]
    [TestCase("WarnAtPct", "Cage:Budgets:Nodes:org:WarnAtPct 1000000000000 is above 10000%")]
    public void Compile_HugeAmount_IsAConfigurationErrorNamingTheSetting(string setting, string expected)
    {
        var options = new BudgetOptions();
        var org = options.Node("org").CapUsd(1m);
        switch (setting)
        {
            case "Usd": org.CapUsd(1_000_000_000_000m); break;
            case "Tokens": org.CapTokens(BudgetLimit.Absolute(10_000_000_000_000_000_000m)); break;
            case "WarnAtUsd": org.WarnAt(usd: 1_000_000_000_000m); break;
            case "WarnAtPct": org.WarnAt(pct: 1_000_000_000_000m); break;
        }

        var error = Assert.Throws<BudgetConfigurationException>(() => new BudgetGuard(options, Clock()).Dispose());

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    [Test]
    public void AddBudgets_HugeCapInConfiguration_FailsValidationNamingTheSetting()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Cage:Budgets:Nodes:org:Usd"] = "79228162514264337593543950335" })
            .Build();
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false).AddBudgets(configuration.GetSection("Cage:Budgets"));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<BudgetGuard>());

        Assert.That(error!.Message, Does.Contain("Cage:Budgets:Nodes:org:Usd 79228162514264337593543950335 is above the largest supported amount"));
    }

    [TestCase("usd:-1", "Cage:Budgets:Nodes:org/team-a:Usd must be ≥ 0 (got -1)")]
    [TestCase("pct:150", "Cage:Budgets:Nodes:org/team-a:Usd: Pct 150 of the parent is above 100")]
    [TestCase("pct:-5", "Cage:Budgets:Nodes:org/team-a:Usd: Pct must be ≥ 0 (got -5)")]
    [TestCase("sub:-2", "Cage:Budgets:Nodes:org/team-a:Tokens: Pct must be ≥ 0 (got -2)")]
    [TestCase("sub-window:1d", "Cage:Budgets:Nodes:org/team-a:Tokens:Of 'subscription_1d' is not a subscription window")]
    public void FluentLimit_BadValue_IsAConfigurationErrorNamingTheNode(string limit, string expected)
    {
        var (kind, value) = (limit.Split(':')[0], limit.Split(':')[1]);
        var ex = Assert.Throws<BudgetConfigurationException>(() => Guard(Clock(), o =>
        {
            o.Node("org").CapUsd(100m);
            var node = o.Node("org/team-a");
            _ = kind switch
            {
                "usd" => node.CapUsd(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)),
                "pct" => node.CapUsd(BudgetLimit.PercentOfParent(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture))),
                "sub" => node.CapTokens(BudgetLimit.PercentOfSubscription(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture))),
                _ => node.CapTokens(BudgetLimit.PercentOfSubscription(50, value)),
            };
        }));

        Assert.That(ex!.Message, Does.StartWith(expected));
    }
}
