using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Ledger;

namespace CageNet.Views;

/// <summary>
/// Every view over a ledger in the two forms the <c>cage</c> CLI prints: <c>Text</c>, the table a person reads, and
/// <c>Json</c>, the <c>--json</c> shape a program reads (indented snake_case, <c>\n</c> line ends, money as exact
/// decimals with no trailing zeros, an unknown cost as <c>null</c>, never <c>0</c>). The dashboard and the MCP server
/// return these same shapes, so a number read from any of them equals the CLI's. The same inputs always give
/// byte-identical text.
/// </summary>
/// <remarks>
/// The views only render: compute their inputs with <see cref="ILedgerReader"/> (<c>ReportAsync</c>, <c>FindCallAsync</c>,
/// <c>ReceiptsForCallAsync</c>), <see cref="IAttributionService"/> and <see cref="BudgetGuard"/>.
/// </remarks>
public static class CageViews
{
    /// <summary>The name of each report dimension as the CLI spells it (<c>--by</c> values and the JSON <c>dim</c> field).</summary>
    public static IReadOnlyDictionary<string, ReportDimension> Dimensions => ReportView.Dimensions;

    /// <summary>The JSON of a report: <c>dim</c>, the window, <c>groups</c> keyed by group and the <c>total</c>.</summary>
    /// <param name="report">The report, from <see cref="ILedgerReader.ReportAsync"/>.</param>
    public static string Json(SpendReport report) => ReportView.Json(report);

    /// <summary>A report as a table, most expensive group first, with a TOTAL row.</summary>
    /// <param name="report">The report, from <see cref="ILedgerReader.ReportAsync"/>.</param>
    public static string Text(SpendReport report) => ReportView.Text(report);

    /// <summary>
    /// The JSON of one task's attribution (<c>cage attrib --json</c>): per tool, tokens and dollars saved, the method and
    /// its confidence, and the residuals; <c>{"task": null}</c> when the ledger has no task.
    /// </summary>
    /// <param name="attribution">The attribution, from <see cref="IAttributionService.AttributeAsync"/>, or <see langword="null"/>.</param>
    public static string Json(TaskAttribution? attribution) => attribution is null ? NoTaskJson() : AttributionView.Json(attribution);

    /// <summary>One task's attribution as a table, or the message that says how to record a task when there is none.</summary>
    /// <param name="attribution">The attribution, from <see cref="IAttributionService.AttributeAsync"/>, or <see langword="null"/>.</param>
    public static string Text(TaskAttribution? attribution) => attribution is null ? AttributionView.NoTaskMessage : AttributionView.Text(attribution);

    /// <summary>
    /// The JSON of one task's counterfactual matrix (<c>cage matrix --json</c>): every on/off combination of its tools
    /// with its cost and whether the cell is measured, modeled or estimated; <c>{"task": null}</c> when there is no task.
    /// </summary>
    /// <param name="matrix">The matrix, from <see cref="IAttributionService.MatrixAsync"/>, or <see langword="null"/>.</param>
    public static string Json(CounterfactualMatrix? matrix) => matrix is null ? NoTaskJson() : AttributionView.Json(matrix);

    /// <summary>One task's counterfactual matrix as a table, with its footer (the saving of the whole stack).</summary>
    /// <param name="matrix">The matrix, from <see cref="IAttributionService.MatrixAsync"/>, or <see langword="null"/>.</param>
    public static string Text(CounterfactualMatrix? matrix) => matrix is null ? AttributionView.NoTaskMessage : AttributionView.Text(matrix);

    /// <summary>The JSON of the per-tool ROI (<c>cage roi --json</c>).</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RoiAsync"/>.</param>
    /// <param name="since">The window's start as the user wrote it (<c>7d</c>), echoed in the <c>since</c> field; <see langword="null"/> for all time.</param>
    public static string Json(RoiReport report, string? since = null) => InsightViews.RoiJson(report, since);

    /// <summary>The per-tool ROI as a table.</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RoiAsync"/>.</param>
    public static string Text(RoiReport report) => InsightViews.RoiText(report);

    /// <summary>The JSON of the per-route recommendations (<c>cage recommend --json</c>).</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RecommendAsync"/>.</param>
    /// <param name="since">The window's start as the user wrote it, echoed in the <c>since</c> field; <see langword="null"/> for all time.</param>
    public static string Json(RecommendationReport report, string? since = null) => InsightViews.RecommendJson(report, since);

    /// <summary>The per-route recommendations as a table.</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RecommendAsync"/>.</param>
    public static string Text(RecommendationReport report) => InsightViews.RecommendText(report);

    /// <summary>The JSON of the cost per successful task (<c>cage quality --json</c>).</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.QualityAsync"/>.</param>
    /// <param name="since">The window's start as the user wrote it, echoed in the <c>since</c> field; <see langword="null"/> for all time.</param>
    public static string Json(QualityReport report, string? since = null) => InsightViews.QualityJson(report, since);

    /// <summary>The cost per successful task as a table.</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.QualityAsync"/>.</param>
    public static string Text(QualityReport report) => InsightViews.QualityText(report);

    /// <summary>The JSON of a regression check (<c>cage regression --json</c>).</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RegressionAsync"/>.</param>
    /// <param name="since">The recent window as the user wrote it (<c>7d</c>).</param>
    /// <param name="baseline">The baseline span as the user wrote it (<c>28d</c>).</param>
    public static string Json(RegressionReport report, string since, string baseline) => InsightViews.RegressionJson(report, since, baseline);

    /// <summary>A regression check as a table, with the likely cause of each regression.</summary>
    /// <param name="report">The report, from <see cref="IAttributionService.RegressionAsync"/>.</param>
    public static string Text(RegressionReport report) => InsightViews.RegressionText(report);

    /// <summary>The JSON of the month-end forecast (<c>cage forecast --json</c>).</summary>
    /// <param name="forecast">The forecast, from <see cref="IAttributionService.ForecastAsync"/>.</param>
    public static string Json(SpendForecast forecast) => InsightViews.ForecastJson(forecast);

    /// <summary>The month-end forecast as text.</summary>
    /// <param name="forecast">The forecast, from <see cref="IAttributionService.ForecastAsync"/>.</param>
    public static string Text(SpendForecast forecast) => InsightViews.ForecastText(forecast);

    /// <summary>The JSON of the budget tree's status (<c>cage budget --json</c>): per node spent, reserved, cap, headroom, period and reset, and the warnings fired.</summary>
    /// <param name="status">The status, from <see cref="BudgetGuard.GetStatus(BudgetScope)"/>.</param>
    /// <param name="options">The budget configuration the status was computed under.</param>
    /// <param name="timeZone">The time zone the periods are counted in.</param>
    /// <param name="tree">The whole tree's rows to show (<c>BudgetGuard</c>'s tree for the same scope); <see langword="null"/> shows the status's own nodes.</param>
    public static string Json(BudgetStatus status, BudgetOptions options, TimeZoneInfo timeZone, BudgetStatus? tree = null) => BudgetView.Json(options, timeZone, status, tree);

    /// <summary>The budget tree's status as a table.</summary>
    /// <param name="status">The status, from <see cref="BudgetGuard.GetStatus(BudgetScope)"/>.</param>
    /// <param name="options">The budget configuration the status was computed under.</param>
    /// <param name="source">Where that configuration came from, named in the output.</param>
    /// <param name="tree">The whole tree's rows to show; <see langword="null"/> shows the status's own nodes.</param>
    public static string Text(BudgetStatus status, BudgetOptions options, string source, BudgetStatus? tree = null) => BudgetView.Text(options, status, source, tree);

    /// <summary>The JSON of one call's provenance (<c>cage why --json</c>): the call, its buckets and prices, every receipt against it and the residual.</summary>
    /// <param name="call">The call, from <see cref="ILedgerReader.FindCallAsync"/>.</param>
    /// <param name="receipts">Its receipts, from <see cref="ILedgerReader.ReceiptsForCallAsync"/>.</param>
    public static string Json(CallRecord call, IReadOnlyList<SavingsReceipt> receipts) => WhyView.Json(call, receipts);

    /// <summary>One call's provenance as text.</summary>
    /// <param name="call">The call, from <see cref="ILedgerReader.FindCallAsync"/>.</param>
    /// <param name="receipts">Its receipts, from <see cref="ILedgerReader.ReceiptsForCallAsync"/>.</param>
    public static string Text(CallRecord call, IReadOnlyList<SavingsReceipt> receipts) => WhyView.Text(call, receipts);

    /// <summary>The JSON of one savings receipt, as each entry of <c>receipts</c> in <c>cage why --json</c> shows it.</summary>
    /// <param name="receipt">The receipt.</param>
    public static string Json(SavingsReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return JsonOutput.Write(w => ReferenceJsonl.WriteReceipt(w, receipt));
    }

    private static string NoTaskJson() => JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNull("task");
        w.WriteEndObject();
    });
}
