using NUnit.Framework;
using NUnit.Framework.Constraints;

namespace CageNet.Testing.NUnit;

/// <summary>
/// Compares a scenario with its committed cost baseline (see <see cref="Cost.MatchesBaseline"/>). Updating is on when
/// <c>CAGE_UPDATE_BASELINES</c> is set in the environment, as an NUnit run parameter
/// (<c>dotnet test -- TestRunParameters.Parameter(name=\"CAGE_UPDATE_BASELINES\", value=\"1\")</c>) or as a property of
/// the test (<c>[Property("CAGE_UPDATE_BASELINES", "1")]</c>).
/// </summary>
internal sealed class CostBaselineConstraint(string name, string path, double tolerance) : Constraint(name)
{
    public override string Description => $"the cost baseline '{name}' (within {tolerance:0.##%})";

    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        var snapshot = Snapshots.Of(actual);
        var result = CostBaseline.Check(snapshot, path, new CostBaselineOptions { Tolerance = tolerance, Update = UpdateRequested(), Scenario = name });
        if (result.Passed && (result.Updated || result.Improved))
        {
            TestContext.Out.WriteLine(result.Message); // recorded or cheaper: say so in the test's output
        }

        return new BaselineResult(this, result);
    }

    private static bool UpdateRequested()
    {
        if (CostBaseline.UpdateRequested || CostBaseline.IsOn(TestContext.Parameters.Get(Cost.UpdateParameter)))
        {
            return true;
        }

        var test = TestContext.CurrentContext?.Test;
        return test?.Properties.ContainsKey(Cost.UpdateParameter) == true && CostBaseline.IsOn(test.Properties.Get(Cost.UpdateParameter)?.ToString());
    }

    private sealed class BaselineResult(IConstraint constraint, CostBaselineResult result)
        : ConstraintResult(constraint, new Shown(result.Message), result.Passed)
    {
        public override void WriteMessageTo(MessageWriter writer) => writer.WriteLine(result.Message);

        public override void WriteActualValueTo(MessageWriter writer) => writer.Write(result.Message);
    }
}
