namespace CageNet.Testing.Tests.Baselines;

/// <summary>Cost baselines: record, hold, regress with a diff, improve; each test in a temporary folder of its own.</summary>
public sealed class CostBaselineTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp() => _folder = Directory.CreateTempSubdirectory("cage-baseline-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_folder, recursive: true);

    /// <summary>A scripted "agent": <paramref name="turns"/> calls of gpt-4o, each with the given prompt and output tokens.</summary>
    private static CageTestSnapshot Scenario(int turns, long prompt, long output = 500)
    {
        using var cage = new CageTestContext();
        for (var i = 0; i < turns; i++)
        {
            using var m = Cage.Meter("agent");
            m.Usage("openai", "gpt-4o", input: prompt, output: output);
        }

        return cage.Snapshot();
    }

    private string Path(string name = "agent") => System.IO.Path.Combine(_folder, "baselines", name + ".json");

    [Test]
    public void Missing_Fails_SayingHowToRecordIt_AndWritesNothing()
    {
        var result = CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed, Is.False);
            Assert.That(result.Message, Does.StartWith($"no cost baseline 'agent' at {Path()}: run the test once with CAGE_UPDATE_BASELINES=1 to record it ($0.0225 over 3 calls, 3,000 in / 1,500 out tokens), then commit the file"));
            Assert.That(File.Exists(Path()), Is.False);
        });
    }

    [Test]
    public void Update_WritesTheFigures_AsStableJson()
    {
        var result = CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = true });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed && result.Updated, Is.True);
            Assert.That(File.ReadAllText(Path()), Is.EqualTo("""
                {
                  "scenario": "agent",
                  "cost_usd": 0.0225,
                  "calls": 3,
                  "tokens": {
                    "input": 3000,
                    "cache_read": 0,
                    "cache_write": 0,
                    "output": 1500
                  },
                  "unpriced_calls": 0,
                  "models": {
                    "gpt-4o": 3
                  },
                  "routes": {
                    "agent": 3
                  }
                }

                """.Replace("\r\n", "\n", StringComparison.Ordinal)));
            Assert.That(result.Message, Does.StartWith("cost baseline 'agent' recorded at"));
        });
    }

    [Test]
    public void SameScenario_Holds()
    {
        CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = true });

        var result = CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed, Is.True, result.Message);
            Assert.That(result.Message, Does.StartWith("cost baseline 'agent' holds within 5%"));
        });
    }

    [Test]
    public void RiseWithinTolerance_Holds_RiseBeyondIt_Regresses()
    {
        CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = true });

        var within = CostBaseline.Check(Scenario(3, 1_040), Path(), new CostBaselineOptions { Update = false });
        var beyond = CostBaseline.Check(Scenario(3, 1_100), Path(), new CostBaselineOptions { Update = false });
        var wider = CostBaseline.Check(Scenario(3, 1_100), Path(), new CostBaselineOptions { Update = false, Tolerance = 0.2 });

        Assert.Multiple(() =>
        {
            Assert.That(within.Passed, Is.True, within.Message);
            Assert.That(beyond.Passed, Is.False);
            Assert.That(beyond.Message, Does.StartWith("cost baseline 'agent' regressed beyond its 5% tolerance (prompt tokens)"));
            Assert.That(wider.Passed, Is.True, wider.Message);
        });
    }

    [Test]
    public void DoubledPromptTokens_FailsWithAReadableDiff_AndTheCalls()
    {
        CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = true });

        var result = CostBaseline.Check(Scenario(3, 2_000), Path(), new CostBaselineOptions { Update = false });

        Assert.That(result.Passed, Is.False);
        Assert.That(result.Message, Is.EqualTo($"""
            cost baseline 'agent' regressed beyond its 5% tolerance (cost, prompt tokens): {Path()}
                              baseline   actual   change
              cost             $0.0225  $0.0300   +33.3%  REGRESSED
              calls                  3        3        =
              prompt tokens      3,000    6,000  +100.0%  REGRESSED
                input            3,000    6,000  +100.0%
                cache read           0        0        =
                cache write          0        0        =
              output tokens      1,500    1,500        =
              unpriced calls         0        0        =
              models: gpt-4o ×3
              routes: agent ×3
            the calls of this run:
              #  route  model          tokens in/out     cost
              1  agent  openai/gpt-4o    2,000 / 500  $0.0100
              2  agent  openai/gpt-4o    2,000 / 500  $0.0100
              3  agent  openai/gpt-4o    2,000 / 500  $0.0100
              total: $0.0300 over 3 calls, 6,000 in / 1,500 out tokens
            if the new cost is intended, re-run with CAGE_UPDATE_BASELINES=1 and commit agent.json
            """.Replace("\r\n", "\n", StringComparison.Ordinal)));
    }

    [Test]
    public void MoreCalls_Regresses_EvenAtTheSameCost()
    {
        CostBaseline.Check(Scenario(2, 1_000), Path(), new CostBaselineOptions { Update = true });

        var result = CostBaseline.Check(Scenario(4, 500, output: 250), Path(), new CostBaselineOptions { Update = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed, Is.False);
            Assert.That(result.Message, Does.StartWith("cost baseline 'agent' regressed beyond its 5% tolerance (calls)"));
        });
    }

    [Test]
    public void Cheaper_Passes_AndSaysToLockTheSavingIn()
    {
        CostBaseline.Check(Scenario(3, 1_000), Path(), new CostBaselineOptions { Update = true });

        var result = CostBaseline.Check(Scenario(2, 1_000), Path(), new CostBaselineOptions { Update = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed && result.Improved, Is.True, result.Message);
            Assert.That(result.Message, Does.StartWith("cost baseline 'agent' improved beyond its 5% tolerance: update the baseline to lock the saving in"));
        });
    }

    [Test]
    public void UnreadableFile_Fails_NamingTheProblem()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path())!);
        File.WriteAllText(Path(), """{"calls": 3}""");

        var result = CostBaseline.Check(Scenario(1, 10), Path(), new CostBaselineOptions { Update = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.Passed, Is.False);
            Assert.That(result.Message, Does.Contain("cannot be read: a cost baseline needs a number 'cost_usd'"));
        });
    }

    [Test]
    public void PathFor_ANameBesideTheSourceFile_IsBaselinesNameJson()
    {
        var source = System.IO.Path.Combine(_folder, "AgentTests.cs");

        Assert.Multiple(() =>
        {
            Assert.That(CostBaseline.PathFor("agent", source), Is.EqualTo(System.IO.Path.Combine(_folder, "baselines", "agent.json")));
            Assert.That(CostBaseline.PathFor("costs/agent.json", source), Is.EqualTo(System.IO.Path.Combine(_folder, "costs", "agent.json")));
            Assert.That(CostBaseline.PathFor("/abs/agent.json", source), Is.EqualTo("/abs/agent.json"));
            Assert.That(CostBaseline.PathFor("agent", "/_/mapped/AgentTests.cs"), Is.EqualTo(System.IO.Path.Combine(Directory.GetCurrentDirectory(), "baselines", "agent.json")));
        });
    }

    [TestCase("1", true)]
    [TestCase("true", true)]
    [TestCase("YES", true)]
    [TestCase("0", false)]
    [TestCase("", false)]
    [TestCase(null, false)]
    public void IsOn_ReadsTheUsualSpellings(string? value, bool on) => Assert.That(CostBaseline.IsOn(value), Is.EqualTo(on));
}
