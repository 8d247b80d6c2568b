using System.Globalization;

namespace CageNet.Cli.Output;

/// <summary>How numbers, money and instants look in tables (invariant culture, so output never depends on the machine).</summary>
internal static class Formats
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A count with thousands separators: <c>8,600</c>.</summary>
    public static string Count(long value) => value.ToString("#,##0", Invariant);

    /// <summary>Dollars with 4 decimals, as tables show them (SPEC 1.2): <c>$0.0483</c>.</summary>
    public static string Usd(decimal value)
    {
        var rounded = Math.Round(value, 4, MidpointRounding.AwayFromZero);
        return rounded < 0
            ? "-$" + (-rounded).ToString("#,##0.0000", Invariant)
            : "$" + rounded.ToString("#,##0.0000", Invariant);
    }

    /// <summary>A receipt amount: a whole number with separators, or up to 6 decimals (<c>30,000</c>, <c>0.0125</c>).</summary>
    public static string Amount(decimal value) =>
        value == decimal.Truncate(value) ? value.ToString("#,##0", Invariant) : value.ToString("#,##0.######", Invariant);

    /// <summary>An instant as the ledger renders it: ISO-8601 UTC, milliseconds only when there are any.</summary>
    public static string Timestamp(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        return utc.Millisecond == 0
            ? utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Invariant)
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Invariant);
    }

    /// <summary>"1 call" / "2 calls".</summary>
    public static string Plural(long count, string singular, string? plural = null) =>
        $"{Count(count)} {(count == 1 ? singular : plural ?? singular + "s")}";
}
