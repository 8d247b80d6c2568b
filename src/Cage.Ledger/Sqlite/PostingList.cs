namespace CageNet.Ledger;

/// <summary>
/// The codec of a <c>postings</c> row: an ascending list of <c>rk</c>s as unsigned LEB128 varints, the first
/// zigzag-encoded (keys before 1970 are negative) and each later one as its difference from the previous.
/// </summary>
internal static class PostingList
{
    /// <summary><c>postings.kind</c> of a task's calls.</summary>
    public const int CallsByTask = 1;

    /// <summary><c>postings.kind</c> of the receipts that point to one call (key: the call id).</summary>
    public const int ReceiptsByCall = 2;

    /// <summary><c>postings.kind</c> of the receipts that name one task themselves.</summary>
    public const int ReceiptsByTask = 3;

    /// <summary>Most rks in one row: a task that runs for a long time spreads over several rows.</summary>
    public const int MaxPerRow = 4096;

    /// <summary>Encodes ascending, distinct <paramref name="rks"/> into <paramref name="buffer"/> (grown when needed); returns the length.</summary>
    public static int Encode(ReadOnlySpan<long> rks, ref byte[] buffer)
    {
        var max = rks.Length * 10;
        if (buffer.Length < max)
        {
            buffer = new byte[Math.Max(max, buffer.Length * 2)];
        }

        var at = 0;
        var previous = 0L;
        for (var i = 0; i < rks.Length; i++)
        {
            ulong value = i == 0 ? (ulong)((rks[0] << 1) ^ (rks[0] >> 63)) : (ulong)(rks[i] - previous);
            previous = rks[i];
            while (value >= 0x80)
            {
                buffer[at++] = (byte)(value | 0x80);
                value >>= 7;
            }

            buffer[at++] = (byte)value;
        }

        return at;
    }

    /// <summary>Appends the rks of one row to <paramref name="into"/>.</summary>
    /// <exception cref="InvalidDataException">The blob is truncated or malformed.</exception>
    public static void Decode(ReadOnlySpan<byte> blob, List<long> into)
    {
        var at = 0;
        var previous = 0L;
        var first = true;
        while (at < blob.Length)
        {
            ulong value = 0;
            var shift = 0;
            while (true)
            {
                if (at >= blob.Length || shift > 63)
                {
                    throw new InvalidDataException("A posting list of the ledger is truncated or malformed.");
                }

                var b = blob[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    break;
                }

                shift += 7;
            }

            previous = first ? (long)(value >> 1) ^ -(long)(value & 1) : previous + (long)value;
            first = false;
            into.Add(previous);
        }
    }
}
