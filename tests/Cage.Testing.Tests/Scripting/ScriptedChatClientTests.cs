using CageNet.Extensions.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CageNet.Testing.Tests.Scripting;

/// <summary>The scripted chat client under the real <c>UseCage()</c> and <c>UseFunctionInvocation()</c> middleware.</summary>
public sealed class ScriptedChatClientTests
{
    private static ChatOptions Tool(Func<string, string> lookup) =>
        new() { MaxOutputTokens = 1, Tools = [AIFunctionFactory.Create(lookup, "lookup")] };

    [Test]
    public async Task GetResponse_UnderUseCage_IsMeteredWithTheGivenUsageAndServedModel()
    {
        using var cage = new CageTestContext();
        var inner = cage.ChatClient(new ScriptedTurn
        {
            Text = "hello",
            Usage = new TokenUsage(Input: 1_000, CacheRead: 4_000, CacheWrite5m: 200, Output: 300, Reasoning: 100),
            Model = "gpt-4o-2024-08-06",
            Latency = TimeSpan.FromMilliseconds(750),
        });
        var chat = inner.AsBuilder().UseCage().Build();

        var response = await chat.GetResponseAsync("hi", new ChatOptions { ModelId = "gpt-4o" });

        var call = cage.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("hello"));
            Assert.That(response.ModelId, Is.EqualTo("gpt-4o-2024-08-06"));
            Assert.That(response.Usage!.InputTokenCount, Is.EqualTo(5_200), "M.E.AI's input count includes cached tokens");
            Assert.That(call.Provider, Is.EqualTo("openai"));
            Assert.That(call.Model, Is.EqualTo("gpt-4o-2024-08-06"), "credited to the served model");
            Assert.That(call.Usage, Is.EqualTo(new TokenUsage(1_000, 4_000, 200, 0, 300, 100)));
            Assert.That(call.LatencyMs, Is.EqualTo(750), "the turn advanced the test's clock");
            Assert.That(call.CostUsd, Is.GreaterThan(0m));
            Assert.That(inner.Requests.Single().Single().Text, Is.EqualTo("hi"));
        });
    }

    [Test]
    public async Task Streaming_UnderUseCage_EndsWithUsageContent_AndIsMeteredOnce()
    {
        using var cage = new CageTestContext();
        var inner = cage.ChatClient(ScriptedTurn.Reply("one two three", input: 120, output: 30, model: "claude-sonnet-4-6"));
        var chat = inner.AsBuilder().UseCage(configure: o => o.Provider = "anthropic").Build();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("hi"))
        {
            updates.Add(update);
        }

        var call = cage.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo("one two three"));
            Assert.That(updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount, Is.EqualTo(30));
            Assert.That((call.Provider, call.Model, call.Usage.Input, call.Usage.Output), Is.EqualTo(("anthropic", "claude-sonnet-4-6", 120L, 30L)));
        });
    }

    [Test]
    public async Task NoUsage_IsRecordedAsMissingUsage_NeverAsAFreeCall()
    {
        using var cage = new CageTestContext();
        var chat = cage.ChatClient(new ScriptedTurn { Text = "?" }).AsBuilder().UseCage().Build();

        await chat.GetResponseAsync("hi");

        var s = cage.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(s.Calls.Single().UsageStatus, Is.EqualTo(UsageStatus.Missing));
            Assert.That(s.Calls.Single().CostUsd, Is.Null);
            Assert.That(s.IsLowerBound, Is.True);
        });
    }

    [Test]
    public async Task ToolLoop_WithABudgetCap_StopsTheLoop_AndTheRefusalIsABudgetEvent()
    {
        // Each turn bills gpt-4o 1,000 in + 500 out = $0.0075; the 3rd crosses the $0.02 cap, the 4th is refused.
        using var cage = new CageTestContext(o => o.Budgets(b => b.Node("org").CapUsd(0.02m).WarnAt(pct: 50).Block()));
        var services = new ServiceCollection().AddCageTestContext(cage).BuildServiceProvider();
        var looping = new ScriptedChatClient(ScriptedTurn.CallTool("lookup", new Dictionary<string, object?> { ["q"] = "x" }, input: 1_000, output: 500, model: "gpt-4o")) { RepeatLast = true, Clock = cage.Clock };
        var chat = looping.AsBuilder().UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 50).UseCage().Build(services);

        var response = await chat.GetResponseAsync("go", Tool(q => $"result {q}"));

        var s = cage.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(CageChatFinishReasons.BudgetExceeded));
            Assert.That(looping.TurnsPlayed, Is.EqualTo(3));
            Assert.That(s.CallCount, Is.EqualTo(3));
            Assert.That(s.Spent, Is.EqualTo(0.0225m));
            Assert.That(s.BudgetRefusals.Select(e => e.Node), Is.EqualTo(new[] { "org" }));
            Assert.That(s.BudgetRefusals.Single().Message, Does.StartWith("budget 'org' is exhausted"));
            Assert.That(s.BudgetWarnings.Select(e => e.Message), Has.Exactly(1).StartsWith("budget 'org' crossed 50%"), string.Join("\n", s.BudgetEvents));
            Assert.That(s.BudgetEvents[^1].Kind, Is.EqualTo(BudgetEventKind.Refusal), "the refusal comes last");
        });
    }

    [Test]
    public async Task InputFromRequest_ALongerPromptReportsMoreInput()
    {
        using var cage = new CageTestContext();
        var turn = ScriptedTurn.Reply("ok", input: 10, output: 5) with { InputFromRequest = true };
        var chat = cage.ChatClient(turn, turn).AsBuilder().UseCage().Build();

        await chat.GetResponseAsync(new string('x', 400));
        await chat.GetResponseAsync(new string('x', 800));

        Assert.That(cage.Calls.Select(c => c.Usage.Input), Is.EqualTo(new[] { 110L, 210L }), "10 given + 1 token per 4 characters");
    }

    [Test]
    public void ExhaustedScript_Throws_NamingTheFake()
    {
        var chat = new ScriptedChatClient(ScriptedTurn.Reply("only", 1, 1));
        chat.GetResponseAsync("1").GetAwaiter().GetResult();

        var ex = Assert.ThrowsAsync<InvalidOperationException>(() => chat.GetResponseAsync("2"));

        Assert.That(ex!.Message, Does.Contain("ScriptedChatClient: the script has no more turns (it had 1, all played)"));
    }

    [Test]
    public async Task GetService_ReportsMetadata_WithTheProviderAndDefaultModel()
    {
        using var chat = new ScriptedChatClient(ScriptedTurn.Reply("x", 1, 1)) { Provider = "acme", DefaultModel = "house" };

        var meta = chat.GetService<ChatClientMetadata>();
        var response = await chat.GetResponseAsync("hi");

        Assert.Multiple(() =>
        {
            Assert.That((meta!.ProviderName, meta.DefaultModelId), Is.EqualTo(("acme", "house")));
            Assert.That(response.ModelId, Is.EqualTo("house"));
            Assert.That(response.ResponseId, Does.StartWith("chatcmpl-"));
        });
    }
}
