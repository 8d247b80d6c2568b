using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing.Tests.Context;

/// <summary><c>services.AddCageTestContext(cage)</c>: the test's instances win over <c>AddCage()</c>, registered before or after.</summary>
public sealed class AddCageTestContextTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void Services_ResolveTheTestsMeterLedgerClockPricesAndGuard_WhateverOrderAddCageCameIn(bool addCageFirst)
    {
        using var cage = new CageTestContext(o => o.Budgets(b => b.Node("org").CapUsd(1m)));
        var services = new ServiceCollection();
        if (addCageFirst)
        {
            services.AddCage().AddInMemoryLedger();
        }

        services.AddCageTestContext(cage);
        if (!addCageFirst)
        {
            services.AddCage();
        }

        using var provider = services.BuildServiceProvider();
        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredService<ICageMeter>(), Is.SameAs(cage.Meter));
            Assert.That(provider.GetRequiredService<ILedgerReader>(), Is.SameAs(cage.Ledger));
            Assert.That(provider.GetRequiredService<ILedgerSink>(), Is.SameAs(cage.Ledger));
            Assert.That(provider.GetRequiredService<InMemoryLedger>(), Is.SameAs(cage.Ledger));
            Assert.That(provider.GetRequiredService<TimeProvider>(), Is.SameAs(cage.Clock));
            Assert.That(provider.GetRequiredService<FakeTimeProvider>(), Is.SameAs(cage.Clock));
            Assert.That(provider.GetRequiredService<PriceCatalog>(), Is.SameAs(cage.Prices));
            Assert.That(provider.GetRequiredService<BudgetGuard>(), Is.SameAs(cage.Budget));
            Assert.That(provider.GetRequiredService<CageTestContext>(), Is.SameAs(cage));
        });
    }

    [Test]
    public void DisposingTheProvider_LeavesTheContextUsable()
    {
        using var cage = new CageTestContext();
        using (var provider = new ServiceCollection().AddCageTestContext(cage).BuildServiceProvider())
        {
            using var m = provider.GetRequiredService<ICageMeter>().Meter("r");
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        using (var m = Cage.Meter("after"))
        {
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        Assert.That(cage.CallsByRoute.Keys, Is.EquivalentTo(new[] { "r", "after" }));
    }
}
