namespace CageNet.Attribution;

/// <summary>A view was asked for something the ledger cannot answer as asked (for example more than 16 matrix tools, or a tool with no receipts); the message says what to change.</summary>
public sealed class AttributionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AttributionException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong and what to do about it.</param>
    public AttributionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What is wrong and what to do about it.</param>
    /// <param name="innerException">The cause.</param>
    public AttributionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
