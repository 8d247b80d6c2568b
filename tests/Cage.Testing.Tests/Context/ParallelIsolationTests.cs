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
    private static int s_inFlight;
    private static int s_mostInFlight;

    private static IEnumerable<int> Cases() => Enumerable.Range(1, 200);

    /// <summary>The proof is only a proof if the tests overlapped: some of them were in flight at the same time.</summary>
    [OneTimeTearDown]
    public static void TheTestsOverlapped() =>
        Assert.That(Volatile.Read(ref s_mostInFlight), Is.GreaterThan(1), "the 200 tests never ran concurrently");

    [TestCaseSource(nameof(Cases))]
    public async Task TwoHundredParallelTests_EachSeesOnlyItsOwnCalls(int n)
    {
        var inFlight = Interlocked.Increment(ref s_inFlight);
        for (var most = Volatile.Read(ref s_mostInFlight); inFlight > most && Interlocked.CompareExchange(ref s_mostInFlight, inFlight, most) != most; most = Volatile.Read(ref s_mostInFlight))
        {
        }

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

        await Task.Delay(1);
        var snapshot = await cage.SnapshotAsync();
        Interlocked.Decrement(ref s_inFlight);
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Calls.Select(c => c.Route).Distinct(), Is.EqualTo(new[] { route }));
            Assert.That(snapshot.CallCount, Is.EqualTo(calls + 1));
            Assert.That(snapshot.Tokens(TokenBucket.Input), Is.EqualTo((long)n * (calls + 1)));
            Assert.That(cage, Calls.AtMost(calls + 1).And.Calls.AtLeast(calls + 1));
        });
    }

    /// <summary>
    /// The same inside one test, where the overlap is certain: 200 flows on the thread pool, all started before any
    /// finishes (a barrier), each with its own context, metering through the facade at the same time.
    /// </summary>
    [Test]
    public async Task TwoHundredConcurrentFlows_EachSeesOnlyItsOwnCalls()
    {
        using var barrier = new Barrier(8);
        // The first 8 start on threads of their own (they block on the barrier, which must not starve the pool).
        var flows = Enumerable.Range(1, 200).Select(n => Task.Factory.StartNew(async () =>
        {
            await using var cage = new CageTestContext();
            if (n <= 8)
            {
                barrier.SignalAndWait(TimeSpan.FromSeconds(30)); // the first 8 are certainly in flight together
            }

            for (var i = 0; i < n % 4 + 1; i++)
            {
                using var m = Cage.Meter($"flow-{n}");
                await Task.Yield();
                m.Usage("openai", "gpt-4o-mini", input: n, output: 1);
            }

            var s = await cage.SnapshotAsync();
            return (n, Routes: s.CallsByRoute, Input: s.Tokens(TokenBucket.Input));
        }, CancellationToken.None, n <= 8 ? TaskCreationOptions.LongRunning : TaskCreationOptions.None, TaskScheduler.Default).Unwrap()).ToList();

        var results = await Task.WhenAll(flows);

        Assert.Multiple(() =>
        {
            foreach (var (n, routes, input) in results)
            {
                Assert.That(routes, Is.EquivalentTo(new Dictionary<string, int> { [$"flow-{n}"] = n % 4 + 1 }), $"flow {n}");
                Assert.That(input, Is.EqualTo((long)n * (n % 4 + 1)), $"flow {n}");
            }
        });
    }
}
