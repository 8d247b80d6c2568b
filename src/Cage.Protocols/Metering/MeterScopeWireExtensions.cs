namespace CageNet.Protocols;

/// <summary>Reports provider wire payloads to a <see cref="MeterScope"/> (SPEC 4: <c>m.Usage(parsed wire usage)</c>).</summary>
public static class MeterScopeWireExtensions
{
    /// <summary>
    /// Reports one attempt from parsed wire usage: the served model, the exclusive buckets, the provider's cost and the
    /// response id. A response whose usage never arrived is recorded with <c>usage_status=missing</c> (its buckets are
    /// what was reported before the cut), never as a free call.
    /// </summary>
    /// <param name="scope">The metering scope.</param>
    /// <param name="usage">The parsed usage (from <see cref="WireParser"/> or <see cref="WireStreamObserver.Complete"/>).</param>
    /// <param name="model">The model to credit when the payload did not name one (the requested model); default none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> or <paramref name="usage"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The scope was disposed.</exception>
    public static void Usage(this MeterScope scope, WireUsage usage, string? model = null)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(usage);
        var served = usage.Model.Length > 0 ? usage.Model : model ?? "";
        var ok = usage.Ok && usage.Status == UsageStatus.Reported;
        var error = usage.Error ?? (usage.Status == UsageStatus.Reported ? null : usage.Problem);
        scope.Usage(usage.Provider, served, usage.Usage, usage.ProviderCost, usage.ResponseId, ok, usage.Status, error);
    }

    /// <summary>Parses a response body (JSON, or a whole captured stream) and reports it as one attempt.</summary>
    /// <param name="scope">The metering scope.</param>
    /// <param name="responseBody">The response bytes as received.</param>
    /// <param name="protocol">The wire format when known; inferred from the payload otherwise.</param>
    /// <returns>The parsed usage that was reported.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> is <see langword="null"/>.</exception>
    /// <exception cref="WireFormatException">The payload could not be read; nothing was reported.</exception>
    /// <exception cref="ObjectDisposedException">The scope was disposed.</exception>
    public static WireUsage Usage(this MeterScope scope, ReadOnlySpan<byte> responseBody, WireProtocol protocol = WireProtocol.Unknown)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var usage = WireParser.Parse(responseBody, protocol);
        scope.Usage(usage);
        return usage;
    }
}
