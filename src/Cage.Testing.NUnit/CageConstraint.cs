using System.Globalization;
using NUnit.Framework.Constraints;

namespace CageNet.Testing.NUnit;

/// <summary>How a measured figure is compared with the expected one.</summary>
internal enum Comparison
{
    AtMost,
    AtLeast,
    Exactly,
}

/// <summary>
/// A constraint on one figure of what a test's meter recorded (spend, a call count, a token count). The actual value is
/// a <see cref="CageTestContext"/> (flushed first), a <see cref="CageTestSnapshot"/> or an <see cref="CageNet.Ledger.InMemoryLedger"/>.
/// A failure shows the figure and lists the calls behind it: route, model, tokens and cost.
/// </summary>
internal sealed class CageConstraint : Constraint
{
    private readonly Measure _measure;
    private readonly Comparison _comparison;
    private readonly decimal _expected;

    internal CageConstraint(Measure measure, Comparison comparison, decimal expected)
        : base(expected)
    {
        if (expected < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(expected), expected, "an expected cost or count is ≥ 0");
        }

        _measure = measure;
        _comparison = comparison;
        _expected = expected;
    }

    /// <inheritdoc />
    public override string Description => _measure.Describe(_comparison, _expected);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The actual value is not a context, a snapshot or an in-memory ledger.</exception>
    public override ConstraintResult ApplyTo<TActual>(TActual actual)
    {
        var snapshot = Snapshots.Of(actual);
        var calls = _measure.Calls(snapshot);
        var value = _measure.Value(snapshot, calls);
        var ok = _comparison switch
        {
            Comparison.AtMost => value <= _expected,
            Comparison.AtLeast => value >= _expected,
            _ => value == _expected,
        };
        return new CageConstraintResult(this, snapshot, calls, _measure.Show(value, snapshot, calls), ok);
    }
}

/// <summary>A constraint's result that shows the measured figure, then the calls behind it.</summary>
internal sealed class CageConstraintResult(IConstraint constraint, CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls, string shown, bool success)
    : ConstraintResult(constraint, new Shown(shown), success)
{
    public override void WriteActualValueTo(MessageWriter writer) => writer.Write(shown);

    public override void WriteAdditionalLinesTo(MessageWriter writer)
    {
        var view = ReferenceEquals(calls, snapshot.Calls) ? snapshot : Snapshots.Subset(snapshot, calls);
        writer.WriteLine(calls.Count == snapshot.Calls.Count ? "  the calls:" : $"  the {calls.Count} matching call{(calls.Count == 1 ? "" : "s")} of {snapshot.Calls.Count}:");
        writer.WriteLine(view.DescribeCalls("    "));
    }
}

/// <summary>What a <see cref="CageConstraint"/> measures, how it reads, and which calls it counts.</summary>
internal abstract class Measure
{
    public virtual IReadOnlyList<CallRecord> Calls(CageTestSnapshot snapshot) => snapshot.Calls;

    public abstract decimal Value(CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls);

    public abstract string Describe(Comparison comparison, decimal expected);

    public abstract string Show(decimal value, CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls);

    protected static string Bound(Comparison comparison) => comparison switch
    {
        Comparison.AtMost => "at most ",
        Comparison.AtLeast => "at least ",
        _ => "exactly ",
    };

    protected static string Count(decimal n) => n.ToString("#,##0", CultureInfo.InvariantCulture);

    public sealed class SpentUsd : Measure
    {
        public override decimal Value(CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) => snapshot.Spent;

        public override string Describe(Comparison comparison, decimal expected) => "spent " + Bound(comparison) + CageTestFormat.Money(expected);

        public override string Show(decimal value, CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) => "spent " + snapshot.Summary();
    }

    public sealed class CallCount(string? model, string? route) : Measure
    {
        public override IReadOnlyList<CallRecord> Calls(CageTestSnapshot snapshot) =>
            model is null && route is null ? snapshot.Calls
            : [.. snapshot.Calls.Where(c => (model is null || string.Equals(c.Model, model, StringComparison.Ordinal)) && (route is null || string.Equals(c.Route, route, StringComparison.Ordinal)))];

        public override decimal Value(CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) => calls.Count;

        public override string Describe(Comparison comparison, decimal expected) =>
            Bound(comparison) + Count(expected) + (expected == 1 ? " call" : " calls") + Where();

        public override string Show(decimal value, CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) =>
            Count(value) + (value == 1 ? " call" : " calls") + Where() + (calls.Count == snapshot.Calls.Count ? "" : $" (of {snapshot.Calls.Count})");

        private string Where() => (model is null ? "" : $" to {model}") + (route is null ? "" : $" on route {route}");
    }

    public sealed class TokenCount(TokenBucket bucket) : Measure
    {
        public override decimal Value(CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) => snapshot.Tokens(bucket);

        public override string Describe(Comparison comparison, decimal expected) => Bound(comparison) + Count(expected) + Name();

        public override string Show(decimal value, CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) => Count(value) + Name();

        private string Name() => bucket switch
        {
            TokenBucket.Total => " tokens",
            TokenBucket.Input => " uncached input tokens",
            TokenBucket.CacheRead => " cache-read tokens",
            TokenBucket.CacheWrite5m => " 5-minute cache-write tokens",
            TokenBucket.CacheWrite1h => " 1-hour cache-write tokens",
            TokenBucket.Output => " output tokens",
            TokenBucket.Reasoning => " reasoning tokens",
            _ => " prompt tokens",
        };
    }
}

/// <summary>Turns what a test hands to <c>Assert.That</c> into a snapshot.</summary>
internal static class Snapshots
{
    public static CageTestSnapshot Of<TActual>(TActual actual) => actual switch
    {
        CageTestContext context => context.Snapshot(),
        CageTestSnapshot snapshot => snapshot,
        CageNet.Ledger.InMemoryLedger ledger => CageTestSnapshot.Of(ledger),
        null => throw new ArgumentNullException(nameof(actual), "Cage constraints apply to a CageTestContext, a CageTestSnapshot or an InMemoryLedger, not null"),
        _ => throw new ArgumentException($"Cage constraints apply to a CageTestContext, a CageTestSnapshot or an InMemoryLedger, not {actual.GetType().Name}", nameof(actual)),
    };

    public static CageTestSnapshot Subset(CageTestSnapshot snapshot, IReadOnlyList<CallRecord> calls) =>
        new(calls, snapshot.Receipts, snapshot.BudgetEvents);
}
