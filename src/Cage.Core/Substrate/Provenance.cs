using System.Text.Json.Serialization;

namespace CageNet;

/// <summary>How a call's cost is known (SPEC 1.3).</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<CostSource>))]
public enum CostSource
{
    /// <summary>Priced from the price catalog.</summary>
    Catalog = 0,
    /// <summary>Reported by the provider (for example OpenRouter <c>usage.cost</c>).</summary>
    Provider = 1,
    /// <summary>A local model, free by policy.</summary>
    Local = 2,
    /// <summary>Unknown model: the cost is <see langword="null"/>, never $0.</summary>
    Unpriced = 3,
}

/// <summary>How a call's token counts are known (SPEC 1.3).</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<UsageStatus>))]
public enum UsageStatus
{
    /// <summary>Reported by the provider.</summary>
    Reported = 0,
    /// <summary>The stream ended before usage arrived; the call is recorded, never as a free $0 call.</summary>
    Missing = 1,
    /// <summary>Filled from a heuristic and flagged as such.</summary>
    Estimated = 2,
}

/// <summary>How a tool's saving is known (SPEC 1.3). Ordered from strongest to weakest evidence.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<SavingsMethod>))]
public enum SavingsMethod
{
    /// <summary>Run both ways and measured.</summary>
    Measured = 0,
    /// <summary>Reconstructed from what the tool replaced.</summary>
    Modeled = 1,
    /// <summary>A heuristic.</summary>
    Estimated = 2,
}

/// <summary>The unit a savings receipt is expressed in.</summary>
[JsonConverter(typeof(SnakeCaseEnumConverter<SavingsUnit>))]
public enum SavingsUnit
{
    /// <summary>Prompt tokens; priced at the input price of the call's model.</summary>
    Tokens = 0,
    /// <summary>US dollars, taken as-is.</summary>
    Usd = 1,
    /// <summary>Milliseconds of latency; never priced.</summary>
    Ms = 2,
    /// <summary>Grams of CO2 equivalent; never priced.</summary>
    Gco2 = 3,
}

/// <summary>Wire names (snake_case, as in the reference ledger) for the provenance enums.</summary>
public static class WireNames
{
    /// <summary>The wire name of a cost source: <c>catalog</c>, <c>provider</c>, <c>local</c> or <c>unpriced</c>.</summary>
    public static string ToWire(this CostSource value) => value switch
    {
        CostSource.Catalog => "catalog",
        CostSource.Provider => "provider",
        CostSource.Local => "local",
        CostSource.Unpriced => "unpriced",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "unknown cost source"),
    };

    /// <summary>The wire name of a usage status: <c>reported</c>, <c>missing</c> or <c>estimated</c>.</summary>
    public static string ToWire(this UsageStatus value) => value switch
    {
        UsageStatus.Reported => "reported",
        UsageStatus.Missing => "missing",
        UsageStatus.Estimated => "estimated",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "unknown usage status"),
    };

    /// <summary>The wire name of a savings method: <c>measured</c>, <c>modeled</c> or <c>estimated</c>.</summary>
    public static string ToWire(this SavingsMethod value) => value switch
    {
        SavingsMethod.Measured => "measured",
        SavingsMethod.Modeled => "modeled",
        SavingsMethod.Estimated => "estimated",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "unknown savings method"),
    };

    /// <summary>The wire name of a savings unit: <c>tokens</c>, <c>usd</c>, <c>ms</c> or <c>gco2</c>.</summary>
    public static string ToWire(this SavingsUnit value) => value switch
    {
        SavingsUnit.Tokens => "tokens",
        SavingsUnit.Usd => "usd",
        SavingsUnit.Ms => "ms",
        SavingsUnit.Gco2 => "gco2",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "unknown savings unit"),
    };

    /// <summary>The wire name of a task outcome: <c>ok</c>, <c>redo</c> or <c>failed</c>.</summary>
    public static string ToWire(this TaskOutcome value) => value switch
    {
        TaskOutcome.Ok => "ok",
        TaskOutcome.Redo => "redo",
        TaskOutcome.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "unknown task outcome"),
    };

    /// <summary>Parses a task outcome wire name (case-insensitive).</summary>
    /// <returns><see langword="false"/> when the name is not <c>ok</c>, <c>redo</c> or <c>failed</c>.</returns>
    public static bool TryParseOutcome(string? text, out TaskOutcome value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "ok": value = TaskOutcome.Ok; return true;
            case "redo": value = TaskOutcome.Redo; return true;
            case "failed": value = TaskOutcome.Failed; return true;
            default: value = default; return false;
        }
    }

    /// <summary>Parses a cost source wire name (case-insensitive).</summary>
    /// <returns><see langword="false"/> when the name is not one of the four.</returns>
    public static bool TryParseCostSource(string? text, out CostSource value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "catalog": value = CostSource.Catalog; return true;
            case "provider": value = CostSource.Provider; return true;
            case "local": value = CostSource.Local; return true;
            case "unpriced": value = CostSource.Unpriced; return true;
            default: value = default; return false;
        }
    }

    /// <summary>Parses a usage status wire name (case-insensitive).</summary>
    /// <returns><see langword="false"/> when the name is not one of the three.</returns>
    public static bool TryParseUsageStatus(string? text, out UsageStatus value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "reported": value = UsageStatus.Reported; return true;
            case "missing": value = UsageStatus.Missing; return true;
            case "estimated": value = UsageStatus.Estimated; return true;
            default: value = default; return false;
        }
    }

    /// <summary>Parses a savings method wire name (case-insensitive).</summary>
    /// <returns><see langword="false"/> when the name is not <c>measured</c>, <c>modeled</c> or <c>estimated</c>.</returns>
    public static bool TryParseMethod(string? text, out SavingsMethod value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "measured": value = SavingsMethod.Measured; return true;
            case "modeled": value = SavingsMethod.Modeled; return true;
            case "estimated": value = SavingsMethod.Estimated; return true;
            default: value = default; return false;
        }
    }

    /// <summary>Parses a savings unit wire name (case-insensitive).</summary>
    /// <returns><see langword="false"/> when the name is not <c>tokens</c>, <c>usd</c>, <c>ms</c> or <c>gco2</c>.</returns>
    public static bool TryParseUnit(string? text, out SavingsUnit value)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "tokens": value = SavingsUnit.Tokens; return true;
            case "usd": value = SavingsUnit.Usd; return true;
            case "ms": value = SavingsUnit.Ms; return true;
            case "gco2": value = SavingsUnit.Gco2; return true;
            default: value = default; return false;
        }
    }
}
