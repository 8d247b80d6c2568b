namespace CageNet.Ledger;

/// <summary>
/// Where a call lives in the ledger (schema step 5). The <c>calls</c> table is keyed by <c>rk</c> =
/// <c>ts_ms × 2^20 + slot</c>: rows are stored in time order, so time windows are ranges of the table's own key
/// and no timestamp index is needed. The slot is the id's home slot (the low 20 random bits of a Cage id, a
/// stable hash of any other id), moved forward on a collision inside the millisecond (linear probing, wrapping
/// within the millisecond; rows are never deleted, so a lookup stops at the first empty slot).
/// <para>
/// A call is found by its id alone without an index on ids when the id is a Cage id stamped with the call's own
/// millisecond (what <c>Cage.Meter</c> writes): the id names the bucket. Any other id — a reference tool's
/// <c>c_001</c>, or a Cage id whose time differs from the call's — is "foreign" and is kept in a partial unique
/// index on <c>id</c> (<c>foreign_id</c> 1 for ids that are not Cage ids, 2 for Cage-shaped ids stamped with another
/// millisecond).
/// </para>
/// </summary>
internal static class CallKeys
{
    /// <summary>Bits of <c>rk</c> below the millisecond.</summary>
    public const int SlotBits = 20;

    /// <summary>Slots per millisecond.</summary>
    public const int SlotsPerMillisecond = 1 << SlotBits;

    /// <summary>
    /// Keys are 63-bit: call timestamps must lie in [−2^43, 2^43) Unix milliseconds (about the years 1691 to 2248).
    /// The writer and the importers reject others; the schema-5 migration files older rows outside it at the edge.
    /// </summary>
    public const long MaxMilliseconds = (1L << 43) - 1;

    /// <summary>The earliest storable timestamp; see <see cref="MaxMilliseconds"/>.</summary>
    public const long MinMilliseconds = -(1L << 43);

    /// <summary>Whether a timestamp can be keyed.</summary>
    public static bool InRange(long milliseconds) => milliseconds is >= MinMilliseconds and <= MaxMilliseconds;

    /// <summary><c>foreign_id</c> of a call found through its id's own millisecond.</summary>
    public const int Native = 0;

    /// <summary><c>foreign_id</c> of a call whose id is not a Cage id.</summary>
    public const int ForeignOther = 1;

    /// <summary><c>foreign_id</c> of a call whose Cage-shaped id is stamped with another millisecond than the call.</summary>
    public const int ForeignStamped = 2;

    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private const int CageIdLength = 28;
    private static readonly sbyte[] Digits = BuildDigits();

    /// <summary>The first <c>rk</c> of a millisecond (the first slot of its bucket).</summary>
    public static long BucketStart(long milliseconds) => milliseconds * SlotsPerMillisecond;

    /// <summary>The millisecond an <c>rk</c> belongs to (floor division, so instants before 1970 work too).</summary>
    public static long MillisecondOf(long rk) => rk >> SlotBits;

    /// <summary>The <c>rk</c> of a slot in a millisecond's bucket.</summary>
    public static long Key(long milliseconds, int slot) => BucketStart(milliseconds) + slot;

    /// <summary>
    /// The id's home slot: for a Cage id the low 20 of its 80 random bits (its last four characters), otherwise a
    /// stable 32-bit FNV-1a hash of its UTF-16 code units folded to 20 bits. Stable across processes and versions.
    /// </summary>
    public static int HomeSlot(string id) => HomeSlot(id, TryCageMilliseconds(id, out _));

    /// <summary>The home slot, when the caller already knows whether <paramref name="id"/> is a Cage id.</summary>
    public static int HomeSlot(string id, bool isCageId)
    {
        if (isCageId)
        {
            var slot = 0;
            for (var i = CageIdLength - 4; i < CageIdLength; i++)
            {
                slot = (slot << 5) | (byte)Digits[id[i]];
            }

            return slot;
        }

        var hash = 2166136261u;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)((hash ^ (hash >> SlotBits)) & (SlotsPerMillisecond - 1));
    }

    /// <summary>How a call with this id and timestamp is found: <see cref="Native"/>, <see cref="ForeignOther"/> or <see cref="ForeignStamped"/>.</summary>
    public static int Classify(string id, long timestampMilliseconds) =>
        !TryCageMilliseconds(id, out var stamped) ? ForeignOther
        : stamped == timestampMilliseconds ? Native
        : ForeignStamped;

    /// <summary>
    /// The millisecond a Cage id (<c>x_</c> + 26 Crockford base32 characters, upper case) is stamped with; false for
    /// any other string.
    /// </summary>
    public static bool TryCageMilliseconds(string id, out long milliseconds)
    {
        milliseconds = 0;
        if (id.Length != CageIdLength || id[1] != '_' || id[0] is < 'a' or > 'z')
        {
            return false;
        }

        long value = 0;
        for (var i = 2; i < CageIdLength; i++)
        {
            var c = id[i];
            if (c >= Digits.Length || Digits[c] < 0)
            {
                return false;
            }

            if (i < 12)
            {
                value = (value << 5) | (byte)Digits[c];
            }
        }

        // 10 characters hold 50 bits; a Cage id's time is 48 bits, so the first character is at most '7'. A stamp beyond
        // the keyable range (year 2248) is treated as foreign too, so its bucket is never computed.
        if (value > MaxMilliseconds)
        {
            return false;
        }

        milliseconds = value;
        return true;
    }

    private static sbyte[] BuildDigits()
    {
        var digits = new sbyte[128];
        Array.Fill(digits, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++)
        {
            digits[Alphabet[i]] = (sbyte)i;
        }

        return digits;
    }
}
