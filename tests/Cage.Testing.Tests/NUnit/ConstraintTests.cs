using CageNet.Testing.NUnit;
using NUnit.Framework.Constraints;

namespace CageNet.Testing.Tests.NUnit;

/// <summary>
/// Every constraint against a passing and a failing case, with the failure text asserted: the text is what
/// <c>Assert.That</c> reports (the resolved constraint's result written by NUnit's own message writer).
/// </summary>
public sealed class ConstraintTests
{
    // Three calls: 2 × gpt-4o (1,000 in / 500 out = $0.0075 each) on "agent", 1 × claude-sonnet-4-6 (2,000 / 100 = $0.0075) on "summarize".
    private static CageTestContext ThreeCalls()
    {
        var cage = new CageTestContext();
        for (var i = 0; i < 2; i++)
        {
            using var m = Cage.Meter("agent");
            m.Usage("openai", "gpt-4o", input: 1_000, output: 500);
        }

        using (var m = Cage.Meter("summarize"))
        {
            m.Usage("anthropic", "claude-sonnet-4-6", input: 2_000, output: 100);
        }

        return cage;
    }

    private const string CallTable =
        "    #  route      model                        tokens in/out     cost\n" +
        "    1  agent      openai/gpt-4o                  1,000 / 500  $0.0075\n" +
        "    2  agent      openai/gpt-4o                  1,000 / 500  $0.0075\n" +
        "    3  summarize  anthropic/claude-sonnet-4-6    2,000 / 100  $0.0075\n" +
        "    total: $0.0225 over 3 calls, 4,000 in / 1,100 out tokens";

    [Test]
    public void SpentAtMost_PassesUnderTheCeiling_FailsOverIt_ListingTheCalls()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Spent.AtMost(0.0225m));
        var (ok, message) = FailureText.Apply(Spent.AtMost(0.02m), cage);

        Assert.That(ok, Is.False);
        Assert.That(message, Is.EqualTo(
            "  Expected: spent at most $0.0200\n" +
            "  But was:  spent $0.0225 over 3 calls, 4,000 in / 1,100 out tokens\n" +
            "  the calls:\n" + CallTable + "\n"));
    }

    [Test]
    public void SpentAtLeastAndExactly_PassAndFail()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Spent.AtLeast(0.02m).And.Spent.Exactly(0.0225m));
        var (atLeast, m1) = FailureText.Apply(Spent.AtLeast(0.03m), cage);
        var (exactly, m2) = FailureText.Apply(Spent.Exactly(0.01m), cage);

        Assert.Multiple(() =>
        {
            Assert.That(atLeast, Is.False);
            Assert.That(m1, Does.StartWith("  Expected: spent at least $0.0300\n  But was:  spent $0.0225 over 3 calls"));
            Assert.That(exactly, Is.False);
            Assert.That(m2, Does.StartWith("  Expected: spent exactly $0.0100\n"));
        });
    }

    [Test]
    public void SpentAndCalls_TheIssuesExample_PassesAndFailsOnEitherSide()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Spent.AtMost(0.03m).And.Calls.AtMost(3));
        var (callsFail, m1) = FailureText.Apply(Spent.AtMost(0.03m).And.Calls.AtMost(2), cage);
        var (spendFail, m2) = FailureText.Apply(Spent.AtMost(0.02m).And.Calls.AtMost(3), cage);

        Assert.Multiple(() =>
        {
            Assert.That(callsFail, Is.False);
            Assert.That(m1, Is.EqualTo(
                "  Expected: spent at most $0.0300 and at most 2 calls\n" +
                "  But was:  3 calls\n" +
                "  the calls:\n" + CallTable + "\n"));
            Assert.That(spendFail, Is.False);
            Assert.That(m2, Does.StartWith("  Expected: spent at most $0.0200 and at most 3 calls\n  But was:  spent $0.0225 over 3 calls"));
        });
    }

    [Test]
    public void CallsToModelAndOnRoute_CountOnlyTheirCalls()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Calls.To("gpt-4o").Exactly(2).And.Calls.On("summarize").Exactly(1).And.Calls.To("gpt-4o").On("summarize").Exactly(0));
        var (ok, message) = FailureText.Apply(Calls.To("gpt-4o").AtMost(1), cage);

        Assert.That(ok, Is.False);
        Assert.That(message, Is.EqualTo(
            "  Expected: at most 1 call to gpt-4o\n" +
            "  But was:  2 calls to gpt-4o (of 3)\n" +
            "  the 2 matching calls of 3:\n" +
            "    #  route  model          tokens in/out     cost\n" +
            "    1  agent  openai/gpt-4o    1,000 / 500  $0.0075\n" +
            "    2  agent  openai/gpt-4o    1,000 / 500  $0.0075\n" +
            "    total: $0.0150 over 2 calls, 2,000 in / 1,000 out tokens\n"));
    }

    [Test]
    public void CallsAtLeastAndExactly_PassAndFail()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Calls.AtLeast(3).And.Calls.Exactly(3));
        var (ok, message) = FailureText.Apply(Calls.AtLeast(4), cage);

        Assert.That(ok, Is.False);
        Assert.That(message, Does.StartWith("  Expected: at least 4 calls\n  But was:  3 calls\n  the calls:\n"));
    }

    [Test]
    public void Tokens_TotalAndPerBucket_PassAndFail()
    {
        using var cage = ThreeCalls();

        Assert.That(cage, Tokens.AtMost(5_100).And.Tokens.Of(TokenBucket.Output).Exactly(1_100).And.Tokens.AtLeast(1));
        var (ok, message) = FailureText.Apply(Tokens.Of(TokenBucket.Input).AtMost(3_000), cage);
        var (total, m2) = FailureText.Apply(Tokens.Exactly(10), cage);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(message, Does.StartWith("  Expected: at most 3,000 uncached input tokens\n  But was:  4,000 uncached input tokens\n  the calls:\n"));
            Assert.That(total, Is.False);
            Assert.That(m2, Does.StartWith("  Expected: exactly 10 tokens\n  But was:  5,100 tokens\n"));
        });
    }

    [Test]
    public void HasNoUnpricedCalls_PassesWhenAllArePriced_FailsListingTheUnpricedOnes()
    {
        using var priced = ThreeCalls();
        using var cage = new CageTestContext();
        using (var m = Cage.Meter("triage"))
        {
            m.Usage("acme", "mystery-model", input: 10, output: 5);
        }

        using (var m = Cage.Meter("agent"))
        {
            m.Usage("openai", "gpt-4o", input: 1_000, output: 500);
        }

        Assert.That(priced, Has.No.UnpricedCalls);
        Assert.That(cage, Has.UnpricedCalls);
        var (ok, message) = FailureText.Apply(Has.No.UnpricedCalls, cage);
        var (has, m2) = FailureText.Apply(Has.UnpricedCalls, priced);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(message, Is.EqualTo(
                "  Expected: not any unpriced call\n" +
                "  But was:  <1 call unpriced (of 2):\n" +
                "    #  route   model               tokens in/out      cost\n" +
                "    1  triage  acme/mystery-model         10 / 5  unpriced\n" +
                "    total: at least $0.0000 over 1 call, 10 in / 5 out tokens (1 unpriced)>\n"));
            Assert.That(has, Is.False);
            Assert.That(m2, Does.StartWith("  Expected: any unpriced call\n  But was:  <no call unpriced among 3:\n"));
        });
    }

    [Test]
    public async Task HasNoMissingUsage_FailsListingTheCallsWithoutUsage()
    {
        using var cage = new CageTestContext();
        using (var m = Cage.Meter("stream"))
        {
            m.UsageMissing("openai", "gpt-4o", error: "stream cut");
        }

        await cage.FlushAsync();
        using var priced = ThreeCalls();

        Assert.That(priced, Has.No.MissingUsage);
        Assert.That(cage, Has.MissingUsage);
        var (ok, message) = FailureText.Apply(Has.No.MissingUsage, cage);

        Assert.That(ok, Is.False);
        Assert.That(message, Does.StartWith("  Expected: not any call without usage\n  But was:  <1 call without usage (of 1):\n").And.Contain("usage missing"));
    }

    [Test]
    public async Task BudgetRefusalsAndWarnings_PassAndFail_ListingTheEvents()
    {
        using var cage = new CageTestContext(o => o.Budgets(b => b.Node("org").CapUsd(0.01m).WarnAt(pct: 50).Block()));
        using (var m = Cage.Meter("agent"))
        {
            m.Usage("openai", "gpt-4o", input: 1_000, output: 500); // $0.0075: crosses 50%
        }

        using (var m = Cage.Meter("agent"))
        {
            m.Usage("openai", "gpt-4o", input: 1_000, output: 500); // $0.015: over the cap
        }

        var refused = !cage.Budget!.TryReserve(new CageNet.Budgets.BudgetScope(), 0.001m, 10, out _, out _);
        Assert.That(refused, Is.True);
        using var quiet = ThreeCalls();

        Assert.That(cage, Has.BudgetRefusals.And.BudgetWarnings);
        Assert.That(quiet, Has.No.BudgetRefusals.And.No.BudgetWarnings);
        var (ok, message) = FailureText.Apply(Has.No.BudgetRefusals, cage);
        var (has, m2) = FailureText.Apply(Has.BudgetRefusals, quiet);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(message, Does.StartWith("  Expected: not any budget refusal\n  But was:  <1 budget refusal:\n    budget 'org' is exhausted: spent $0.015000 of $0.010000"));
            Assert.That(message, Does.Contain("openai/gpt-4o"));
            Assert.That(has, Is.False);
            Assert.That(m2, Is.EqualTo("  Expected: any budget refusal\n  But was:  <no budget refusal (0 budget events in all); spent $0.0225 over 3 calls, 4,000 in / 1,100 out tokens>\n"));
        });
        await Task.CompletedTask;
    }

    [Test]
    public void Constraints_TakeASnapshotOrALedger_AndRefuseAnythingElse()
    {
        using var cage = ThreeCalls();

        Assert.That(cage.Snapshot(), Calls.Exactly(3));
        Assert.That(cage.Ledger, Spent.Exactly(0.0225m));
        var ex = Assert.Throws<ArgumentException>(() => Spent.AtMost(1m).ApplyTo("not a cage"));
        Assert.That(ex!.Message, Does.StartWith("Cage constraints apply to a CageTestContext, a CageTestSnapshot or an InMemoryLedger, not String"));
    }

    [Test]
    public void NegativeExpectation_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Spent.AtMost(-1m));
    }
}
