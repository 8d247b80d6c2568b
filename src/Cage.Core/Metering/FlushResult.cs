namespace CageNet;

/// <summary>What a flush found: the records committed and the records dropped since the previous flush returned.</summary>
/// <param name="Written">Records committed to the ledger since the previous flush (the first flush: since the meter started).</param>
/// <param name="Dropped">Records lost since the previous flush: refused by a full queue, refused by the ledger, or dropped after the ledger kept failing.</param>
public readonly record struct FlushResult(long Written, long Dropped)
{
    /// <summary>Whether nothing was dropped: everything metered before the flush is committed.</summary>
    public bool IsComplete => Dropped == 0;
}

/// <summary>
/// Thrown by <c>FlushAsync</c> when records were dropped since the previous flush and
/// <see cref="Configuration.MeteringOptions.ThrowOnFlushLoss"/> is set.
/// </summary>
public sealed class MeteringLossException : Exception
{
    /// <summary>Creates the exception for a flush that found dropped records.</summary>
    /// <param name="result">What the flush found.</param>
    public MeteringLossException(FlushResult result)
        : base($"Cage dropped {result.Dropped} metered record(s) since the previous flush ({result.Written} written); see the meter's log and cage.ledger.dropped.") =>
        Result = result;

    /// <summary>Creates the exception with a default message.</summary>
    public MeteringLossException()
        : this(default(FlushResult))
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public MeteringLossException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MeteringLossException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>What the flush found.</summary>
    public FlushResult Result { get; }
}
