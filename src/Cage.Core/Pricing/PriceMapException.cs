namespace CageNet.Pricing;

/// <summary>
/// A price map could not be read: the file is missing or unreadable, is not valid JSON, or holds a bad price.
/// The message names the file, and the model key and field (or the line and byte position) when they are known.
/// </summary>
public sealed class PriceMapException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public PriceMapException()
        : base("the price map could not be read")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public PriceMapException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public PriceMapException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PriceMapException(
        string message,
        string sourceName,
        string? modelKey = null,
        string? field = null,
        long? lineNumber = null,
        long? bytePositionInLine = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        SourceName = sourceName;
        ModelKey = modelKey;
        Field = field;
        LineNumber = lineNumber;
        BytePositionInLine = bytePositionInLine;
    }

    /// <summary>The file (or other source) the map was read from, when known.</summary>
    public string? SourceName { get; }

    /// <summary>The model key whose entry is bad, when the problem is in one entry.</summary>
    public string? ModelKey { get; }

    /// <summary>The field of <see cref="ModelKey"/> whose value is bad, when the problem is one value.</summary>
    public string? Field { get; }

    /// <summary>The 1-based line of invalid JSON, when the map is not valid JSON.</summary>
    public long? LineNumber { get; }

    /// <summary>The 1-based byte position within <see cref="LineNumber"/> of invalid JSON, when the map is not valid JSON.</summary>
    public long? BytePositionInLine { get; }
}
