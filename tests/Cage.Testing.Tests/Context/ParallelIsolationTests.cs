using CageNet.Testing.NUnit;
using Microsoft.Extensions.AI;
using CageNet.Extensions.AI;

namespace CageNet.Testing.Tests.Context;

/// <summary>
/// 200 tests run in parallel (the assembly is <c>Parallelizable(ParallelScope.All)</c>), each with its own context, each
/// metering through the static facade and through a <c>UseCage()</c> pipeline while the others do the same. Each sees
/// exactly its own calls: its own route, its own token count, its own number of calls.
/// </summary>
public sealed class ParallelIsolationTests
{
    private static IEnumerable<int> Cases() => Enumerable.Range(1, 200);

    [TestCaseSource(nameof(Cases))]
    public async Task TwoHundredParallelTests_EachSeesOnlyItsOwnCalls(int n)
    {
        using var cage = new CageTestContext();
        var route = $"test-{n}";
        var calls = 1 + (n % 3);
        for (var i = 0; i < calls; i++)
        {
            using var m = Cage.Meter(route);
            await Task.Yield(); // interleave with the other tests' flows
            m.Usage("openai", "gpt-4o-mini", input: n, output: 1);
        }

        // A chat pipeline built without DI resolves the facade too: it must be this test's meter.
        var chat = cage.ChatClient(ScriptedTurn.Reply("ok", input: n, output: 2)).AsBuilder().UseCage().Build();
        await Task.Run(async () => await chat.GetResponseAsync("hi", new ChatOptions { AdditionalProperties = new() { ["cage.route"] = route } }));

        var snapshot = await cage.SnapshotAsync();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Calls.Select(c => c.Route).Distinct(), Is.EqualTo(new[] { route }));
            Assert.That(snapshot.CallCount, Is.EqualTo(calls + 1));
            Assert.That(snapshot.Tokens(TokenBucket.Input), Is.EqualTo((long)n * (calls + 1)));
            Assert.That(cage, Calls.AtMost(calls + 1).And.Calls.AtLeast(calls + 1));
        });
    }
}
