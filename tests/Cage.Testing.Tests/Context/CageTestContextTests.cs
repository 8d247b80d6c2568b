using CageNet.Ledger;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing.Tests.Context;

public sealed class CageTestContextTests
{
    [Test]
    public void StaticFacade_InsideTheContext_MetersIntoTheTestsLedger()
    {
        using var cage = new CageTestContext();

        using (var m = Cage.Meter("code-edit", task: "fix-bug"))
        {
            m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Cage.Instance, Is.SameAs(cage.Meter));
            Assert.That(cage.Calls.Single().Task, Is.EqualTo("fix-bug"));
            Assert.That(cage.Spent, Is.EqualTo(0.0483m), "the worked example: 8,600 × $3/1M + 1,500 × $15/1M");
            Assert.That(cage.Ledger.Calls, Has.Count.EqualTo(1));
        });
    }

    [Test]
    public void Dispose_UnbindsTheFacade_AndKeepsTheLedgerReadable()
    {
        var before = Cage.Instance;
        var cage = new CageTestContext();
        using (var m = Cage.Meter("r"))
        {
            m.Usage("openai", "gpt-4o", input: 100, output: 10);
        }

        cage.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(Cage.Instance, Is.Not.SameAs(cage.Meter));
            Assert.That(Cage.Instance, Is.SameAs(before));
            Assert.That(cage.Ledger.Calls, Has.Count.EqualTo(1), "disposing drains the meter into the ledger");
            Assert.That(cage.Calls, Has.Count.EqualTo(1), "queries still work after dispose");
        });
    }

    [Test]
    public async Task DisposeAsync_UnbindsTheFacadeOnTheCallersFlow()
    {
        var cage = new CageTestContext();
        Assert.That(Cage.Instance, Is.SameAs(cage.Meter));

        await cage.DisposeAsync();

        Assert.That(Cage.Instance, Is.Not.SameAs(cage.Meter));
    }

    [Test]
    public void BindStaticFacadeOff_LeavesTheFacadeAlone()
    {
        var before = Cage.Instance;
        using var cage = new CageTestContext(o => o.BindStaticFacade = false);

        Assert.That(Cage.Instance, Is.SameAs(before));
    }

    [Test]
    public void FixedPrices_OverTheEmptyCatalog_PriceOnlyTheFixedModels()
    {
        using var cage = new CageTestContext(o =>
        {
            o.Prices = CageNet.Pricing.PriceCatalog.Empty;
            o.Price("house-model", input: 1m, output: 2m).Price("acme/other", input: 10m, output: 20m);
        });

        using (var m = cage.Meter.Meter("r"))
        {
            m.Usage("acme", "house-model-2026-01-01", input: 1_000_000, output: 500_000); // a dated name matches the key
        }

        using (var m = cage.Meter.Meter("r"))
        {
            m.Usage("acme", "other", input: 1_000, output: 1_000);
        }

        using (var m = cage.Meter.Meter("r"))
        {
            m.Usage("openai", "gpt-4o", input: 100, output: 10); // not fixed, and the catalog is empty
        }

        var snapshot = cage.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Calls.Select(c => c.CostUsd), Is.EqualTo(new decimal?[] { 2m, 0.03m, null }));
            Assert.That(snapshot.Spent, Is.EqualTo(2.03m));
            Assert.That(snapshot.UnpricedCalls, Is.EqualTo(1));
            Assert.That(snapshot.IsLowerBound, Is.True);
        });
    }

    [Test]
    public void FixedPrice_OverTheBuiltInCatalog_ReplacesThatModelOnly()
    {
        using var cage = new CageTestContext(o => o.Price("gpt-4o", input: 1m, output: 1m));

        using (var m = Cage.Meter("r"))
        {
            m.Usage("openai", "gpt-4o", input: 1_000_000, output: 0);
            m.Usage("anthropic", "claude-opus-4-8", input: 1_000_000, output: 0); // a fallback attempt, built-in price
        }

        Assert.That(cage.Calls.Select(c => c.CostUsd), Is.EqualTo(new decimal?[] { 1m, 3m }));
    }

    [Test]
    public void Clock_StartsAtTheGivenInstant_AndTimesTheCalls()
    {
        var start = new DateTimeOffset(2026, 6, 20, 10, 0, 0, TimeSpan.Zero);
        using var cage = new CageTestContext(o => o.Start = start);

        using (var m = Cage.Meter("r"))
        {
            cage.Clock.Advance(TimeSpan.FromMilliseconds(1500));
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        var call = cage.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(cage.Clock, Is.InstanceOf<FakeTimeProvider>());
            Assert.That(call.Timestamp, Is.EqualTo(start));
            Assert.That(call.LatencyMs, Is.EqualTo(1500));
        });
    }

    [Test]
    public void Queries_TokensByBucket_CallsByModelAndRoute_Receipts()
    {
        using var cage = new CageTestContext();
        using (var m = Cage.Meter("plan"))
        {
            m.Usage("anthropic", "claude-sonnet-4-6", input: 1000, output: 200, cacheRead: 3000, cacheWrite5m: 500, cacheWrite1h: 100);
            m.RecordReceipt("compressor", rawAlternative: 10_000, actual: 2_000, method: SavingsMethod.Measured);
        }

        using (var m = Cage.Meter("edit"))
        {
            m.Usage("openai", "gpt-4o", input: 400, output: 100, reasoning: 60);
        }

        using (var m = Cage.Meter("edit"))
        {
            m.Usage("openai", "gpt-4o", input: 100, output: 50);
        }

        var s = cage.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(s.Tokens(TokenBucket.Input), Is.EqualTo(1500));
            Assert.That(s.Tokens(TokenBucket.CacheRead), Is.EqualTo(3000));
            Assert.That(s.Tokens(TokenBucket.CacheWrite5m), Is.EqualTo(500));
            Assert.That(s.Tokens(TokenBucket.CacheWrite1h), Is.EqualTo(100));
            Assert.That(s.Tokens(TokenBucket.Output), Is.EqualTo(350));
            Assert.That(s.Tokens(TokenBucket.Reasoning), Is.EqualTo(60));
            Assert.That(s.Tokens(TokenBucket.Prompt), Is.EqualTo(5100));
            Assert.That(s.Tokens(), Is.EqualTo(5450));
            Assert.That(cage.Tokens(TokenBucket.Output), Is.EqualTo(350));
            Assert.That(s.CallsByModel, Is.EquivalentTo(new Dictionary<string, int> { ["claude-sonnet-4-6"] = 1, ["gpt-4o"] = 2 }));
            Assert.That(cage.CallsByRoute, Is.EquivalentTo(new Dictionary<string, int> { ["plan"] = 1, ["edit"] = 2 }));
            Assert.That(s.CallsTo("gpt-4o"), Has.Count.EqualTo(2));
            Assert.That(s.CallsOn("plan").Single().Model, Is.EqualTo("claude-sonnet-4-6"));
            Assert.That(cage.Receipts.Single().Tool, Is.EqualTo("compressor"));
            Assert.That(cage.Receipts.Single().CallId, Is.EqualTo(s.CallsOn("plan").Single().Id));
            Assert.That(cage.Totals.Calls, Is.EqualTo(3));
        });
    }

    [Test]
    public void DescribeCalls_ListsRouteModelTokensAndCost_AndTheTotal()
    {
        using var cage = new CageTestContext();
        using (var m = Cage.Meter("code-edit"))
        {
            m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500, cacheRead: 3200);
        }

        using (var m = Cage.Meter("triage"))
        {
            m.Usage("acme", "mystery-model", input: 10, output: 5);
        }

        var text = cage.Snapshot().DescribeCalls();

        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Contain("code-edit").And.Contain("anthropic/claude-opus-4-8").And.Contain("11,800 / 1,500 (3,200 cached)").And.Contain("$0.0493"));
            Assert.That(text, Does.Contain("triage").And.Contain("acme/mystery-model").And.Contain("unpriced"));
            Assert.That(text, Does.EndWith("total: at least $0.0493 over 2 calls, 11,810 in / 1,505 out tokens (1 unpriced)"));
        });
    }

    [Test]
    public async Task SnapshotAsync_SeesEveryScopeDisposedBeforeIt()
    {
        await using var cage = new CageTestContext();
        for (var i = 0; i < 50; i++)
        {
            using var m = Cage.Meter("r");
            m.Usage("openai", "gpt-4o-mini", input: 100, output: 10);
        }

        var snapshot = await cage.SnapshotAsync();

        Assert.That(snapshot.CallCount, Is.EqualTo(50));
    }

    [Test]
    public void Snapshot_OfALedger_ReadsItsCalls()
    {
        var ledger = new InMemoryLedger();
        using (var cage = new CageTestContext())
        {
            using (var m = Cage.Meter("r"))
            {
                m.Usage("openai", "gpt-4o", input: 1, output: 1);
            }

            cage.Flush();
            ledger.AppendAsync(new LedgerBatch(cage.Ledger.Calls, [])).AsTask().GetAwaiter().GetResult();
        }

        Assert.That(CageTestSnapshot.Of(ledger).CallCount, Is.EqualTo(1));
    }
}

/// <summary>A context created in a synchronous [SetUp] is the facade's instance in the test (NUnit runs both on one flow).</summary>
public sealed class CageTestContextSetUpTests
{
    private CageTestContext _cage = null!;

    [SetUp]
    public void SetUp() => _cage = new CageTestContext();

    [TearDown]
    public void TearDown() => _cage.Dispose();

    [Test]
    public void SyncTest_SeesTheContextCreatedInSetUp()
    {
        using (var m = Cage.Meter("setup-sync"))
        {
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        Assert.That(_cage.Calls.Single().Route, Is.EqualTo("setup-sync"));
    }

    [Test]
    public async Task AsyncTest_SeesTheContextCreatedInSetUp()
    {
        await Task.Yield();
        using (var m = Cage.Meter("setup-async"))
        {
            m.Usage("openai", "gpt-4o", input: 1, output: 1);
        }

        Assert.That((await _cage.SnapshotAsync()).Calls.Single().Route, Is.EqualTo("setup-async"));
    }
}
