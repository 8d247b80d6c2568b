using CageNet.Testing.NUnit;

namespace CageNet.Testing.Tests.NUnit;

/// <summary><c>Cost.MatchesBaseline</c>: passes on the committed figures, fails with the diff, updates with the test property.</summary>
public sealed class BaselineConstraintTests
{
    private string _folder = null!;

    [SetUp]
    public void SetUp()
    {
        // These tests expect failures; with the update switch on they would rewrite the committed baseline instead.
        Assume.That(CostBaseline.UpdateRequested, Is.False, $"{CostBaseline.UpdateVariable} is set");
        _folder = Directory.CreateTempSubdirectory("cage-baseline-nunit-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (_folder is not null)
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static CageTestContext Agent(long prompt)
    {
        var cage = new CageTestContext();
        for (var i = 0; i < 3; i++)
        {
            using var m = Cage.Meter("agent");
            m.Usage("openai", "gpt-4o", input: prompt, output: 500);
        }

        return cage;
    }

    private string File(string name) => Path.Combine(_folder, name + ".json");

    [Test]
    public void MatchesBaseline_TheCommittedBaseline_Passes()
    {
        // The committed file beside this source file: baselines/three-gpt-4o-calls.json.
        using var cage = Agent(1_000);

        Assert.That(cage, Cost.MatchesBaseline("three-gpt-4o-calls"));
    }

    [Test]
    public void MatchesBaseline_DoubledPrompt_FailsWithTheDiff()
    {
        using var cage = Agent(2_000);

        var (ok, message) = FailureText.Apply(Cost.MatchesBaseline("three-gpt-4o-calls"), cage);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(message, Does.StartWith("cost baseline 'three-gpt-4o-calls' regressed beyond its 5% tolerance (cost, prompt tokens): "));
            Assert.That(message, Does.Contain("prompt tokens      3,000    6,000  +100.0%  REGRESSED"));
            Assert.That(message, Does.Contain("re-run with CAGE_UPDATE_BASELINES=1 and commit three-gpt-4o-calls.json"));
        });
    }

    [Test]
    public void MatchesBaseline_TightTolerance_FailsWhereTheDefaultPasses()
    {
        using var cage = Agent(1_030);

        Assert.That(cage, Cost.MatchesBaseline("three-gpt-4o-calls"));
        Assert.That(FailureText.Apply(Cost.MatchesBaseline("three-gpt-4o-calls", tolerance: 0.01), cage).Success, Is.False);
    }

    [Test]
    public void MatchesBaseline_Missing_FailsSayingHowToRecordIt()
    {
        using var cage = Agent(1_000);

        var (ok, message) = FailureText.Apply(Cost.MatchesBaseline(File("missing")), cage);

        Assert.Multiple(() =>
        {
            Assert.That(ok, Is.False);
            Assert.That(message, Does.StartWith($"no cost baseline '{File("missing")}' at {File("missing")}: run the test once with CAGE_UPDATE_BASELINES=1"));
        });
    }

    [Test]
    [Property(Cost.UpdateParameter, "1")]
    public void MatchesBaseline_WithTheUpdateProperty_RecordsTheBaseline()
    {
        using var cage = Agent(1_000);

        Assert.That(cage, Cost.MatchesBaseline(File("recorded")));

        Assert.That(System.IO.File.ReadAllText(File("recorded")), Does.Contain("\"cost_usd\": 0.0225"));
    }
}
