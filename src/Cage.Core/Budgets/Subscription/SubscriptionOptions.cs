namespace CageNet.Budgets.Subscription;

/// <summary>Settings of the subscription-window estimator (SPEC 7.6): the <c>Cage:Budgets:Subscription</c> section.</summary>
public sealed class SubscriptionOptions
{
    /// <summary>
    /// The default window (<c>5h</c> or <c>7d</c>) of the estimator's methods that take none (<c>TokensPerPercent(class)</c>,
    /// <c>AddSnapshot(class, …)</c>, <c>Reconcile(delta, turns)</c>). Both windows are calibrated from their own readings. Default <c>5h</c>.
    /// </summary>
    public string Window { get; set; } = "5h";

    /// <summary>The EMA smoothing factor for tokens-per-percent, in (0, 1]. Default 0.3.</summary>
    public double Alpha { get; set; } = 0.3;

    /// <summary>
    /// Tokens of a class with relative cost 1 (haiku) per 1% of the window, used until some class is calibrated by
    /// two snapshots. A guess: calibrate from real headers. Default 40,000.
    /// </summary>
    public double BootstrapTokensPerPct { get; set; } = 40_000;

    /// <summary>
    /// The same for the <c>7d</c> window: tokens of a relative-cost-1 class per 1% of the week, until that window is
    /// calibrated. A guess (a week taken as about ten full 5-hour windows): calibrate from real headers. Default 400,000.
    /// </summary>
    public double WeeklyBootstrapTokensPerPct { get; set; } = 400_000;

    /// <summary>Relative cost per class used until a class has two snapshots. Default haiku=1, sonnet=5, opus=25.</summary>
    public IDictionary<string, double> RelativeCosts { get; } = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase)
    {
        ["haiku"] = 1, ["sonnet"] = 5, ["opus"] = 25,
    };

    /// <summary>Model-name patterns per class (<c>*</c> matches any run of characters, case-insensitive). Default <c>*haiku*</c>, <c>*sonnet*</c>, <c>*opus*</c>.</summary>
    public IDictionary<string, IList<string>> Classes { get; } = new Dictionary<string, IList<string>>(StringComparer.OrdinalIgnoreCase)
    {
        ["haiku"] = ["*haiku*"], ["sonnet"] = ["*sonnet*"], ["opus"] = ["*opus*"],
    };

    /// <summary>The class of models no pattern matches, and of subscription-percent caps that name none. Default <c>sonnet</c>.</summary>
    public string DefaultClass { get; set; } = "sonnet";

    /// <summary>A reconciliation whose estimate is off by more than this fraction of the measured delta is a mismatch. Default 0.25.</summary>
    public double MismatchTolerance { get; set; } = 0.25;

    /// <summary>Consecutive mismatched reconciliations after which the estimator recalibrates. Default 3.</summary>
    public int RecalibrateAfter { get; set; } = 3;
}
