using System.Globalization;

namespace CageNet;

/// <summary>
/// A tool's claim that it spared the model some context (or dollars, latency, CO2) — SPEC 2.3.
/// A receipt is marginal by contract: the delta the tool produced at its position in the policy's
/// tool order, given the tools upstream of it. Create one with <see cref="Create"/>, which validates it.
/// </summary>
public sealed class SavingsReceipt
{
    private SavingsReceipt()
    {
    }

    /// <summary>Time-sortable id.</summary>
    public string Id { get; private init; } = "";

    /// <summary>When the receipt was filed, in UTC.</summary>
    public DateTimeOffset Timestamp { get; private init; }

    /// <summary>The call the saving applies to; <see langword="null"/> for a call-less receipt (an eliminated call).</summary>
    public string? CallId { get; private init; }

    /// <summary>The task the saving belongs to.</summary>
    public string? Task { get; private init; }

    /// <summary>The tool that produced the saving (graphify, compressor, cache, router…).</summary>
    public string Tool { get; private init; } = "";

    /// <summary>The unit of <see cref="RawAlternative"/> and <see cref="Actual"/>.</summary>
    public SavingsUnit Unit { get; private init; }

    /// <summary>What it would have been without the tool (≥ 0).</summary>
    public decimal RawAlternative { get; private init; }

    /// <summary>What it was with the tool (≥ 0).</summary>
    public decimal Actual { get; private init; }

    /// <summary>Always <see cref="RawAlternative"/> − <see cref="Actual"/>; negative when the tool made it worse.</summary>
    public decimal Saved => RawAlternative - Actual;

    /// <summary>How the saving is known.</summary>
    public SavingsMethod Method { get; private init; }

    /// <summary>Confidence in the saving, 0..1.</summary>
    public double Confidence { get; private init; }

    /// <summary>Small free-form metadata. <c>tool_cost_usd</c> and <c>added_latency_ms</c> feed ROI.</summary>
    public IReadOnlyDictionary<string, string> Meta { get; private init; } = EmptyMeta;

    /// <summary>The tool's own cost in dollars (<c>meta.tool_cost_usd</c>), when given.</summary>
    public decimal? ToolCostUsd =>
        Meta.TryGetValue("tool_cost_usd", out var text) &&
        decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>Latency the tool added in milliseconds (<c>meta.added_latency_ms</c>), when given.</summary>
    public double? AddedLatencyMs =>
        Meta.TryGetValue("added_latency_ms", out var text) &&
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static readonly IReadOnlyDictionary<string, string> EmptyMeta = new Dictionary<string, string>();

    /// <summary>Creates a validated receipt.</summary>
    /// <param name="id">The receipt id; use <see cref="CageIds.NewReceiptId(TimeProvider)"/> for a new one.</param>
    /// <param name="timestamp">When it was filed (converted to UTC, millisecond precision).</param>
    /// <param name="tool">The tool name; required.</param>
    /// <param name="rawAlternative">What it would have been without the tool; ≥ 0.</param>
    /// <param name="actual">What it was with the tool; ≥ 0.</param>
    /// <param name="callId">The call the saving applies to, or <see langword="null"/>/empty for none.</param>
    /// <param name="task">The task.</param>
    /// <param name="unit">The unit; default tokens.</param>
    /// <param name="method">How it is known; default modeled.</param>
    /// <param name="confidence">0..1; default 1.</param>
    /// <param name="meta">Small metadata, copied.</param>
    /// <exception cref="CageValidationException">A field is invalid; the exception names it.</exception>
    public static SavingsReceipt Create(
        string id,
        DateTimeOffset timestamp,
        string tool,
        decimal rawAlternative,
        decimal actual,
        string? callId = null,
        string? task = null,
        SavingsUnit unit = SavingsUnit.Tokens,
        SavingsMethod method = SavingsMethod.Modeled,
        double confidence = 1.0,
        IReadOnlyDictionary<string, string>? meta = null)
    {
        if (string.IsNullOrWhiteSpace(id)) throw new CageValidationException("id", "a receipt needs an id");
        if (string.IsNullOrWhiteSpace(tool)) throw new CageValidationException("tool", "a receipt needs a tool name");
        if (rawAlternative < 0) throw new CageValidationException("raw_alternative", $"raw_alternative must be >= 0 (got {rawAlternative.ToString(CultureInfo.InvariantCulture)})");
        if (actual < 0) throw new CageValidationException("actual", $"actual must be >= 0 (got {actual.ToString(CultureInfo.InvariantCulture)})");
        if (!Enum.IsDefined(unit)) throw new CageValidationException("unit", $"unknown unit {(int)unit}; expected tokens, usd, ms or gco2");
        CheckMagnitude("raw_alternative", rawAlternative, unit);
        CheckMagnitude("actual", actual, unit);
        if (!Enum.IsDefined(method)) throw new CageValidationException("method", $"unknown method {(int)method}; expected measured, modeled or estimated");
        if (!double.IsFinite(confidence) || confidence < 0 || confidence > 1)
        {
            throw new CageValidationException("confidence", $"confidence must be a number in 0..1 (got {confidence.ToString(CultureInfo.InvariantCulture)})");
        }

        if (meta is not null)
        {
            CheckMetaAmount(meta, "tool_cost_usd", SavingsUnit.Usd);
            CheckMetaAmount(meta, "added_latency_ms", SavingsUnit.Ms);
        }

        return new SavingsReceipt
        {
            Id = id,
            Timestamp = CageIds.TruncateToMilliseconds(timestamp),
            Tool = tool,
            RawAlternative = rawAlternative,
            Actual = actual,
            CallId = string.IsNullOrEmpty(callId) ? null : callId,
            Task = string.IsNullOrEmpty(task) ? null : task,
            Unit = unit,
            Method = method,
            Confidence = confidence,
            Meta = meta is null || meta.Count == 0 ? EmptyMeta : new Dictionary<string, string>(meta, StringComparer.Ordinal),
        };
    }

    /// <summary>A copy under another id (the ledger stores a different receipt that came with a taken id so).</summary>
    internal SavingsReceipt WithId(string id) => new()
    {
        Id = id, Timestamp = Timestamp, Tool = Tool, RawAlternative = RawAlternative, Actual = Actual, CallId = CallId, Task = Task,
        Unit = Unit, Method = Method, Confidence = Confidence, Meta = Meta,
    };

    /// <summary>
    /// The largest amount one receipt may claim in a unit: a billion tokens (the bound of one call's token bucket,
    /// <see cref="TokenUsage.MaxTokensPerBucket"/>), a million dollars, a year of milliseconds, a thousand tonnes of
    /// CO2. Anything larger is a corrupt or hostile number, refused before it can dwarf every real saving in a total.
    /// </summary>
    internal static decimal MaxAmount(SavingsUnit unit) => unit switch
    {
        SavingsUnit.Usd => 1_000_000m,
        SavingsUnit.Ms => 31_536_000_000m,
        SavingsUnit.Gco2 => 1_000_000_000m,
        _ => TokenUsage.MaxTokensPerBucket,
    };

    private static void CheckMagnitude(string field, decimal value, SavingsUnit unit)
    {
        var max = MaxAmount(unit);
        if (value > max)
        {
            throw new CageValidationException(field, string.Create(CultureInfo.InvariantCulture,
                $"{field} {value:G6} is above the {max:N0} {unit.ToWire()} one receipt can claim (a corrupt number?)"));
        }
    }

    private static void CheckMetaAmount(IReadOnlyDictionary<string, string> meta, string key, SavingsUnit unit)
    {
        if (meta.TryGetValue(key, out var text) &&
            decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            if (value < 0)
            {
                throw new CageValidationException("meta." + key, string.Create(CultureInfo.InvariantCulture, $"meta.{key} must be >= 0 (got {value:G6})"));
            }

            CheckMagnitude("meta." + key, value, unit);
        }
    }

    /// <summary>
    /// Converts a number read from outside (JSON, a tool) into a receipt amount, rejecting NaN, infinities,
    /// negatives and values beyond <see cref="decimal"/> range.
    /// </summary>
    /// <param name="field">The field name used in the error.</param>
    /// <param name="value">The number.</param>
    /// <exception cref="CageValidationException">The number is not finite, negative or too large.</exception>
    internal static decimal ToAmount(string field, double value)
    {
        if (!double.IsFinite(value)) throw new CageValidationException(field, $"{field} must be a finite number (got {value.ToString(CultureInfo.InvariantCulture)})");
        if (value < 0) throw new CageValidationException(field, $"{field} must be >= 0 (got {value.ToString(CultureInfo.InvariantCulture)})");
        if (value > (double)decimal.MaxValue / 2) throw new CageValidationException(field, $"{field} is too large (got {value.ToString(CultureInfo.InvariantCulture)})");
        return (decimal)value;
    }
}

/// <summary>A record or receipt field failed validation. <see cref="Field"/> names it.</summary>
public sealed class CageValidationException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The offending field (snake_case, as on the wire).</param>
    /// <param name="message">What is wrong with it.</param>
    public CageValidationException(string field, string message)
        : base(message, field)
    {
        Field = field;
        Reason = message;
    }

    /// <summary>What is wrong, without the <c>(Parameter 'field')</c> suffix <see cref="ArgumentException.Message"/> adds.</summary>
    internal string Reason { get; }

    /// <summary>The offending field, as named on the wire.</summary>
    public string Field { get; }
}
