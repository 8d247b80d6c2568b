namespace CageNet.Budgets;

/// <summary>
/// Why a call was refused before it was sent (SPEC 7.5): the node that is at its cap, what it spent, its cap and when
/// its period resets. In a Microsoft.Extensions.AI loop it becomes a response with <see cref="StopReason"/>, or a
/// <see cref="BudgetExceededException"/>.
/// </summary>
public sealed class BudgetRefusal
{
    /// <summary>The stop reason of a refused call: <c>budget_exceeded</c>.</summary>
    public const string BudgetExceeded = "budget_exceeded";

    internal BudgetRefusal(string node, string metric, decimal spent, decimal reserved, decimal cap, decimal requested, BudgetPeriod period, DateTimeOffset? resetsAt, string message)
    {
        Node = node;
        Metric = metric;
        Spent = spent;
        Reserved = reserved;
        Cap = cap;
        Requested = requested;
        Period = period;
        ResetsAt = resetsAt;
        Message = message;
    }

    /// <summary>Always <see cref="BudgetExceeded"/>.</summary>
    public string StopReason => BudgetExceeded;

    /// <summary>The node path (<c>org/users/alice</c>).</summary>
    public string Node { get; }

    /// <summary><c>usd</c> or <c>tokens</c>.</summary>
    public string Metric { get; }

    /// <summary>What the node spent this period (dollars, or tokens).</summary>
    public decimal Spent { get; }

    /// <summary>What open reservations hold on the node.</summary>
    public decimal Reserved { get; }

    /// <summary>The node's cap.</summary>
    public decimal Cap { get; }

    /// <summary>The estimate the refused call asked for.</summary>
    public decimal Requested { get; }

    /// <summary>The node's period.</summary>
    public BudgetPeriod Period { get; }

    /// <summary>When the period resets (<see langword="null"/> for lifetime budgets).</summary>
    public DateTimeOffset? ResetsAt { get; }

    /// <summary>A one-line explanation with 6-decimal dollars.</summary>
    public string Message { get; }

    /// <inheritdoc/>
    public override string ToString() => Message;
}

/// <summary>Thrown by <see cref="BudgetGuard.Reserve(BudgetScope, decimal, long)"/> when a block node refuses the call.</summary>
public sealed class BudgetExceededException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="refusal">The refusal.</param>
    public BudgetExceededException(BudgetRefusal refusal)
        : base((refusal ?? throw new ArgumentNullException(nameof(refusal))).Message)
    {
        Refusal = refusal;
    }

    /// <summary>Creates the exception.</summary>
    public BudgetExceededException()
        : this("budget exceeded")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public BudgetExceededException(string message)
        : base(message)
    {
        Refusal = new BudgetRefusal("", "usd", 0, 0, 0, 0, BudgetPeriod.Lifetime, null, message);
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BudgetExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Refusal = new BudgetRefusal("", "usd", 0, 0, 0, 0, BudgetPeriod.Lifetime, null, message);
    }

    /// <summary>The refusal.</summary>
    public BudgetRefusal Refusal { get; }

    /// <summary>Always <c>budget_exceeded</c>.</summary>
    public string StopReason => BudgetRefusal.BudgetExceeded;
}

/// <summary>The budget state for a scope (SPEC 7.8): every node it charges, root first.</summary>
public sealed class BudgetStatus
{
    internal BudgetStatus(DateTimeOffset asOf, IReadOnlyList<BudgetNodeStatus> nodes)
    {
        AsOf = asOf;
        Nodes = nodes;
    }

    /// <summary>When it was taken.</summary>
    public DateTimeOffset AsOf { get; }

    /// <summary>The nodes, parents before children.</summary>
    public IReadOnlyList<BudgetNodeStatus> Nodes { get; }

    /// <summary>Whether any node is at or over a cap (spent + reserved, as admission counts it).</summary>
    public bool Over => Nodes.Any(n => n.Over);

    /// <summary>
    /// Whether a call with a zero estimate would be admitted now: no blocking node has spent + reserved at its cap (a
    /// positive estimate is also refused when it would take a node past its cap: use <see cref="BudgetGuard.Check"/>).
    /// </summary>
    public bool Proceed => !Nodes.Any(n => n.Over && n.OnExceed == BudgetExceedAction.Block);
}

/// <summary>One node's state for the current period.</summary>
public sealed class BudgetNodeStatus
{
    internal BudgetNodeStatus(string path, string template, bool bound, BudgetPeriod period, BudgetExceedAction onExceed, DateTimeOffset? periodStart, DateTimeOffset? resetsAt, BudgetMetricStatus usd, BudgetMetricStatus tokens, IReadOnlyList<string> warningsFired, long unpricedCalls = 0, bool usdIsLowerBound = false)
    {
        UnpricedCalls = unpricedCalls;
        UsdIsLowerBound = usdIsLowerBound;
        Path = path;
        Template = template;
        Bound = bound;
        Period = period;
        OnExceed = onExceed;
        PeriodStart = periodStart;
        ResetsAt = resetsAt;
        Usd = usd;
        Tokens = tokens;
        WarningsFired = warningsFired;
    }

    /// <summary>The concrete path (<c>org/users/alice</c>), or the template when the scope does not bind it.</summary>
    public string Path { get; }

    /// <summary>The configured path (<c>org/users/{user}</c>).</summary>
    public string Template { get; }

    /// <summary>Whether the scope binds the node's template variables (an unbound template shows zero spend).</summary>
    public bool Bound { get; }

    /// <summary>The period.</summary>
    public BudgetPeriod Period { get; }

    /// <summary>The exceed action.</summary>
    public BudgetExceedAction OnExceed { get; }

    /// <summary>When the current period started (<see langword="null"/> for lifetime or a closed 5h window).</summary>
    public DateTimeOffset? PeriodStart { get; }

    /// <summary>When it resets (<see langword="null"/> for lifetime or a closed 5h window).</summary>
    public DateTimeOffset? ResetsAt { get; }

    /// <summary>Dollars.</summary>
    public BudgetMetricStatus Usd { get; }

    /// <summary>Tokens.</summary>
    public BudgetMetricStatus Tokens { get; }

    /// <summary>The warn thresholds that fired this period (<c>usd:80%</c>, <c>tokens:100000</c>…).</summary>
    public IReadOnlyList<string> WarningsFired { get; }

    /// <summary>Whether spent + reserved reached a cap.</summary>
    public bool Over => Usd.Over || Tokens.Over;

    /// <summary>
    /// Calls charged this period whose cost was unknown (an unpriced model, or usage that never arrived); charged at
    /// <see cref="BudgetOptions.FallbackUsdPerMillionTokens"/> when set.
    /// </summary>
    public long UnpricedCalls { get; }

    /// <summary>
    /// Whether <see cref="Usd"/> spend is only a lower bound: some calls this period had an unknown cost and no
    /// <see cref="BudgetOptions.FallbackUsdPerMillionTokens"/> is set (their tokens still count against token caps).
    /// </summary>
    public bool UsdIsLowerBound { get; }

    /// <summary>
    /// The labels that pick this node, root first: its template segments' values and the labels its literal segments
    /// stand for (<c>team = team-a</c>, <c>agent = agent-x</c> for <c>org/team-a/agent-x</c>); empty for an unbound row.
    /// </summary>
    public IReadOnlyDictionary<string, string> Labels { get; internal init; } = EmptyLabels;

    private static readonly IReadOnlyDictionary<string, string> EmptyLabels = new Dictionary<string, string>();
}

/// <summary>One metric of a node: spent, held, cap, remaining and percent of cap.</summary>
public sealed class BudgetMetricStatus
{
    internal BudgetMetricStatus(decimal spent, decimal reserved, decimal? cap)
    {
        Spent = spent;
        Reserved = reserved;
        Cap = cap;
    }

    /// <summary>Settled spend this period.</summary>
    public decimal Spent { get; }

    /// <summary>Held by open reservations.</summary>
    public decimal Reserved { get; }

    /// <summary>The cap, or <see langword="null"/>.</summary>
    public decimal? Cap { get; }

    /// <summary>Cap − spent − reserved, never below zero; <see langword="null"/> without a cap.</summary>
    public decimal? Remaining => Cap is { } cap ? Math.Max(0, cap - Spent - Reserved) : null;

    /// <summary>Spent as a percent of the cap (2 decimals); <see langword="null"/> without a positive cap.</summary>
    public decimal? Percent => Cap is { } cap && cap > 0 ? decimal.Round(Spent * 100m / cap, 2) : null;

    /// <summary>Whether spent + reserved reached the cap: a blocking node then refuses the next call, even one estimated at 0.</summary>
    public bool Over => Cap is { } cap && Spent + Reserved >= cap;
}

/// <summary>A warn threshold crossed (SPEC 7.5): raised once per threshold per period, on the call that crossed it.</summary>
public sealed class BudgetWarningEventArgs : EventArgs
{
    internal BudgetWarningEventArgs(string node, string threshold, string metric, decimal thresholdValue, decimal spent, decimal? cap, BudgetPeriod period, DateTimeOffset? resetsAt, string message)
    {
        Node = node;
        Threshold = threshold;
        Metric = metric;
        ThresholdValue = thresholdValue;
        Spent = spent;
        Cap = cap;
        Period = period;
        ResetsAt = resetsAt;
        Message = message;
    }

    /// <summary>The node path.</summary>
    public string Node { get; }

    /// <summary>The threshold key: <c>usd:0.5</c>, <c>tokens:100000</c>, <c>usd:80%</c>.</summary>
    public string Threshold { get; }

    /// <summary><c>usd</c> or <c>tokens</c>.</summary>
    public string Metric { get; }

    /// <summary>The threshold in dollars or tokens.</summary>
    public decimal ThresholdValue { get; }

    /// <summary>Spend after the crossing call.</summary>
    public decimal Spent { get; }

    /// <summary>The node's cap for the metric, if any.</summary>
    public decimal? Cap { get; }

    /// <summary>The period.</summary>
    public BudgetPeriod Period { get; }

    /// <summary>When the period resets.</summary>
    public DateTimeOffset? ResetsAt { get; }

    /// <summary>A one-line message with 6-decimal dollars.</summary>
    public string Message { get; }
}
