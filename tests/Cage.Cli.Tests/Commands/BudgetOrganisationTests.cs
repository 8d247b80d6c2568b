using System.Text.RegularExpressions;
using CageNet.Ledger;
using CageNet.TestFixtures;

namespace CageNet.Cli.Tests.Commands;

/// <summary>
/// Issue 16: docs/budgets.md's worked organisation (two teams, agents, sessions) configured in .cage/cage.json and in
/// appsettings.json, over a real ledger file: <c>cage budget</c> prints exactly the output the doc shows.
/// </summary>
[TestFixture]
public sealed partial class BudgetOrganisationTests
{
    private static string Block(string name)
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryFixtures.Repository, "docs", "budgets.md")).ReplaceLineEndings("\n");
        var match = Regex.Match(doc, $"<!-- budget-example: {Regex.Escape(name)} -->\n```[a-z]+\n(.*?)```", RegexOptions.Singleline);
        Assert.That(match.Success, Is.True, $"docs/budgets.md has no '<!-- budget-example: {name} -->' block");
        return match.Groups[1].Value;
    }

    private static async Task<CliHarness> OrganisationAsync()
    {
        var cli = new CliHarness();
        await cli.RunAsync("init");
        await File.WriteAllTextAsync(cli.PolicyPath, Block("cage.json"));
        await File.WriteAllTextAsync(cli.PathOf("appsettings.json"), Block("appsettings.json"));
        var at = CliHarness.FixtureNow.AddDays(-2);
        CallRecord Call(string id, string agent, string? session, decimal cost, string? team = null) => new()
        {
            Id = id, Timestamp = at = at.AddMinutes(30), Agent = agent, Session = session, CostUsd = cost, CostSource = CostSource.Provider,
            Usage = new TokenUsage(Input: 1000, Output: 100), Tags = team is null ? null : new Dictionary<string, string> { ["team"] = team },
        };
        await using var ledger = SqliteLedger.Open(cli.LedgerPath);
        await ledger.AppendAsync(new LedgerBatch(
        [
            Call("c_1", "agent-x", "session-42", 1.25m),
            Call("c_2", "agent-x", "session-42", 0.75m),
            Call("c_3", "agent-y", "session-7", 0.50m),
            Call("c_4", "agent-z", "session-9", 1.50m, team: "team-b"),
            Call("c_5", "agent-q", null, 0.20m),
        ], []));
        return cli;
    }

    [Test]
    public async Task Budget_Organisation_PrintsTheTreeTheDocShows_FromThePolicyAndFromAppSettings()
    {
        using var cli = await OrganisationAsync();

        var policy = await cli.RunAsync("budget");
        var appsettings = await cli.RunAsync("budget", "--config", "appsettings.json");

        Assert.That(policy.ExitCode, Is.EqualTo(0), policy.Err);
        Assert.That(policy.Out, Is.EqualTo(Block("output")));
        Assert.That(appsettings.Out, Is.EqualTo(policy.Out));
    }

    [Test]
    public async Task Budget_Organisation_Json_NestsTheTreeWithBoundLabels_AndTeamBNeverTouchesTeamA()
    {
        using var cli = await OrganisationAsync();

        var json = (await cli.RunAsync("budget", "--json")).Json();
        var bound = (await cli.RunAsync("budget", "--agent", "agent-x", "--session", "session-42", "--json")).Json();
        var teamB = (await cli.RunAsync("budget", "--label", "team=team-b", "--agent", "agent-z", "--session", "session-9", "--json")).Json();
        var bad = await cli.RunAsync("budget", "--label", "team");

        var scopes = json.GetProperty("scopes");
        Assert.That(scopes.GetProperty("org").GetProperty("spent").GetDecimal(), Is.EqualTo(4.20m));
        Assert.That(scopes.GetProperty("org/team-a").GetProperty("spent").GetDecimal(), Is.EqualTo(2.50m));
        Assert.That(scopes.GetProperty("org/team-b").GetProperty("spent").GetDecimal(), Is.EqualTo(1.50m), "team-b's call is in team-b only");
        Assert.That(scopes.GetProperty("org/team-a").GetProperty("cap").GetDecimal(), Is.EqualTo(40m));
        Assert.That(scopes.GetProperty("org/team-b").GetProperty("cap").GetDecimal(), Is.EqualTo(60m));
        var org = json.GetProperty("tree")[0];
        Assert.That(org.GetProperty("path").GetString(), Is.EqualTo("org"));
        var teamA = org.GetProperty("children").EnumerateArray().Single(c => c.GetProperty("path").GetString() == "org/team-a");
        var session = teamA.GetProperty("children").EnumerateArray().Single(c => c.GetProperty("path").GetString() == "org/team-a/agent-x")
            .GetProperty("children")[0];
        Assert.That(session.GetProperty("path").GetString(), Is.EqualTo("org/team-a/agent-x/session-42"));
        Assert.That(session.GetProperty("template").GetString(), Is.EqualTo("org/{team}/{agent}/{session}"));
        Assert.That(session.GetProperty("labels").EnumerateObject().Select(p => (p.Name, p.Value.GetString())),
            Is.EqualTo(new[] { ("team", (string?)"team-a"), ("agent", "agent-x"), ("session", "session-42") }));
        Assert.That(bound.GetProperty("proceed").GetBoolean(), Is.False, "agent-x's session-42 spent its $2");
        Assert.That(teamB.GetProperty("proceed").GetBoolean(), Is.True, "team-b's session is not session-42");
        Assert.That(bad.ExitCode, Is.EqualTo(2));
        Assert.That(bad.Err, Does.Contain("--label 'team' is not NAME=VALUE"));
    }
}
