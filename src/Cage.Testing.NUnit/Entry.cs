using System.Runtime.CompilerServices;
using NUnit.Framework.Constraints;

namespace CageNet.Testing.NUnit;

/// <summary>Constraints on what a test spent: <c>Assert.That(cage, Spent.AtMost(0.02m))</c>.</summary>
public static class Spent
{
    /// <summary>The priced spend is at most <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The ceiling, US dollars.</param>
    /// <returns>The constraint; continue with <c>.And.Calls.AtMost(3)</c>.</returns>
    public static Constraint AtMost(decimal usd) => new SpendExpression(null).AtMost(usd);

    /// <summary>The priced spend is at least <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The floor, US dollars.</param>
    /// <returns>The constraint.</returns>
    public static Constraint AtLeast(decimal usd) => new SpendExpression(null).AtLeast(usd);

    /// <summary>The priced spend is exactly <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The amount, US dollars.</param>
    /// <returns>The constraint.</returns>
    public static Constraint Exactly(decimal usd) => new SpendExpression(null).Exactly(usd);
}

/// <summary>Constraints on how many calls a test made: <c>Assert.That(cage, Calls.AtMost(3))</c>, <c>Calls.To("gpt-4o").Exactly(2)</c>.</summary>
public static class Calls
{
    /// <summary>At most <paramref name="count"/> calls (attempts) were recorded.</summary>
    /// <param name="count">The ceiling.</param>
    /// <returns>The constraint.</returns>
    public static Constraint AtMost(int count) => new CallCountExpression(null).AtMost(count);

    /// <summary>At least <paramref name="count"/> calls were recorded.</summary>
    /// <param name="count">The floor.</param>
    /// <returns>The constraint.</returns>
    public static Constraint AtLeast(int count) => new CallCountExpression(null).AtLeast(count);

    /// <summary>Exactly <paramref name="count"/> calls were recorded.</summary>
    /// <param name="count">The count.</param>
    /// <returns>The constraint.</returns>
    public static Constraint Exactly(int count) => new CallCountExpression(null).Exactly(count);

    /// <summary>Counts only the calls served by <paramref name="model"/> (the exact name the provider reported).</summary>
    /// <param name="model">The served model.</param>
    /// <returns>The expression.</returns>
    public static CallCountExpression To(string model) => new CallCountExpression(null).To(model);

    /// <summary>Counts only the calls of <paramref name="route"/>.</summary>
    /// <param name="route">The route.</param>
    /// <returns>The expression.</returns>
    public static CallCountExpression On(string route) => new CallCountExpression(null).On(route);
}

/// <summary>Constraints on the tokens a test billed: <c>Assert.That(cage, Tokens.AtMost(10_000))</c>, <c>Tokens.Of(TokenBucket.Output).AtMost(2_000)</c>.</summary>
public static class Tokens
{
    /// <summary>At most <paramref name="tokens"/> tokens were billed in all.</summary>
    /// <param name="tokens">The ceiling.</param>
    /// <returns>The constraint.</returns>
    public static Constraint AtMost(long tokens) => new TokenCountExpression(null, TokenBucket.Total).AtMost(tokens);

    /// <summary>At least <paramref name="tokens"/> tokens were billed in all.</summary>
    /// <param name="tokens">The floor.</param>
    /// <returns>The constraint.</returns>
    public static Constraint AtLeast(long tokens) => new TokenCountExpression(null, TokenBucket.Total).AtLeast(tokens);

    /// <summary>Exactly <paramref name="tokens"/> tokens were billed in all.</summary>
    /// <param name="tokens">The count.</param>
    /// <returns>The constraint.</returns>
    public static Constraint Exactly(long tokens) => new TokenCountExpression(null, TokenBucket.Total).Exactly(tokens);

    /// <summary>Counts only one bucket.</summary>
    /// <param name="bucket">The bucket.</param>
    /// <returns>The expression.</returns>
    public static TokenCountExpression Of(TokenBucket bucket) => new(null, bucket);
}

/// <summary>Cost baselines: <c>Assert.That(cage, Cost.MatchesBaseline("agent-answers"))</c>.</summary>
public static class Cost
{
    /// <summary>The NUnit run parameter or test property that updates baselines, as <see cref="CostBaseline.UpdateVariable"/> does.</summary>
    public const string UpdateParameter = CostBaseline.UpdateVariable;

    /// <summary>
    /// The scenario's spend, calls and tokens are within <paramref name="tolerance"/> of the committed baseline
    /// <c>baselines/&lt;name&gt;.json</c> beside the test's source file (see <see cref="CostBaseline.PathFor"/>). A
    /// regression fails with a diff and the calls. To record or accept new figures set <c>CAGE_UPDATE_BASELINES=1</c>,
    /// or the NUnit run parameter / test property <c>CAGE_UPDATE_BASELINES</c> to <c>1</c>; then commit the file.
    /// </summary>
    /// <param name="name">The scenario name (<c>agent-answers</c>), or a path (relative to the test's source folder).</param>
    /// <param name="tolerance">The allowed rise in cost, tokens and calls, as a fraction; default 0.05 (5%).</param>
    /// <param name="sourceFile">Filled in by the compiler: the calling test's source file.</param>
    /// <returns>The constraint.</returns>
    public static Constraint MatchesBaseline(string name, double tolerance = CostBaseline.DefaultTolerance, [CallerFilePath] string sourceFile = "")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new CostBaselineConstraint(name, CostBaseline.PathFor(name, sourceFile), tolerance);
    }
}

/// <summary>
/// Cage's additions to NUnit's syntax: <c>….And.Calls.AtMost(3)</c>, <c>….And.Spent.AtMost(0.02m)</c>,
/// <c>Has.No.UnpricedCalls</c>, <c>Has.No.BudgetRefusals</c> (C# 14 extension members).
/// </summary>
public static class CageConstraintExtensions
{
    /// <summary>Continues an NUnit constraint expression (<c>Spent.AtMost(0.02m).And</c>, <c>Has.No</c>) with a Cage constraint.</summary>
    /// <param name="expression">The expression.</param>
    extension(ConstraintExpression expression)
    {
        /// <summary>The spend: <c>….And.Spent.AtMost(0.02m)</c>.</summary>
        public SpendExpression Spent => new(expression);

        /// <summary>The call count: <c>….And.Calls.AtMost(3)</c>.</summary>
        public CallCountExpression Calls => new(expression);

        /// <summary>The token count: <c>….And.Tokens.AtMost(10_000)</c>.</summary>
        public TokenCountExpression Tokens => new(expression, TokenBucket.Total);

        /// <summary>Some call is unpriced (a model the prices do not know): <c>Has.No.UnpricedCalls</c> fails listing them.</summary>
        public Constraint UnpricedCalls => expression.Append(new CallKindConstraint(CallKind.Unpriced));

        /// <summary>Some call's usage never arrived: <c>Has.No.MissingUsage</c> fails listing them.</summary>
        public Constraint MissingUsage => expression.Append(new CallKindConstraint(CallKind.MissingUsage));

        /// <summary>A budget refused a call: <c>Has.No.BudgetRefusals</c>, or <c>Has.BudgetRefusals</c>.</summary>
        public Constraint BudgetRefusals => expression.Append(new BudgetEventConstraint(BudgetEventKind.Refusal));

        /// <summary>A budget warn threshold was crossed: <c>Has.No.BudgetWarnings</c>.</summary>
        public Constraint BudgetWarnings => expression.Append(new BudgetEventConstraint(BudgetEventKind.Warning));
    }

    /// <summary>Cage's constraints as members of NUnit's <c>Has</c>.</summary>
    extension(global::NUnit.Framework.Has)
    {
        /// <summary>Some call is unpriced: <c>Assert.That(cage, Has.UnpricedCalls)</c>.</summary>
        public static Constraint UnpricedCalls => new CallKindConstraint(CallKind.Unpriced);

        /// <summary>Some call's usage never arrived: <c>Assert.That(cage, Has.MissingUsage)</c>.</summary>
        public static Constraint MissingUsage => new CallKindConstraint(CallKind.MissingUsage);

        /// <summary>A budget refused a call: <c>Assert.That(cage, Has.BudgetRefusals)</c>.</summary>
        public static Constraint BudgetRefusals => new BudgetEventConstraint(BudgetEventKind.Refusal);

        /// <summary>A budget warn threshold was crossed: <c>Assert.That(cage, Has.BudgetWarnings)</c>.</summary>
        public static Constraint BudgetWarnings => new BudgetEventConstraint(BudgetEventKind.Warning);
    }
}
