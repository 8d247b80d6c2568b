namespace CageNet.Pricing;

/// <summary>
/// A <see cref="ModelPrice"/> compiled for the hot path: the fallbacks (cache prices → input, 1-hour write → 5-minute
/// write, tier scaling) resolved once into effective per-bucket prices for the base price and for every long-context
/// tier. Immutable; built lazily on a model's first priced call.
/// </summary>
internal sealed class PricePlan
{
    private readonly EffectiveRates _standard;
    private readonly long[] _thresholds;
    private readonly EffectiveRates[] _tierRates;

    public PricePlan(ModelPrice price)
    {
        var input = price.Input;
        var write5m = price.CacheWrite5m ?? input;
        _standard = new EffectiveRates(
            input,
            price.CacheRead ?? input,
            write5m,
            price.CacheWrite1h ?? write5m,
            price.Output,
            price.Reasoning ?? price.Output);

        var tiers = price.Tiers;
        _thresholds = new long[tiers.Count];
        _tierRates = new EffectiveRates[tiers.Count];
        for (var i = 0; i < tiers.Count; i++)
        {
            var tier = tiers[i];
            var tierInput = tier.Input ?? input;

            // A tier that leaves a cache price out scales the standard one by the tier's input ratio, so cached and
            // cache-write tokens keep their discount or premium and are never priced at the full input price.
            var tierWrite5m = tier.CacheWrite5m ?? (price.CacheWrite5m is { } w5 ? Scale(w5, tierInput, input) : tierInput);
            var tierOutput = tier.Output ?? price.Output;
            _thresholds[i] = tier.AboveTokens;
            _tierRates[i] = new EffectiveRates(
                tierInput,
                tier.CacheRead ?? (price.CacheRead is { } cr ? Scale(cr, tierInput, input) : tierInput),
                tierWrite5m,
                tier.CacheWrite1h ?? (price.CacheWrite1h is { } w1 ? Scale(w1, tierInput, input) : tierWrite5m),
                tierOutput,
                tier.Reasoning ?? price.Reasoning ?? tierOutput);
        }
    }

    /// <summary>The cost of one call at the highest tier whose threshold the prompt-side tokens strictly exceed.</summary>
    public decimal Cost(in TokenUsage usage)
    {
        var rates = _standard;
        var thresholds = _thresholds;
        if (thresholds.Length != 0)
        {
            var prompt = usage.PromptTokens;
            for (var i = thresholds.Length - 1; i >= 0; i--)
            {
                if (prompt > thresholds[i])
                {
                    rates = _tierRates[i];
                    break;
                }
            }
        }

        return rates.Cost(usage);
    }

    /// <summary>The price of one uncached input token for a call with this many prompt-side tokens (its tier's input price).</summary>
    public decimal InputRate(long promptTokens)
    {
        for (var i = _thresholds.Length - 1; i >= 0; i--)
        {
            if (promptTokens > _thresholds[i])
            {
                return _tierRates[i].Input;
            }
        }

        return _standard.Input;
    }

    private static decimal Scale(decimal price, decimal tierInput, decimal baseInput) =>
        baseInput == 0m || tierInput == baseInput ? price : price * tierInput / baseInput;
}

/// <summary>
/// Six effective per-token prices, kept both as decimals and as integer mantissas at one common scale. The integer
/// form prices a call with six 64×64-bit multiplications instead of decimal arithmetic; both forms give the same exact
/// value, and the decimal form takes over whenever a count or a result would not fit.
/// </summary>
internal sealed class EffectiveRates
{
    private const ulong FastLimit = 1UL << 62;

    private readonly decimal _input, _cacheRead, _write5m, _write1h, _output, _reasoning;
    private readonly ulong _mInput, _mCacheRead, _mWrite5m, _mWrite1h, _mOutput, _mReasoning;
    private readonly byte _scale;
    private readonly bool _fast;

    public EffectiveRates(decimal input, decimal cacheRead, decimal write5m, decimal write1h, decimal output, decimal reasoning)
    {
        (_input, _cacheRead, _write5m, _write1h, _output, _reasoning) = (input, cacheRead, write5m, write1h, output, reasoning);

        ReadOnlySpan<decimal> prices = [input, cacheRead, write5m, write1h, output, reasoning];
        Span<ulong> mantissas = stackalloc ulong[prices.Length];
        var scale = 0;
        foreach (var price in prices)
        {
            scale = Math.Max(scale, Exact.Normalize(price).Scale);
        }

        _fast = true;
        for (var i = 0; i < prices.Length; i++)
        {
            if (!TryMantissaAtScale(prices[i], scale, out mantissas[i])) _fast = false;
        }

        _scale = (byte)scale;
        (_mInput, _mCacheRead, _mWrite5m, _mWrite1h, _mOutput, _mReasoning) =
            (mantissas[0], mantissas[1], mantissas[2], mantissas[3], mantissas[4], mantissas[5]);
    }

    /// <summary>The effective price of one uncached input token.</summary>
    public decimal Input => _input;

    /// <summary>Σ bucket × price, with reasoning (a part of output) at the reasoning price and the rest of output at the output price.</summary>
    public decimal Cost(in TokenUsage usage)
    {
        var reasoning = usage.Reasoning ?? 0;
        if (reasoning < 0) reasoning = 0;
        if (reasoning > usage.Output) reasoning = Math.Max(usage.Output, 0);
        var plainOutput = usage.Output - reasoning;

        if (_fast
            && (ulong)usage.Input < FastLimit && (ulong)usage.CacheRead < FastLimit
            && (ulong)usage.CacheWrite5m < FastLimit && (ulong)usage.CacheWrite1h < FastLimit
            && (ulong)plainOutput < FastLimit && (ulong)reasoning < FastLimit)
        {
            // Each product < 2^124, so the six-term sum cannot overflow 128 bits.
            var sum = Math.BigMul((ulong)usage.Input, _mInput)
                + Math.BigMul((ulong)usage.CacheRead, _mCacheRead)
                + Math.BigMul((ulong)usage.CacheWrite5m, _mWrite5m)
                + Math.BigMul((ulong)usage.CacheWrite1h, _mWrite1h)
                + Math.BigMul((ulong)plainOutput, _mOutput)
                + Math.BigMul((ulong)reasoning, _mReasoning);
            if (Exact.TryToDecimal(sum, _scale, out var cost)) return cost;
        }

        return Exact.Normalize(
            (usage.Input * _input) + (usage.CacheRead * _cacheRead) + (usage.CacheWrite5m * _write5m)
            + (usage.CacheWrite1h * _write1h) + (plainOutput * _output) + (reasoning * _reasoning));
    }

    private static bool TryMantissaAtScale(decimal price, int scale, out ulong mantissa)
    {
        mantissa = 0;
        if (price < 0m) return false;
        var normalized = Exact.Normalize(price);
        var m = Exact.Mantissa(normalized);
        for (var s = normalized.Scale; s < scale; s++)
        {
            m *= 10;
            if (m >= FastLimit) return false;
        }

        if (m >= FastLimit) return false;
        mantissa = (ulong)m;
        return true;
    }
}

/// <summary>Exact decimal helpers: a canonical form without trailing zeros, so equal costs always print the same.</summary>
internal static class Exact
{
    private static readonly UInt128 DecimalLimit = UInt128.One << 96;

    /// <summary>The value with trailing fractional zeros removed (0.048300 → 0.0483).</summary>
    public static decimal Normalize(decimal value)
    {
        var negative = value < 0m;
        return TryToDecimal(Mantissa(value), value.Scale, out var result) ? (negative ? -result : result) : value;
    }

    /// <summary>The 96-bit integer mantissa of a decimal (its absolute value times 10^scale).</summary>
    public static UInt128 Mantissa(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        return ((UInt128)(uint)bits[2] << 64) | ((ulong)(uint)bits[1] << 32) | (uint)bits[0];
    }

    /// <summary>mantissa × 10^-scale as a canonical decimal; false when it does not fit in 96 bits.</summary>
    public static bool TryToDecimal(UInt128 mantissa, int scale, out decimal value)
    {
        if (mantissa <= ulong.MaxValue)
        {
            var small = (ulong)mantissa;
            while (scale > 0)
            {
                var quotient = small / 10;
                if (quotient * 10 != small) break;
                small = quotient;
                scale--;
            }

            value = new decimal((int)small, (int)(small >> 32), 0, isNegative: false, (byte)scale);
            return true;
        }

        while (scale > 0)
        {
            var quotient = mantissa / 10;
            if (quotient * 10 != mantissa) break;
            mantissa = quotient;
            scale--;
        }

        if (mantissa >= DecimalLimit)
        {
            value = 0m;
            return false;
        }

        value = new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), (int)(uint)(mantissa >> 64), isNegative: false, (byte)scale);
        return true;
    }
}
