namespace CageNet.Protocols;

/// <summary>A provider payload could not be read: malformed JSON, a count that is negative, fractional, too large or not a number.</summary>
public sealed class WireFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public WireFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What was wrong, naming the field or byte offset.</param>
    public WireFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="innerException">The cause.</param>
    public WireFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
