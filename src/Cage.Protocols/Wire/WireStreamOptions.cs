namespace CageNet.Protocols;

/// <summary>Options of a <see cref="WireStreamObserver"/>.</summary>
public sealed class WireStreamOptions
{
    /// <summary>The default <see cref="MaxEventBytes"/>: 4 MiB.</summary>
    public const int DefaultMaxEventBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The largest single event (one SSE event's data, one JSON array element, or a whole non-streamed JSON body) the
    /// observer buffers to parse; a larger one is skipped and flagged in <see cref="WireUsage.Problem"/>. Usage events are
    /// small; this bounds memory against a runaway line. Default 4 MiB; at least 1 KiB.
    /// </summary>
    public int MaxEventBytes { get; init; } = DefaultMaxEventBytes;

    /// <summary>
    /// When a stream ends without usage, estimate the output tokens from the text bytes seen (about 4 bytes per token) and
    /// report <see cref="UsageStatus.Estimated"/> instead of <see cref="UsageStatus.Missing"/>. Default <see langword="false"/>.
    /// </summary>
    public bool EstimateWhenMissing { get; init; }
}
