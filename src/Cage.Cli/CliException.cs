namespace CageNet.Cli;

/// <summary>
/// A command cannot do what was asked; the message is printed to stderr as <c>cage: message</c> and the process exits
/// with <see cref="ExitCode"/>: <see cref="ExitCodes.BadInput"/> for bad arguments or input, <see cref="ExitCodes.Failure"/> otherwise.
/// </summary>
internal sealed class CliException : Exception
{
    public CliException()
        : this("the command failed")
    {
    }

    public CliException(string message)
        : this(message, ExitCodes.BadInput)
    {
    }

    public CliException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ExitCode = ExitCodes.BadInput;
    }

    public CliException(string message, int exitCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }

    /// <summary>Bad arguments or bad input (exit 2).</summary>
    public static CliException BadInput(string message, Exception? inner = null) => new(message, ExitCodes.BadInput, inner);

    /// <summary>The command could not complete (exit 1).</summary>
    public static CliException Failure(string message, Exception? inner = null) => new(message, ExitCodes.Failure, inner);
}

/// <summary>The process exit codes (SPEC 6).</summary>
internal static class ExitCodes
{
    /// <summary>Success, including "no data".</summary>
    public const int Ok = 0;

    /// <summary>The command failed.</summary>
    public const int Failure = 1;

    /// <summary>Bad arguments or bad input.</summary>
    public const int BadInput = 2;
}
