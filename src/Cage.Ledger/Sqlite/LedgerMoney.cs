using System.Globalization;

namespace CageNet.Ledger;

/// <summary>
/// Conversions between <see cref="decimal"/> dollars and the ledger's integer storage unit, 1e-10 USD
/// (<c>calls.cost_e10</c>). Every catalog price is a whole number of 1e-10 dollars per token at most, so a
/// catalog cost is stored exactly; a cost with finer precision (a provider-reported one, say) is rounded half to
/// even to 1e-10 USD. The range is ±922,337,203 USD per call.
/// </summary>
internal static class LedgerMoney
{
    private const decimal Scale = 10_000_000_000m;
    private static readonly decimal MaxUsd = long.MaxValue / Scale;

    /// <summary>Whether a cost fits the storage unit's range.</summary>
    public static bool InRange(decimal usd) => Math.Abs(usd) <= MaxUsd;

    /// <summary>Dollars → 1e-10 USD units, rounded half to even.</summary>
    /// <exception cref="CageValidationException">The cost is outside ±922,337,203 USD.</exception>
    public static long ToE10(decimal usd)
    {
        if (!InRange(usd))
        {
            throw new CageValidationException("cost_usd", $"cost_usd {usd.ToString(CultureInfo.InvariantCulture)} is outside the ledger's range (±{MaxUsd.ToString("0", CultureInfo.InvariantCulture)} USD)");
        }

        return (long)decimal.Round(usd * Scale, 0, MidpointRounding.ToEven);
    }

    /// <summary>1e-10 USD units → dollars, with no trailing zeros (so 483000000 reads back as 0.0483).</summary>
    public static decimal FromE10(long units)
    {
        byte scale = 10;
        while (scale > 0 && units % 10 == 0)
        {
            units /= 10;
            scale--;
        }

        var negative = units < 0;
        var magnitude = negative ? (ulong)(-(units + 1)) + 1 : (ulong)units; // long.MinValue safe
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, negative, scale);
    }

    /// <summary>The same value with the smallest scale that represents it exactly (0.0483000000 → 0.0483, 2.0 → 2).</summary>
    public static decimal Normalize(decimal value)
    {
        while (value.Scale > 0)
        {
            var shorter = decimal.Round(value, value.Scale - 1, MidpointRounding.ToEven);
            if (shorter != value)
            {
                break;
            }

            value = shorter;
        }

        return value;
    }
}
