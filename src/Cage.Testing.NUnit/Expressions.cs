using NUnit.Framework.Constraints;

namespace CageNet.Testing.NUnit;

/// <summary>The spend part of a Cage constraint: <c>Spent.AtMost(0.02m)</c>, or <c>….And.Spent.AtMost(0.02m)</c>.</summary>
public sealed class SpendExpression
{
    private readonly ConstraintExpression? _parent;

    internal SpendExpression(ConstraintExpression? parent) => _parent = parent;

    /// <summary>The priced spend is at most <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The ceiling, US dollars.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtMost(decimal usd) => Build(Comparison.AtMost, usd);

    /// <summary>The priced spend is at least <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The floor, US dollars.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtLeast(decimal usd) => Build(Comparison.AtLeast, usd);

    /// <summary>The priced spend is exactly <paramref name="usd"/> dollars.</summary>
    /// <param name="usd">The amount, US dollars.</param>
    /// <returns>The constraint.</returns>
    public Constraint Exactly(decimal usd) => Build(Comparison.Exactly, usd);

    private Constraint Build(Comparison comparison, decimal usd) => Chain.Append(_parent, new CageConstraint(new Measure.SpentUsd(), comparison, usd));
}

/// <summary>The call-count part of a Cage constraint: <c>Calls.AtMost(3)</c>, <c>Calls.To("gpt-4o").Exactly(2)</c>, <c>….And.Calls.AtMost(3)</c>.</summary>
public sealed class CallCountExpression
{
    private readonly ConstraintExpression? _parent;
    private readonly string? _model;
    private readonly string? _route;

    internal CallCountExpression(ConstraintExpression? parent, string? model = null, string? route = null) => (_parent, _model, _route) = (parent, model, route);

    /// <summary>Counts only the calls served by <paramref name="model"/> (the exact name the provider reported).</summary>
    /// <param name="model">The served model.</param>
    /// <returns>The narrowed expression.</returns>
    public CallCountExpression To(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        return new(_parent, model, _route);
    }

    /// <summary>Counts only the calls of <paramref name="route"/>.</summary>
    /// <param name="route">The route.</param>
    /// <returns>The narrowed expression.</returns>
    public CallCountExpression On(string route)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(route);
        return new(_parent, _model, route);
    }

    /// <summary>At most <paramref name="count"/> calls (attempts) were recorded.</summary>
    /// <param name="count">The ceiling.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtMost(int count) => Build(Comparison.AtMost, count);

    /// <summary>At least <paramref name="count"/> calls were recorded.</summary>
    /// <param name="count">The floor.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtLeast(int count) => Build(Comparison.AtLeast, count);

    /// <summary>Exactly <paramref name="count"/> calls were recorded.</summary>
    /// <param name="count">The count.</param>
    /// <returns>The constraint.</returns>
    public Constraint Exactly(int count) => Build(Comparison.Exactly, count);

    private Constraint Build(Comparison comparison, int count) => Chain.Append(_parent, new CageConstraint(new Measure.CallCount(_model, _route), comparison, count));
}

/// <summary>The token part of a Cage constraint: <c>Tokens.AtMost(10_000)</c>, <c>Tokens.Of(TokenBucket.Output).AtMost(2_000)</c>.</summary>
public sealed class TokenCountExpression
{
    private readonly ConstraintExpression? _parent;
    private readonly TokenBucket _bucket;

    internal TokenCountExpression(ConstraintExpression? parent, TokenBucket bucket) => (_parent, _bucket) = (parent, bucket);

    /// <summary>Counts only one bucket.</summary>
    /// <param name="bucket">The bucket.</param>
    /// <returns>The narrowed expression.</returns>
    public TokenCountExpression Of(TokenBucket bucket) => new(_parent, bucket);

    /// <summary>At most <paramref name="tokens"/> tokens (of the bucket) were billed.</summary>
    /// <param name="tokens">The ceiling.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtMost(long tokens) => Build(Comparison.AtMost, tokens);

    /// <summary>At least <paramref name="tokens"/> tokens were billed.</summary>
    /// <param name="tokens">The floor.</param>
    /// <returns>The constraint.</returns>
    public Constraint AtLeast(long tokens) => Build(Comparison.AtLeast, tokens);

    /// <summary>Exactly <paramref name="tokens"/> tokens were billed.</summary>
    /// <param name="tokens">The count.</param>
    /// <returns>The constraint.</returns>
    public Constraint Exactly(long tokens) => Build(Comparison.Exactly, tokens);

    private Constraint Build(Comparison comparison, long tokens) => Chain.Append(_parent, new CageConstraint(new Measure.TokenCount(_bucket), comparison, tokens));
}

internal static class Chain
{
    /// <summary>A constraint on its own, or appended to the expression it continues (<c>….And.Calls…</c>).</summary>
    public static Constraint Append(ConstraintExpression? parent, Constraint constraint) => parent is null ? constraint : parent.Append(constraint);
}
