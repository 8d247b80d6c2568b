using System.Globalization;
using System.Net.Http.Headers;

namespace CageNet.Http;

/// <summary>Subscription-window utilization a response reported (fractions 0..1), from Anthropic's unified rate-limit headers.</summary>
internal readonly record struct UtilizationSample(double? FiveHour, double? SevenDay)
{
    public bool Any => FiveHour is not null || SevenDay is not null;

    public static UtilizationSample From(HttpResponseHeaders headers) =>
        new(Fraction(headers, "anthropic-ratelimit-unified-5h-utilization"), Fraction(headers, "anthropic-ratelimit-unified-7d-utilization"));

    private static double? Fraction(HttpResponseHeaders headers, string name)
    {
        if (!headers.TryGetValues(name, out var values))
        {
            return null;
        }

        foreach (var value in values)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction) && double.IsFinite(fraction) && fraction >= 0)
            {
                return Math.Min(fraction, 1.0);
            }
        }

        return null;
    }
}

/// <summary>The provider's request id header, when the body carries no response id.</summary>
internal static class RequestIdHeaders
{
    private static readonly string[] Names = ["x-request-id", "request-id", "x-goog-request-id", "openai-request-id"];

    public static string? From(HttpResponseHeaders headers)
    {
        foreach (var name in Names)
        {
            if (headers.TryGetValues(name, out var values))
            {
                foreach (var value in values)
                {
                    if (!string.IsNullOrWhiteSpace(value) && value.Length <= 200)
                    {
                        return value;
                    }
                }
            }
        }

        return null;
    }
}
