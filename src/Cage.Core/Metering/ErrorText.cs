using System.Text.RegularExpressions;

namespace CageNet;

/// <summary>Keeps stored error messages short and free of secrets (SPEC 1.4).</summary>
internal static partial class ErrorText
{
    public const int MaxLength = 200;

    public static string? Scrub(string? error)
    {
        if (string.IsNullOrEmpty(error))
        {
            return null;
        }

        // Providers echo request content in error messages, usually quoted: drop quoted spans, then key shapes.
        var text = Quoted().Replace(error, "[quoted text removed]");
        text = Secrets().Replace(text, "[redacted]");
        text = text.ReplaceLineEndings(" ");
        return text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength - 1), "…");
    }

    [GeneratedRegex("\"[^\"]*(\"|$)|'[^']*('|$)|`[^`]*(`|$)|\u201C[^\u201D]*(\u201D|$)|\u2018[^\u2019]*(\u2019|$)", RegexOptions.CultureInvariant)]
    private static partial Regex Quoted();

    // API keys and bearer tokens in the usual shapes: sk-…, sk-ant-…, AIza…, "Bearer …", key=… / api_key: ….
    [GeneratedRegex(@"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}|(?i:(api[_-]?key|x-api-key|authorization|token|secret))\s*[:=]\s*\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex Secrets();
}
