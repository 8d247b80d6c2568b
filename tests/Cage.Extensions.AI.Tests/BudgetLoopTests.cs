using System.Text.Json;
using CageNet.Budgets;
using CageNet.Ledger;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Extensions.AI.Tests;

/// <summary>A real FunctionInvokingChatClient loop over a scripted model, with a real budget guard behind UseCage().</summary>
public sealed class BudgetLoopTests
{
    // Every scripted turn bills gpt-4o 1,000 input + 500 output tokens: 1000 × $2.50/1M + 500 × $10/1M = $0.0075.
    private const decimal TurnCost = 0.0075m;
    private const decimal Cap = 0.02m; // crossed by the 3rd turn: 3 × 0.0075 = 0.0225

    private ServiceProvider _services = null!;
    private InMemoryLedger _ledger = null!;

    private static readonly ChatOptions TinyEstimate = new() { MaxOutputTokens = 1 };

    private void Build(Action<CageChatClientOptions>? configure = null, Action<BudgetOptions>? budgets = null)
    {
        _ledger = new InMemoryLedger();
        var services = new ServiceCollection();
        services.AddCage(o => o.Metering.SetAsStaticDefault = false)
            .AddInMemoryLedger(_ledger)
            .AddBudgets(budgets ?? (o => o.Node("org").CapUsd(Cap).Every(BudgetPeriod.Day).Block()));
        _services = services.BuildServiceProvider();
        Configure = configure;
    }

    private Action<CageChatClientOptions>? Configure { get; set; }

    [TearDown]
    public async Task TearDown() => await _services.DisposeAsync();

    private static ScriptedChatClient EndlessToolLoop(int turns) =>
        new([.. Enumerable.Range(1, turns).Select(i => new ScriptedTurn(null, ScriptedTurn.Tokens(1000, 500), ResponseId: $"r{i}", Calls: new FunctionCallContent($"c{i}", "lookup", new Dictionary<string, object?> { ["q"] = $"{i}" })))]);

    private IChatClient Pipeline(IChatClient inner) =>
        inner.AsBuilder().UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 50).UseCage(configure: Configure).Build(_services);

    private static ChatOptions WithTool() => new() { MaxOutputTokens = 1, Tools = [AIFunctionFactory.Create((string q) => $"result for {q}", "lookup")] };

    [Test]
    public async Task ToolLoop_CapCrossed_StopsOnTheNextTurnWithFinishReasonBudgetExceeded()
    {
        Build();
        var inner = EndlessToolLoop(20);

        var response = await Pipeline(inner).GetResponseAsync("go", WithTool());

        await _services.GetRequiredService<ICageMeter>().FlushAsync();
        Assert.Multiple(() =>
        {
            Assert.That(inner.Requests, Has.Count.EqualTo(3), "turns 1-3 were sent (the 3rd crossed the cap); the 4th was refused before it was sent");
            Assert.That(response.FinishReason, Is.EqualTo(CageChatFinishReasons.BudgetExceeded));
            Assert.That(response.FinishReason?.Value, Is.EqualTo("budget_exceeded"));
            Assert.That(response.Text, Does.Contain("org"), "the message says which budget");
            Assert.That(_ledger.Calls, Has.Count.EqualTo(3));
            Assert.That(_ledger.TotalCostUsd, Is.EqualTo(3 * TurnCost));
        });
    }

    [Test]
    public async Task ChatOptionsLabel_RoutesTheLoopToItsTeamsNode()
    {
        Build(budgets: o =>
        {
            o.Route("org/{team}");
            o.Node("org").CapUsd(1m).Block();
            o.Node("org/team-a").CapUsd(Cap).Block();
            o.Node("org/team-b").CapUsd(1m).Block();
        });
        var inner = EndlessToolLoop(20);
        var options = WithTool();
        options.AdditionalProperties = new() { [CageChatProperties.LabelPrefix + "team"] = "team-a" };

        var response = await Pipeline(inner).GetResponseAsync("go", options);

        await _services.GetRequiredService<ICageMeter>().FlushAsync();
        var guard = _services.GetRequiredService<BudgetGuard>();
        Assert.Multiple(() =>
        {
            Assert.That(response.AdditionalProperties!["budget_node"], Is.EqualTo("org/team-a"), "team-a's own cap stopped the loop");
            Assert.That(inner.Requests, Has.Count.EqualTo(3));
            Assert.That(guard.GetStatus("org/team-a").Nodes[^1].Usd.Spent, Is.EqualTo(3 * TurnCost));
            Assert.That(guard.GetStatus("org/team-b").Nodes[^1].Usd.Spent, Is.Zero);
            Assert.That(_ledger.Calls.Select(c => c.Tags?["team"]), Is.All.EqualTo("team-a"));
        });
    }

    [Test]
    public async Task ToolLoop_Refusal_CarriesNodeSpentCapAndReset()
    {
        Build();
        var inner = EndlessToolLoop(20);

        var response = await Pipeline(inner).GetResponseAsync("go", WithTool());

        var props = response.AdditionalProperties!;
        Assert.Multiple(() =>
        {
            Assert.That(props["stop_reason"], Is.EqualTo("budget_exceeded"));
            Assert.That(props["budget_node"], Is.EqualTo("org"));
            Assert.That(props["budget_spent"], Is.EqualTo(3 * TurnCost));
            Assert.That(props["budget_cap"], Is.EqualTo(Cap));
            Assert.That(props["budget_resets_at"], Is.InstanceOf<DateTimeOffset>());
        });
    }

    [Test]
    public async Task StreamingToolLoop_CapCrossed_StopsWithinOneTurn()
    {
        Build();
        var inner = EndlessToolLoop(20);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in Pipeline(inner).GetStreamingResponseAsync("go", WithTool()))
        {
            updates.Add(update);
        }

        Assert.Multiple(() =>
        {
            Assert.That(inner.Requests, Has.Count.EqualTo(3));
            Assert.That(updates.Last(u => u.FinishReason is not null).FinishReason, Is.EqualTo(CageChatFinishReasons.BudgetExceeded));
        });
    }

    [Test]
    public void ToolLoop_ThrowOption_ThrowsBudgetExceededWithTheRefusal()
    {
        Build(o => o.ThrowOnBudgetExceeded = true);
        var inner = EndlessToolLoop(20);

        var ex = Assert.ThrowsAsync<BudgetExceededException>(() => Pipeline(inner).GetResponseAsync("go", WithTool()));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.StopReason, Is.EqualTo("budget_exceeded"));
            Assert.That(ex.Refusal.Node, Is.EqualTo("org"));
            Assert.That(ex.Refusal.Cap, Is.EqualTo(Cap));
            Assert.That(inner.Requests, Has.Count.EqualTo(3));
        });
    }

    [Test]
    public async Task GetMyBudgetStatus_CalledByTheModel_ReturnsSpentCapAndRemaining()
    {
        Build();
        var guard = _services.GetRequiredService<BudgetGuard>();
        var inner = new ScriptedChatClient(
            new ScriptedTurn(null, ScriptedTurn.Tokens(1000, 500), Calls: new FunctionCallContent("s1", CageChatTools.BudgetStatusToolName)),
            new ScriptedTurn("pacing myself", ScriptedTurn.Tokens(1000, 500)));
        var options = new ChatOptions { MaxOutputTokens = 1, Tools = [CageChatTools.CreateBudgetStatusFunction(guard)] };

        var response = await Pipeline(inner).GetResponseAsync("go", options);

        var result = inner.Requests[1].SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(result.Result));
        var org = json.RootElement.GetProperty("budgets").EnumerateArray().Single(n => n.GetProperty("node").GetString() == "org");
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("pacing myself"));
            Assert.That(org.GetProperty("spent_usd").GetDecimal(), Is.EqualTo(TurnCost), "the first turn was billed before the tool ran");
            Assert.That(org.GetProperty("cap_usd").GetDecimal(), Is.EqualTo(Cap));
            Assert.That(org.GetProperty("remaining_usd").GetDecimal(), Is.EqualTo(Cap - TurnCost));
            Assert.That(org.GetProperty("resets_at").GetString(), Does.EndWith("Z"));
            Assert.That((org.GetProperty("period").GetString(), org.GetProperty("on_exceed").GetString()), Is.EqualTo(("day", "block")));
            Assert.That(json.RootElement.GetProperty("can_proceed").GetBoolean(), Is.True);
        });
    }

    [Test]
    public async Task GetMyBudgetStatus_FiveHourWindow_PeriodIsSpelledAsInThePolicy()
    {
        Build(budgets: o => o.Node("org").CapUsd(Cap).Every(BudgetPeriod.FiveHours));
        var guard = _services.GetRequiredService<BudgetGuard>();
        var inner = new ScriptedChatClient(
            new ScriptedTurn(null, ScriptedTurn.Tokens(1000, 500), Calls: new FunctionCallContent("s1", CageChatTools.BudgetStatusToolName)),
            new ScriptedTurn("ok", ScriptedTurn.Tokens(1000, 500)));
        var options = new ChatOptions { MaxOutputTokens = 1, Tools = [CageChatTools.CreateBudgetStatusFunction(guard)] };

        await Pipeline(inner).GetResponseAsync("go", options);

        var result = inner.Requests[1].SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(result.Result));
        var org = json.RootElement.GetProperty("budgets").EnumerateArray().Single(n => n.GetProperty("node").GetString() == "org");
        Assert.That((org.GetProperty("period").GetString(), org.GetProperty("on_exceed").GetString()), Is.EqualTo(("5h", "warn")));
    }

    [Test]
    public async Task GetMyBudgetStatus_UserGivenInChatOptions_ReportsThatUsersNode()
    {
        Build(budgets: o =>
        {
            o.Node("org").CapUsd(Cap).Every(BudgetPeriod.Day).Block();
            o.Node("org/{user}").CapUsd(0.01m).Every(BudgetPeriod.Day).Block();
        });
        var guard = _services.GetRequiredService<BudgetGuard>();
        var inner = new ScriptedChatClient(
            new ScriptedTurn(null, ScriptedTurn.Tokens(1000, 500), Calls: new FunctionCallContent("s1", CageChatTools.BudgetStatusToolName)),
            new ScriptedTurn("pacing myself", ScriptedTurn.Tokens(1000, 500)));
        var options = new ChatOptions
        {
            MaxOutputTokens = 1,
            Tools = [CageChatTools.CreateBudgetStatusFunction(guard)],
            AdditionalProperties = new() { [CageChatProperties.User] = "alice" },
        };

        await Pipeline(inner).GetResponseAsync("go", options);

        var result = inner.Requests[1].SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(result.Result));
        var nodes = json.RootElement.GetProperty("budgets").EnumerateArray().ToDictionary(n => n.GetProperty("node").GetString()!);
        Assert.That(nodes.Keys, Is.EquivalentTo(new[] { "org", "org/alice" }), "the user of the request's options, not the (empty) ambient scope");
        Assert.Multiple(() =>
        {
            Assert.That(nodes["org/alice"].GetProperty("spent_usd").GetDecimal(), Is.EqualTo(TurnCost), "alice's first turn");
            Assert.That(nodes["org/alice"].GetProperty("remaining_usd").GetDecimal(), Is.EqualTo(0.0025m));
        });
    }

    [Test]
    public async Task GetMyBudgetStatus_NoLabelsInChatOptions_FallsBackToTheAmbientScope()
    {
        Build(budgets: o => o.Node("org/{user}").CapUsd(0.01m).Every(BudgetPeriod.Day).Block());
        var guard = _services.GetRequiredService<BudgetGuard>();
        var inner = new ScriptedChatClient(
            new ScriptedTurn(null, ScriptedTurn.Tokens(1000, 500), Calls: new FunctionCallContent("s1", CageChatTools.BudgetStatusToolName)),
            new ScriptedTurn("ok", ScriptedTurn.Tokens(1000, 500)));
        var options = new ChatOptions { MaxOutputTokens = 1, Tools = [CageChatTools.CreateBudgetStatusFunction(guard)] };

        using (_services.GetRequiredService<ICageMeter>().Meter("agent", user: "bob"))
        {
            await Pipeline(inner).GetResponseAsync("go", options);
        }

        var result = inner.Requests[1].SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(result.Result));
        var node = json.RootElement.GetProperty("budgets").EnumerateArray().Single();
        Assert.Multiple(() =>
        {
            Assert.That(node.GetProperty("node").GetString(), Is.EqualTo("org/bob"));
            Assert.That(node.GetProperty("spent_usd").GetDecimal(), Is.EqualTo(TurnCost));
        });
    }
}
