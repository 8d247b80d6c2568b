using System.Text.RegularExpressions;

namespace CageNet;

/// <summary>
/// Keeps stored error messages and labels short and free of secrets and personal data (SPEC 1.4). Quoted spans go
/// first (providers echo request text in quotes of any script: <c>"…"</c>, <c>'…'</c>, <c>`…`</c>, <c>“…”</c>,
/// <c>‘…’</c>, <c>«…»</c>, <c>‹…›</c>, <c>„…“</c>, <c>「…」</c>, <c>『…』</c>), then anything shaped like a credential
/// or an address: provider keys (<c>sk-</c>, <c>sk-ant-</c>, <c>AIza</c>), bearer tokens and <c>key=…</c> pairs,
/// GitHub tokens (<c>ghp_</c>, <c>github_pat_</c>…), AWS access key ids, Slack tokens, JWTs, e-mail addresses and
/// long hex or base64 runs.
/// </summary>
internal static partial class ErrorText
{
    public const int MaxLength = 200;

    /// <summary>What replaces a quoted span.</summary>
    public const string QuotedMarker = "[quoted text removed]";

    /// <summary>What replaces a secret.</summary>
    public const string RedactedMarker = "[redacted]";

    /// <summary>An error message as stored: scrubbed, on one line, at most <see cref="MaxLength"/> characters.</summary>
    public static string? Scrub(string? error)
    {
        if (string.IsNullOrEmpty(error))
        {
            return null;
        }

        // Only the head can reach the stored 200 characters: scanning a huge message whole would cost time for nothing.
        var text = error.Length > ScanLimit ? error[..ScanLimit] : error;
        text = Quoted().Replace(text, QuotedMarker);
        text = RedactSecrets(text);
        text = text.ReplaceLineEndings(" ");
        return text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength - 1), "…");
    }

    /// <summary>A label value as stored: scrubbed like an error message (an empty value stays empty).</summary>
    public static string ScrubLabel(string value) => Scrub(value) ?? value;

    /// <summary>
    /// A tool's receipt metadata value as stored: secrets redacted, quoted text kept (metadata is the tool's own
    /// structured detail, often JSON, not text echoed from a request).
    /// </summary>
    public static string RedactSecrets(string value) => Secrets().Replace(value, static m =>
        // A long letters-and-digits run is a secret only when it mixes both (a long word or number is not).
        m.Groups["run"].Success && !(m.Value.AsSpan().ContainsAnyInRange('0', '9') && m.Value.AsSpan().IndexOfAny(Letters) >= 0)
            ? m.Value
            : RedactedMarker);

    private static readonly System.Buffers.SearchValues<char> Letters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>How much of an error message is scanned: ten times what is stored, room for the quoted spans removed before the cut.</summary>
    private const int ScanLimit = 10 * MaxLength;

    /// <summary>Labels as stored: every value scrubbed (the same instance when nothing changed).</summary>
    public static IReadOnlyDictionary<string, string>? ScrubLabels(IReadOnlyDictionary<string, string>? labels) => Map(labels, ScrubLabel);

    /// <summary>Receipt metadata as stored: secrets redacted in every value (the same instance when nothing changed).</summary>
    public static IReadOnlyDictionary<string, string>? RedactSecrets(IReadOnlyDictionary<string, string>? meta) => Map(meta, RedactSecrets);

    private static IReadOnlyDictionary<string, string>? Map(IReadOnlyDictionary<string, string>? labels, Func<string, string> scrub)
    {
        if (labels is null || labels.Count == 0)
        {
            return labels;
        }

        Dictionary<string, string>? scrubbed = null;
        foreach (var (key, value) in labels)
        {
            var clean = scrub(value);
            if (!ReferenceEquals(clean, value) && !string.Equals(clean, value, StringComparison.Ordinal))
            {
                scrubbed ??= new Dictionary<string, string>(labels, StringComparer.Ordinal);
                scrubbed[key] = clean;
            }
        }

        return scrubbed ?? labels;
    }

    [GeneratedRegex("\"[^\"]*(\"|$)|'[^']*('|$)|`[^`]*(`|$)|\u201C[^\u201D]*(\u201D|$)|\u201E[^\u201C\u201D]*(\u201C|\u201D|$)|\u2018[^\u2019]*(\u2019|$)|\u00AB[^\u00BB]*(\u00BB|$)|\u2039[^\u203A]*(\u203A|$)|\u300C[^\u300D]*(\u300D|$)|\u300E[^\u300F]*(\u300F|$)", RegexOptions.CultureInvariant)]
    private static partial Regex Quoted();

    [GeneratedRegex(
        @"sk-[A-Za-z0-9_\-]{8,}" +                                         // OpenAI / Anthropic keys (sk-, sk-proj-, sk-ant-)
        @"|AIza[0-9A-Za-z_\-]{20,}" +                                      // Google API keys
        @"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*" +                       // bearer tokens
        @"|(?i:(api[_-]?key|x-api-key|authorization|token|secret|password|passwd))\s*[:=]\s*((?i:bearer|basic|token)\s+)?\S+" +
        @"|\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})" +   // GitHub tokens
        @"|\b(AKIA|ASIA)[0-9A-Z]{16}\b" +                                  // AWS access key ids
        @"|\bxox[abposr]-[A-Za-z0-9\-]{10,}" +                             // Slack tokens
        @"|\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}" + // JWTs
        @"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}" + // e-mail addresses
        @"|\b[0-9a-fA-F]{32,}\b" +                                         // long hex secrets
        @"|(?<run>[A-Za-z0-9+/]{40,}={0,2})",                             // long base64 secrets (when they mix letters and digits)
        RegexOptions.CultureInvariant)]
    private static partial Regex Secrets();
}
