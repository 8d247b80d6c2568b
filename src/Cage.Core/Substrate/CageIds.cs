namespace CageNet;

/// <summary>
/// Time-sortable, collision-free ids: a prefix (<c>c_</c> for calls, <c>r_</c> for receipts) and a
/// 26-character ULID — 48 bits of Unix milliseconds then 80 random bits, in Crockford base32 — so ids sort
/// by creation time as plain strings and two ids collide with negligible probability.
/// </summary>
public static class CageIds
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// <summary>A new call id (<c>c_</c> + ULID) stamped with the provider's current time.</summary>
    /// <param name="time">The clock.</param>
    public static string NewCallId(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return New('c', time.GetUtcNow());
    }

    /// <summary>A new receipt id (<c>r_</c> + ULID) stamped with the provider's current time.</summary>
    /// <param name="time">The clock.</param>
    public static string NewReceiptId(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return New('r', time.GetUtcNow());
    }

    internal static string New(char prefix, DateTimeOffset at) => NewValue(prefix, at).Format();

    /// <summary>A new id as a value: nothing is allocated until it is formatted.</summary>
    internal static CageIdValue NewValue(char prefix, DateTimeOffset at) => NewValue(prefix, at.ToUnixTimeMilliseconds());

    /// <summary>A new id stamped with <paramref name="unixMilliseconds"/>, formatted.</summary>
    internal static string New(char prefix, long unixMilliseconds) => NewValue(prefix, unixMilliseconds).Format();

    private static CageIdValue NewValue(char prefix, long unixMilliseconds)
    {
        ulong ms = (ulong)Math.Max(0, unixMilliseconds);
        // 80 random bits: the generator is per thread and not cryptographic, which is all an id needs.
        Span<byte> random = stackalloc byte[10];
        Random.Shared.NextBytes(random);
        ulong lo = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(random);     // 64 bits
        ulong hi = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(random[8..]); // 16 bits
        return new CageIdValue(prefix, ms, hi, lo);
    }

    /// <summary>An unformatted id: prefix, 48-bit milliseconds, 80 random bits.</summary>
    internal readonly record struct CageIdValue(char Prefix, ulong Milliseconds, ulong High, ulong Low)
    {
        public bool IsEmpty => Prefix == '\0';

        public string Format() => string.Create(28, this, static (span, s) =>
        {
            span[0] = s.Prefix;
            span[1] = '_';
            // 48-bit time → 10 chars (50 bits, top 2 zero).
            ulong t = s.Milliseconds;
            for (int i = 11; i >= 2; i--)
            {
                span[i] = Alphabet[(int)(t & 31)];
                t >>= 5;
            }

            // 80 random bits → 16 chars.
            ulong lo = s.Low;
            ulong hi = s.High;
            for (int i = 27; i >= 12; i--)
            {
                span[i] = Alphabet[(int)(lo & 31)];
                lo = (lo >> 5) | ((hi & 31) << 59);
                hi >>= 5;
            }
        });
    }

    /// <summary>Drops sub-millisecond precision and converts to UTC, as the ledger stores instants.</summary>
    /// <param name="value">The instant.</param>
    public static DateTimeOffset TruncateToMilliseconds(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }
}
