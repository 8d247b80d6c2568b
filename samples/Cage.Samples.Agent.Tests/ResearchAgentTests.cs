using CageNet.Extensions.AI;
using CageNet.Testing;
using CageNet.Testing.NUnit;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageSamples.AgentTests;

/// <summary>
/// What the research agent costs, asserted like any other behavior: a cost ceiling, a committed cost baseline, a budget
/// cap that stops a runaway tool loop, and parallel tests that each see only their own calls. The model is scripted
/// (<see cref="ScriptedChatClient"/>): no network, no key, the real Microsoft.Extensions.AI and Cage middleware.
/// </summary>
public sealed class ResearchAgentTests
{
    /// <summary>The model's script for one question: search once, then answer. Input grows with the prompt, as a real model's does.</summary>
    private static ScriptedTurn[] SearchThenAnswer() =>
    [
        ScriptedTurn.CallTool("search", new Dictionary<string, object?> { ["query"] = "what does Cage do" }, input: 0, output: 40) with { InputFromRequest = true },
        ScriptedTurn.Reply("Cage meters every LLM call and prices it exactly [Cage for .NET README].", input: 0, output: 60) with { InputFromRequest = true },
    ];

    /// <summary>The agent wired as the app wires it: a DI container with the test's Cage, and the chat pipeline over the scripted model.</summary>
    private static ResearchAgent Agent(CageTestContext cage, ScriptedChatClient model, string? systemPrompt = null)
    {
        var services = new ServiceCollection().AddCageTestContext(cage);
        services.AddChatClient(model).UseFunctionInvocation().UseCage();
        return new ResearchAgent(services.BuildServiceProvider().GetRequiredService<IChatClient>(), systemPrompt);
    }

    [Test]
    public async Task Ask_StaysUnderItsCostCeiling()
    {
        using var cage = new CageTestContext();
        var agent = Agent(cage, cage.ChatClient(SearchThenAnswer()));

        var answer = await agent.AskAsync("What does Cage do?");

        Assert.That(answer.Text, Does.Contain("[Cage for .NET README]"));
        Assert.That(cage, Spent.AtMost(0.02m).And.Calls.AtMost(3));
        Assert.That(cage, Has.No.UnpricedCalls);
        Assert.That(cage, Calls.To("gpt-4o").On("research").Exactly(2));
    }

    [Test]
    public async Task Ask_MatchesItsCostBaseline()
    {
        // baselines/research-agent-answers.json is committed beside this file. A prompt change that costs more fails
        // here with a diff; if it is intended, re-run with CAGE_UPDATE_BASELINES=1 and commit the new file.
        using var cage = new CageTestContext();
        var agent = Agent(cage, cage.ChatClient(SearchThenAnswer()));

        await agent.AskAsync("What does Cage do?");

        Assert.That(cage, Cost.MatchesBaseline("research-agent-answers"));
    }

    [Test]
    public async Task Ask_WithAPromptTwiceAsLong_WouldFailTheBaselineWithADiff()
    {
        // What a reviewer sees when a prompt change doubles the tokens: the same check as above, its verdict read here.
        using var cage = new CageTestContext();
        var agent = Agent(cage, cage.ChatClient(SearchThenAnswer()), ResearchAgent.DefaultSystemPrompt + " " + ResearchAgent.DefaultSystemPrompt);

        await agent.AskAsync("What does Cage do?");
        var verdict = CostBaseline.Check(cage.Snapshot(), CostBaseline.PathFor("research-agent-answers", ThisFile()), new CostBaselineOptions { Update = false });

        Assert.That(verdict.Passed, Is.False);
        Assert.That(verdict.Message, Does.StartWith("cost baseline 'research-agent-answers' regressed beyond its 5% tolerance (cost, prompt tokens)"));
        Assert.That(verdict.Message, Does.Contain("REGRESSED").And.Contain("the calls of this run:").And.Contain("research  openai/gpt-4o"));
        TestContext.Out.WriteLine(verdict.Message);
    }

    private static string ThisFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    [Test]
    public async Task Ask_ARunawayToolLoop_IsStoppedByTheBudgetCap()
    {
        // A model that never stops calling the search tool; the budget refuses the turn after the cap is crossed.
        using var cage = new CageTestContext(o => o.Budgets(b => b.Node("research").CapUsd(0.01m).Block()));
        var looping = new ScriptedChatClient(ScriptedTurn.CallTool("search", new Dictionary<string, object?> { ["query"] = "more" }, input: 1_000, output: 200))
        {
            RepeatLast = true,
            Clock = cage.Clock,
        };
        var services = new ServiceCollection().AddCageTestContext(cage);
        services.AddChatClient(looping).UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 100).UseCage();
        var agent = new ResearchAgent(services.BuildServiceProvider().GetRequiredService<IChatClient>());

        var answer = await agent.AskAsync("Tell me everything.");

        Assert.That(answer.StoppedByBudget, Is.True);
        Assert.That(cage, Has.BudgetRefusals);
        Assert.That(cage, Calls.AtMost(3), "gpt-4o 1,000 in / 200 out is $0.0045 a turn: the 3rd crosses $0.01, the 4th is refused");
        Assert.That(cage.BudgetEvents[^1].Message, Does.StartWith("budget 'research' is exhausted"));
    }

    private static IEnumerable<int> Questions() => Enumerable.Range(1, 20);

    [TestCaseSource(nameof(Questions))]
    public async Task Ask_InParallel_EachTestSeesOnlyItsOwnCalls(int n)
    {
        using var cage = new CageTestContext();
        var agent = Agent(cage, cage.ChatClient(SearchThenAnswer()));

        for (var i = 0; i < n % 3 + 1; i++)
        {
            // Also code that meters through the static facade: bound to this test's context only.
            using var m = CageNet.Cage.Meter("pre-processing");
            m.Usage("openai", "gpt-4o-mini", input: n, output: 1);
        }

        await agent.AskAsync($"Question {n}?");

        Assert.That(cage, Calls.On("research").Exactly(2).And.Calls.On("pre-processing").Exactly(n % 3 + 1));
        Assert.That(cage.Snapshot().CallsTo("gpt-4o-mini").Sum(c => c.Usage.Input), Is.EqualTo(n * (n % 3 + 1)));
    }
}
