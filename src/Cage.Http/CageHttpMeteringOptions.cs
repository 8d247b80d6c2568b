namespace CageNet.Http;

/// <summary>Options of the HttpClient meter (<see cref="CageHttpClientBuilderExtensions.AddCageMetering"/>).</summary>
public sealed class CageHttpMeteringOptions
{
    /// <summary>
    /// Adds <c>"stream_options": {"include_usage": true}</c> to OpenAI Chat streaming requests that do not set
    /// <c>stream_options</c>, so the stream ends with a usage chunk (without it, an OpenAI chat stream carries no usage
    /// and is recorded as <c>usage_status=missing</c>). A request that sets <c>include_usage</c> itself is left alone.
    /// Default <see langword="true"/>; set <see langword="false"/> for a client whose parser cannot take the extra
    /// final chunk (one with <c>choices: []</c>).
    /// </summary>
    public bool AddStreamUsageOption { get; set; } = true;

    /// <summary>The route recorded when no ambient <see cref="MeterScope"/> names one. Default <c>http</c>.</summary>
    public string DefaultRoute { get; set; } = "http";

    /// <summary>The category recorded when no ambient scope names one. Default <see langword="null"/>.</summary>
    public string? Category { get; set; }

    /// <summary>
    /// The largest JSON request body the handler reads. A body without a <c>Content-Length</c> (<c>JsonContent</c>,
    /// <c>PostAsJsonAsync</c>) is serialized once into a buffer of at most this size and sent from it. Larger bodies are
    /// sent untouched and not inspected (no <c>include_usage</c>, the model comes from the response only, and the budget
    /// estimate does not know the model). Default 8 MiB.
    /// </summary>
    public long MaxRequestBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// When a stream ends without usage, record an estimate from the text bytes seen (<c>usage_status=estimated</c>)
    /// instead of <c>usage_status=missing</c>. Default <see langword="false"/>.
    /// </summary>
    public bool EstimateWhenUsageMissing { get; set; }
}
