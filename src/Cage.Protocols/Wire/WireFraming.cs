namespace CageNet.Protocols;

internal static class WireFraming
{
    /// <summary>Skips a UTF-8 byte order mark and leading whitespace.</summary>
    public static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> payload)
    {
        if (payload.StartsWith("\uFEFF"u8)) payload = payload[3..];
        var i = 0;
        while (i < payload.Length && payload[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return payload[i..];
    }

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> payload)
    {
        payload = TrimStart(payload);
        var end = payload.Length;
        while (end > 0 && payload[end - 1] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') end--;
        return payload[..end];
    }
}
