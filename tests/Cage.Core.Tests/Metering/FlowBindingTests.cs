using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Metering;

/// <summary>
/// <see cref="Cage.BindToFlow"/>: a meter bound to an async flow is the facade's instance on that flow and the flows it
/// starts, wins over <see cref="Cage.Use"/>, is invisible to other flows, and is restored on dispose.
/// </summary>
[NonParallelizable] // Cage.Use changes the process-wide instance
public sealed class FlowBindingTests
{
    private static CageMeter NewMeter(InMemoryLedger ledger) =>
        new(ledger, PriceCatalog.BuiltIn, new FakeTimeProvider(new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero)));

    [TearDown]
    public void ResetFacade() => Cage.Use(null);

    [Test]
    public async Task BindToFlow_FacadeUsesTheBoundMeter_OnThisFlowAndItsChildTasks()
    {
        var ledger = new InMemoryLedger();
        await using var meter = NewMeter(ledger);
        using (Cage.BindToFlow(meter))
        {
            Assert.That(Cage.Instance, Is.SameAs(meter));
            await Task.Run(() =>
            {
                using var m = Cage.Meter("child-task");
                m.Usage("openai", "gpt-4o", input: 10, output: 1);
            });
            await Cage.FlushAsync();
        }

        Assert.That(ledger.Calls.Select(c => c.Route), Is.EqualTo(new[] { "child-task" }));
    }

    [Test]
    public async Task BindToFlow_WinsOverUse_AndDisposeRestoresThePreviousInstance()
    {
        await using var configured = NewMeter(new InMemoryLedger());
        await using var bound = NewMeter(new InMemoryLedger());
        Cage.Use(configured);

        var binding = Cage.BindToFlow(bound);
        Assert.That(Cage.Instance, Is.SameAs(bound));
        binding.Dispose();

        Assert.That(Cage.Instance, Is.SameAs(configured));
        Assert.That(Cage.FlowBound, Is.Null);
    }

    [Test]
    public async Task BindToFlow_OtherFlows_NeverSeeTheBoundMeter()
    {
        await using var configured = NewMeter(new InMemoryLedger());
        await using var bound = NewMeter(new InMemoryLedger());
        Cage.Use(configured);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A flow started before the binding does not inherit it.
        var other = Task.Run(async () =>
        {
            await gate.Task;
            return Cage.Instance;
        });

        using (Cage.BindToFlow(bound))
        {
            gate.SetResult();
            Assert.That(await other, Is.SameAs(configured));
        }
    }

    [Test]
    public async Task BindToFlow_NestedBindings_DisposeInOrder_RestoreEachLevel()
    {
        await using var outer = NewMeter(new InMemoryLedger());
        await using var inner = NewMeter(new InMemoryLedger());
        using (Cage.BindToFlow(outer))
        {
            using (Cage.BindToFlow(inner))
            {
                Assert.That(Cage.Instance, Is.SameAs(inner));
            }

            Assert.That(Cage.Instance, Is.SameAs(outer));
        }

        Assert.That(Cage.FlowBound, Is.Null);
    }
}
