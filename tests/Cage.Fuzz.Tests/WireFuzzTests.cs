using CageNet.Protocols;

namespace CageNet.Fuzz.Tests;

/// <summary>The wire parsers: <see cref="WireParser"/> on whole payloads and <see cref="WireStreamObserver"/> fed in chunks.</summary>
[TestFixture]
[NonParallelizable]
public sealed class WireFuzzTests
{
    private static readonly WireProtocol[] Protocols = Enum.GetValues<WireProtocol>();

    /// <summary>
    /// <see cref="WireParser.TryParse"/> never throws; <see cref="WireParser.Parse"/> throws only
    /// <see cref="WireFormatException"/>, exactly when TryParse says no; a usage read is valid and flagged when it is not
    /// the provider's final figure.
    /// </summary>
    [Test]
    public void WireParse() => Fuzz.Run("wire-parse", Corpus.Wire, 1000, c =>
    {
        var protocol = c.Random.Next(3) == 0 ? Protocols[c.Random.Next(Protocols.Length)] : WireProtocol.Unknown;
        var ok = WireParser.TryParse(c.Input, protocol, out var usage, out var error);
        if (ok == (error is not null) || ok == (usage is null))
        {
            throw new FuzzViolation($"TryParse returned {ok} with usage {(usage is null ? "null" : "set")} and error {(error is null ? "null" : "set")}");
        }

        try
        {
            var parsed = WireParser.Parse(c.Input, protocol);
            if (!ok) throw new FuzzViolation($"Parse accepted what TryParse rejected ({error})");
            if (parsed.Usage != usage!.Usage || parsed.Status != usage.Status) throw new FuzzViolation("Parse and TryParse disagree");
        }
        catch (WireFormatException ex)
        {
            if (ok) throw new FuzzViolation($"Parse rejected what TryParse accepted: {ex.Message}");
            if (string.IsNullOrWhiteSpace(ex.Message)) throw new FuzzViolation("a rejection without a message");
        }

        _ = WireParser.DetectProtocol(c.Input);
        if (usage is not null)
        {
            Check(usage, c.Input, "WireParser.TryParse");
        }
    });

    /// <summary>
    /// A stream observed in random chunks (splitting lines, CRLFs and UTF-8 sequences anywhere) says exactly what the
    /// same bytes observed in one chunk say, never throws, and its usage holds the invariants.
    /// </summary>
    [Test]
    public void WireStream() => Fuzz.Run("wire-stream", Corpus.Wire, 1000, c =>
    {
        var protocol = c.Random.Next(3) == 0 ? Protocols[c.Random.Next(Protocols.Length)] : WireProtocol.Unknown;
        var options = new WireStreamOptions
        {
            MaxEventBytes = c.Random.Next(4) == 0 ? c.Random.Next(1024, 4096) : WireStreamOptions.DefaultMaxEventBytes,
            EstimateWhenMissing = c.Random.Next(2) == 0,
        };

        using var whole = new WireStreamObserver(protocol, options);
        whole.Observe(c.Input);
        var once = whole.Complete();

        using var chunked = new WireStreamObserver(protocol, options);
        var maxChunk = c.Random.Next(3) switch { 0 => 1, 1 => 7, _ => 64 };
        for (var at = 0; at < c.Input.Length;)
        {
            var length = Math.Min(c.Input.Length - at, c.Random.Next(1, maxChunk + 1));
            chunked.Observe(c.Input.AsSpan(at, length));
            at += length;
        }

        var pieces = chunked.Complete();
        if (!ReferenceEquals(pieces, chunked.Complete())) throw new FuzzViolation("Complete is not idempotent");
        Check(once, c.Input, "WireStreamObserver (one chunk)");
        var a = Summary(once);
        var b = Summary(pieces);
        if (a != b)
        {
            throw new FuzzViolation($"chunking changed the result (chunks of at most {maxChunk} bytes):\n  one chunk: {a}\n  chunked:   {b}");
        }
    });

    private static string Summary(WireUsage u) =>
        $"{u.Protocol} {u.Status} {u.Usage} model={u.Model} id={u.ResponseId} finish={u.FinishReason} ok={u.Ok} error={u.Error} truncated={u.Truncated} cost={u.ProviderCost} tier={u.ServiceTier} problem={u.Problem}";

    internal static void Check(WireUsage usage, ReadOnlySpan<byte> input, string what)
    {
        Invariants.Usage(usage.Usage, what);
        if (usage.ProviderCost < 0)
        {
            throw new FuzzViolation($"{what}: a negative provider cost {usage.ProviderCost}");
        }

        if (usage.Status != UsageStatus.Reported && usage.Problem is null)
        {
            throw new FuzzViolation($"{what}: usage {usage.Status} without a problem saying why (an unflagged record)");
        }

        if (usage.Truncated && usage.Status == UsageStatus.Reported)
        {
            throw new FuzzViolation($"{what}: a truncated stream reported as final usage");
        }

        if (usage.Status == UsageStatus.Reported && usage.Usage.TotalTokens == 0 && usage.ProviderCost is null or 0 && !Invariants.ExplicitZero(input))
        {
            throw new FuzzViolation($"{what}: usage reported as zero tokens ({usage.Protocol}), but the payload reports no explicit zero count: a $0 that was not billed");
        }
    }
}
