using System.Globalization;

namespace CageNet.Views;

/// <summary>How numbers, money and instants look in tables (invariant culture, so output never depends on the machine).</summary>
internal static class Formats
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A count with thousands separators: <c>8,600</c>.</summary>
    public static string Count(long value) => value.ToString("#,##0", Invariant);

    /// <summary>
    /// Dollars, the one way every table and message of the CLI shows money (README, "How money is shown"):
    /// <list type="number">
    /// <item>rounded half away from zero to 4 decimals, with thousands separators: <c>$0.0483</c>, <c>$1,234.5000</c>;</item>
    /// <item>a whole number of dollars shows cents only: <c>$25.00</c>, <c>$1,000.00</c>, <c>$0.00</c>;</item>
    /// <item>a non-zero amount that 4 decimals would show as zero keeps the decimals it needs to be non-zero, up to 6 (as
    /// the session summary shows money; trailing zeros dropped): <c>$0.00004</c>, <c>$0.000012</c>; below half a
    /// millionth, <c>&lt;$0.000001</c>.</item>
    /// </list>
    /// A negative amount is the same with a leading minus: <c>-$0.0100</c>. JSON output is not formatted: it has the
    /// exact decimal.
    /// </summary>
    public static string Usd(decimal value)
    {
        var sign = value < 0 ? "-" : "";
        var magnitude = Math.Abs(value);
        if (magnitude == decimal.Truncate(magnitude))
        {
            return sign + "$" + magnitude.ToString("#,##0.00", Invariant);
        }

        var rounded = Math.Round(magnitude, 4, MidpointRounding.AwayFromZero);
        if (rounded != 0)
        {
            return sign + "$" + rounded.ToString("#,##0.0000", Invariant);
        }

        var finer = Math.Round(magnitude, 6, MidpointRounding.AwayFromZero);
        return finer != 0
            ? sign + "$" + finer.ToString("0.######", Invariant)
            : value < 0 ? ">-$0.000001" : "<$0.000001";
    }

    /// <summary>A size in bytes, binary units: <c>512 B</c>, <c>4.2 MiB</c>.</summary>
    public static string Bytes(long value) => value switch
    {
        < 1024 => $"{Count(value)} B",
        < 1024 * 1024 => (value / 1024m).ToString("0.0", Invariant) + " KiB",
        < 1024L * 1024 * 1024 => (value / (1024m * 1024)).ToString("0.0", Invariant) + " MiB",
        _ => (value / (1024m * 1024 * 1024)).ToString("#,##0.0", Invariant) + " GiB",
    };

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
