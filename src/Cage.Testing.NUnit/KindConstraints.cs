using System.Globalization;
using NUnit.Framework.Constraints;

namespace CageNet.Testing.NUnit;

internal enum CallKind
{
    Unpriced,
    MissingUsage,
}

/// <summary>
/// Succeeds when some call is of a kind (unpriced, or without usage); used as <c>Has.No.UnpricedCalls</c>, whose
/// failure lists the offending calls (route, model, tokens), and <c>Has.UnpricedCalls</c>.
/// </summary>
internal sealed class CallKindConstraint(CallKind kind) : Constraint
{
    public override string Description => kind == CallKind.Unpriced ? "any unpriced call" : "any call without usage";

    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        var snapshot = Snapshots.Of(actual);
        var matching = snapshot.Calls.Where(c => kind == CallKind.Unpriced ? c.CostSource == CostSource.Unpriced : c.UsageStatus == UsageStatus.Missing).ToList();
        var what = kind == CallKind.Unpriced ? "unpriced" : "without usage";
        var text = matching.Count == 0
            ? $"no call {what} among {snapshot.Calls.Count}:\n{snapshot.DescribeCalls("    ")}"
            : string.Create(CultureInfo.InvariantCulture, $"{matching.Count} call{(matching.Count == 1 ? "" : "s")} {what} (of {snapshot.Calls.Count}):\n{Snapshots.Subset(snapshot, matching).DescribeCalls("    ")}");
        return new ConstraintResult(this, new Shown(text), matching.Count > 0);
    }
}

/// <summary>Succeeds when the test's budget raised an event of a kind; <c>Has.No.BudgetRefusals</c> fails listing them.</summary>
internal sealed class BudgetEventConstraint(BudgetEventKind kind) : Constraint
{
    public override string Description => kind == BudgetEventKind.Refusal ? "any budget refusal" : "any budget warning";

    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        var snapshot = Snapshots.Of(actual);
        var events = snapshot.BudgetEvents.Where(e => e.Kind == kind).ToList();
        var what = kind == BudgetEventKind.Refusal ? "refusal" : "warning";
        var text = events.Count == 0
            ? $"no budget {what} ({snapshot.BudgetEvents.Count} budget event{(snapshot.BudgetEvents.Count == 1 ? "" : "s")} in all); spent {snapshot.Summary()}"
            : string.Create(CultureInfo.InvariantCulture, $"{events.Count} budget {what}{(events.Count == 1 ? "" : "s")}:\n{string.Join("\n", events.Select(e => "    " + e.Message))}\n  the calls:\n{snapshot.DescribeCalls("    ")}");
        return new ConstraintResult(this, new Shown(text), events.Count > 0);
    }
}

/// <summary>An actual value NUnit prints as its text (inside NUnit's angle brackets).</summary>
internal sealed record Shown(string Text)
{
    public override string ToString() => Text;
}
