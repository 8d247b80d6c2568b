using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Tests.Metering;

public class MeterScopeTests
{
    private static readonly DateTimeOffset Start = new(2026, 6, 20, 10, 0, 0, TimeSpan.Zero);

    private static (CageMeter Meter, InMemoryLedger Ledger, FakeTimeProvider Time) NewMeter()
    {
        var time = new FakeTimeProvider(Start);
        var ledger = new InMemoryLedger();
        return (new CageMeter(ledger, PriceCatalog.BuiltIn, time), ledger, time);
    }

    [Test]
    public async Task Usage_WorkedExample_RecordsOneCallPricedAtCatalog()
    {
        var (meter, ledger, time) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("code-edit", task: "fix-handover-bug", session: "demo", agent: "claude-code"))
            {
                time.Advance(TimeSpan.FromMilliseconds(1234));
                m.Usage("anthropic", "claude-opus-4-8", input: 8600, output: 1500);
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Route, Is.EqualTo("code-edit"));
            Assert.That(call.Task, Is.EqualTo("fix-handover-bug"));
            Assert.That(call.Session, Is.EqualTo("demo"));
            Assert.That(call.Agent, Is.EqualTo("claude-code"));
            Assert.That(call.Usage.Input, Is.EqualTo(8600));
            Assert.That(call.Usage.Output, Is.EqualTo(1500));
            Assert.That(call.CostUsd, Is.EqualTo(0.0483m));
            Assert.That(call.CostSource, Is.EqualTo(CostSource.Catalog));
            Assert.That(call.PriceKey, Is.EqualTo("anthropic/claude-opus-4-8"));
            Assert.That(call.LatencyMs, Is.EqualTo(1234));
            Assert.That(call.Timestamp, Is.EqualTo(Start));
            Assert.That(call.Attempt, Is.EqualTo(1));
            Assert.That(call.Retries, Is.EqualTo(0));
            Assert.That(call.Id, Does.StartWith("c_"));
        });
    }

    [Test]
    public async Task Meter_SystemClock_StartedAtAndTimestampAgreeWithTheWallClock()
    {
        var ledger = new InMemoryLedger();
        var meter = new CageMeter(ledger, PriceCatalog.BuiltIn, TimeProvider.System);
        DateTimeOffset before, after, startedAt;
        await using (meter)
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(120); // past the 100 ms anchor refresh
                before = TimeProvider.System.GetUtcNow();
                using (var m = meter.Meter("code-edit"))
                {
                    startedAt = m.StartedAt;
                    m.Usage("anthropic", "claude-opus-4-8", input: 10, output: 1);
                }

                after = TimeProvider.System.GetUtcNow();
                Assert.That(startedAt, Is.InRange(before.AddMilliseconds(-2), after.AddMilliseconds(2)));
            }

            await meter.FlushAsync();
        }

        Assert.That(ledger.Calls, Has.Count.EqualTo(3));
        Assert.That(ledger.Calls.Select(c => c.Timestamp), Is.Ordered);
        Assert.That(ledger.Calls.Select(c => c.Id), Is.Ordered.And.Unique);
    }

    [Test]
    public async Task CallId_ReadAfterDisposeWhileTheWriterStoresIt_IsTheStoredId()
    {
        var (meter, ledger, _) = NewMeter();
        var ids = new List<string>();
        await using (meter)
        {
            for (var i = 0; i < 200; i++)
            {
                var m = meter.Meter("code-edit");
                m.Usage("anthropic", "claude-opus-4-8", input: 10, output: 1);
                m.Dispose(); // the writer may draw the id's random bits before or after the read below
                ids.Add(m.CallId);
            }

            await meter.FlushAsync();
        }

        Assert.That(ledger.Calls.Select(c => c.Id), Is.EqualTo(ids));
    }

    [Test]
    public async Task Meter_NestedScopes_InheritTaskSessionAgentUserUnlessOverridden()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var outer = meter.Meter("plan", task: "t1", session: "s1", agent: "a1", user: "u1", category: "main"))
            {
                using (var inner = meter.Meter("summarize", category: "summarize", agent: "a2"))
                {
                    Assert.That(MeterScope.Current, Is.SameAs(inner));
                    Assert.That(inner.Parent, Is.SameAs(outer));
                    inner.Usage("openai", "gpt-4o", input: 10, output: 5);
                }

                Assert.That(MeterScope.Current, Is.SameAs(outer));
            }

            Assert.That(MeterScope.Current, Is.Null);
            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.Multiple(() =>
        {
            Assert.That(call.Route, Is.EqualTo("summarize"));
            Assert.That(call.Task, Is.EqualTo("t1"));
            Assert.That(call.Session, Is.EqualTo("s1"));
            Assert.That(call.User, Is.EqualTo("u1"));
            Assert.That(call.Agent, Is.EqualTo("a2"));
            Assert.That(call.Category, Is.EqualTo("summarize"));
        });
    }

    [Test]
    public async Task Meter_AmbientScope_FlowsThroughAwaitAndIsIsolatedBetweenConcurrentFlows()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            async Task Work(string task)
            {
                using var m = meter.Meter("route", task: task);
                await Task.Yield();
                await Task.Delay(5);
                Assert.That(MeterScope.Current, Is.SameAs(m));
                var receipt = meter.RecordReceipt("compressor", 100, 40);
                Assert.That(receipt.CallId, Is.EqualTo(m.CallId));
                Assert.That(receipt.Task, Is.EqualTo(task));
                m.Usage("openai", "gpt-4o", input: 60, output: 1);
            }

            await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => Work("task-" + i))));
            await meter.FlushAsync();
        }

        Assert.That(ledger.Calls, Has.Count.EqualTo(20));
        Assert.That(ledger.Receipts, Has.Count.EqualTo(20));
        foreach (var call in ledger.Calls)
        {
            var receipt = ledger.Receipts.Single(r => r.CallId == call.Id);
            Assert.That(receipt.Task, Is.EqualTo(call.Task));
        }
    }

    [Test]
    public async Task Usage_RetryThenFallback_EachAttemptRecordedAndCreditedToServingModel()
    {
        var (meter, ledger, time) = NewMeter();
        string callId;
        await using (meter)
        {
            using (var m = meter.Meter("chat", task: "t"))
            {
                callId = m.CallId;
                time.Advance(TimeSpan.FromMilliseconds(100));
                m.Usage("anthropic", "claude-opus-4-8", input: 1000, output: 0, ok: false, requestId: "req-1");
                time.Advance(TimeSpan.FromMilliseconds(200));
                m.Usage("openai", "gpt-4o", input: 1000, output: 100, requestId: "req-2");
                m.RecordReceipt("cache", 500, 0, method: SavingsMethod.Measured);
            }

            await meter.FlushAsync();
        }

        var calls = ledger.Calls.OrderBy(c => c.Attempt).ToList();
        Assert.That(calls, Has.Count.EqualTo(2));
        Assert.Multiple(() =>
        {
            Assert.That(calls[0].Ok, Is.False);
            Assert.That(calls[0].Model, Is.EqualTo("claude-opus-4-8"));
            Assert.That(calls[0].CostUsd, Is.EqualTo(1000 * 0.000003m), "a failed but billed attempt keeps its cost");
            Assert.That(calls[0].LatencyMs, Is.EqualTo(100));
            Assert.That(calls[0].Id, Is.Not.EqualTo(callId));
            Assert.That(calls[1].Id, Is.EqualTo(callId), "the last attempt carries the scope's call id");
            Assert.That(calls[1].Model, Is.EqualTo("gpt-4o"));
            Assert.That(calls[1].Attempt, Is.EqualTo(2));
            Assert.That(calls[1].Retries, Is.EqualTo(1));
            Assert.That(calls[1].LatencyMs, Is.EqualTo(200));
            Assert.That(calls[1].Timestamp, Is.EqualTo(Start.AddMilliseconds(100)));
            Assert.That(ledger.Receipts.Single().CallId, Is.EqualTo(callId));
        });
    }

    [Test]
    public async Task Usage_UnknownModel_IsUnpricedNeverZero()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Usage("acme", "mystery-model-9", input: 100, output: 10);
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That(call.CostUsd, Is.Null);
        Assert.That(call.CostSource, Is.EqualTo(CostSource.Unpriced));
    }

    [Test]
    public async Task UsageMissing_StreamCut_RecordedAsMissingNotFree()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.UsageMissing("openai", "gpt-4o", "chatcmpl-1", "stream ended before usage");
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
        Assert.That(call.Ok, Is.False);
        Assert.That(call.RequestId, Is.EqualTo("chatcmpl-1"));
        Assert.That(call.CostUsd, Is.Null, "nothing is known about the cost: unknown, never $0");
    }

    [Test]
    public async Task Usage_MissingWithAPartialCount_IsPricedAsALowerBound()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                // A stream cut after its first usage event: 1,000 input tokens of anthropic/claude-opus-4-8 ($3 / 1M) are known.
                m.Usage("anthropic", "claude-opus-4-8", new TokenUsage(1_000), ok: false, status: UsageStatus.Missing);
            }

            await meter.FlushAsync();
        }

        var call = ledger.Calls.Single();
        Assert.That(call.UsageStatus, Is.EqualTo(UsageStatus.Missing));
        Assert.That(call.CostUsd, Is.EqualTo(0.003m));
    }

    [Test]
    public async Task Dispose_ScopeWithoutUsage_RecordsNothing()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (meter.Meter("chat"))
            {
            }

            await meter.FlushAsync();
        }

        Assert.That(ledger.Calls, Is.Empty);
    }

    [Test]
    public async Task Usage_ErrorEchoingQuotedPrompt_StoresNoneOfTheQuotedText()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", new TokenUsage(1), ok: false, error: "400 invalid request: 'Summarize CANARY-77 please' is too long; also \"CANARY-78\"");
            }

            await meter.FlushAsync();
        }

        var error = ledger.Calls.Single().Error!;
        Assert.That(error, Does.Not.Contain("CANARY"));
        Assert.That(error, Does.StartWith("400 invalid request: [quoted text removed] is too long"));
    }

    [Test]
    public void Usage_NegativeBucket_ThrowsNamingTheField()
    {
        var (meter, _, _) = NewMeter();
        using var m = meter.Meter("chat");
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => m.Usage("openai", "gpt-4o", input: -1));
        Assert.That(ex!.ParamName, Is.EqualTo("input"));
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => m.Usage("openai", "gpt-4o", output: 5, reasoning: 6));
        Assert.That(ex2!.ParamName, Is.EqualTo("reasoning"));
    }

    [Test]
    public async Task Usage_ErrorText_IsScrubbedAndTruncated()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Usage("openai", "gpt-4o", new TokenUsage(1), ok: false, error: "401 for key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX " + new string('x', 500));
            }

            await meter.FlushAsync();
        }

        var error = ledger.Calls.Single().Error!;
        Assert.That(error, Does.Not.Contain("sk-proj-ABCDEFGH"));
        Assert.That(error, Does.StartWith("401 for key"));
        Assert.That(error, Does.Contain("[redacted]"));
        Assert.That(error.Length, Is.LessThanOrEqualTo(200));
    }

    [Test]
    public async Task Tag_ValueWithASecret_IsStoredScrubbed()
    {
        var (meter, ledger, _) = NewMeter();
        await using (meter)
        {
            using (var m = meter.Meter("chat"))
            {
                m.Tag("user", "jane.canary@example.com");
                m.Tag("team", "a");
                m.Usage("openai", "gpt-4o", input: 10, output: 2);
            }

            await meter.FlushAsync();
        }

        var tags = ledger.Calls.Single().Tags!;
        Assert.That(tags["user"], Is.EqualTo(ErrorText.RedactedMarker));
        Assert.That(tags["team"], Is.EqualTo("a"));
    }
}
