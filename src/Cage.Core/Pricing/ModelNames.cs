namespace CageNet.Pricing;

/// <summary>Model-name rules the catalog lookup uses: date-suffix stripping and local-model globs.</summary>
internal static class ModelNames
{
    /// <summary>
    /// The model name without a trailing release date: <c>-20250219</c>, <c>-2024-08-06</c> or <c>@20240620</c>;
    /// <see langword="null"/> when there is none. Only plausible dates (years 2000–2099) are stripped.
    /// </summary>
    public static string? StripDateSuffix(string model)
    {
        var name = model.AsSpan();

        // -YYYY-MM-DD
        if (name.Length > 11 && name[^11] == '-' && name[^6] == '-' && name[^3] == '-'
            && IsDate(name[^10..^6], name[^5..^3], name[^2..]))
        {
            return model[..^11];
        }

        // -YYYYMMDD or @YYYYMMDD
        if (name.Length > 9 && name[^9] is '-' or '@' && IsDate(name[^8..^4], name[^4..^2], name[^2..]))
        {
            return model[..^9];
        }

        return null;
    }

    private static bool IsDate(ReadOnlySpan<char> year, ReadOnlySpan<char> month, ReadOnlySpan<char> day)
    {
        if (!AllDigits(year) || !AllDigits(month) || !AllDigits(day)) return false;
        var y = ((year[0] - '0') * 1000) + ((year[1] - '0') * 100) + ((year[2] - '0') * 10) + (year[3] - '0');
        var m = ((month[0] - '0') * 10) + (month[1] - '0');
        var d = ((day[0] - '0') * 10) + (day[1] - '0');
        return y is >= 2000 and <= 2099 && m is >= 1 and <= 12 && d is >= 1 and <= 31;
    }

    private static bool AllDigits(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c)) return false;
        }

        return true;
    }

    /// <summary>Case-insensitive glob match where <c>*</c> matches any run of characters (including none).</summary>
    public static bool GlobMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (p < pattern.Length && char.ToUpperInvariant(pattern[p]) == char.ToUpperInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}

/// <summary>One catalog key and the price it maps to; the key keeps its spelling so a quote can record it.</summary>
internal sealed record CatalogEntry(string Key, ModelPrice Price);
