namespace CageNet.Attribution;

/// <summary>Exact Shapley values over a cost function given on every subset (index = bit mask of the tools that are on).</summary>
internal static class ShapleyValues
{
    /// <summary>
    /// φᵢ = Σ over sets S without i of |S|!·(n−|S|−1)!/n! · (C(S) − C(S ∪ {i})): tool i's saving averaged over every
    /// order of switching the tools on. The weighted sum is exact in <see cref="decimal"/>; one division by n! at the end.
    /// Next to it, the fixed-order marginal: C(tools before i on) − C(tools up to i on), in the canonical order.
    /// </summary>
    public static IReadOnlyList<ShapleyShare> Compute(IReadOnlyList<string> tools, decimal[] costs)
    {
        var n = tools.Count;
        var factorial = new decimal[n + 1];
        factorial[0] = 1;
        for (var k = 1; k <= n; k++)
        {
            factorial[k] = factorial[k - 1] * k;
        }

        var shares = new List<ShapleyShare>(n);
        var before = 0;
        for (var i = 0; i < n; i++)
        {
            var bit = 1 << i;
            decimal sum = 0;
            for (var mask = 0; mask < costs.Length; mask++)
            {
                if ((mask & bit) != 0)
                {
                    continue;
                }

                var size = System.Numerics.BitOperations.PopCount((uint)mask);
                sum += factorial[size] * factorial[n - size - 1] * (costs[mask] - costs[mask | bit]);
            }

            var fixedOrder = costs[before] - costs[before | bit];
            before |= bit;
            shares.Add(new ShapleyShare(tools[i], fixedOrder, Math.Round(sum / factorial[n], 10, MidpointRounding.ToEven)));
        }

        return shares;
    }
}
