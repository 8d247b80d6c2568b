namespace CageNet.Cli;

/// <summary>
/// Everything a command touches outside the ledger: the output streams, the clock, the working directory and the
/// environment. The process passes the real ones; tests pass writers, a fake clock and a temporary folder, so nothing
/// deep inside reads <see cref="Console"/> or <see cref="Environment"/>.
/// </summary>
internal sealed class CliContext
{
    private readonly Dictionary<string, string?> _environment;

    public CliContext(TextWriter output, TextWriter error, TimeProvider time, string workingDirectory, IDictionary<string, string?>? environment, bool errorIsTerminal = false, TextReader? input = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentException.ThrowIfNullOrWhiteSpace(workingDirectory);
        Output = output;
        Error = error;
        Time = time;
        Input = input ?? TextReader.Null;
        ErrorIsTerminal = errorIsTerminal;
        WorkingDirectory = Path.GetFullPath(workingDirectory);
        _environment = environment is null
            ? new Dictionary<string, string?>(StringComparer.Ordinal)
            : new Dictionary<string, string?>(environment, StringComparer.Ordinal);
    }

    /// <summary>Standard input (read only by <c>cage hooks run</c>, which gets the agent tool's hook JSON there).</summary>
    public TextReader Input { get; }

    /// <summary>Standard output: what the command shows.</summary>
    public TextWriter Output { get; }

    /// <summary>Standard error: errors and warnings.</summary>
    public TextWriter Error { get; }

    /// <summary>
    /// Whether stderr is a terminal (the process passes <c>!Console.IsErrorRedirected</c>; tests choose). Progress is
    /// shown only then: a log file or a pipe gets the result, not a stream of counters.
    /// </summary>
    public bool ErrorIsTerminal { get; }

    /// <summary>The clock (relative <c>--since</c> windows count back from it).</summary>
    public TimeProvider Time { get; }

    /// <summary>The folder relative paths resolve against.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The ledger path the command resolved (named when SQLite reports the file damaged mid-command), if any.</summary>
    public string? LedgerInUse { get; set; }

    /// <summary>The same environment and clock over another folder and other output streams (no input, not a terminal).</summary>
    public CliContext With(string workingDirectory, TextWriter output, TextWriter error) =>
        new(output, error, Time, workingDirectory, _environment);

    /// <summary>An environment variable, or <see langword="null"/> when unset or blank.</summary>
    public string? Variable(string name) =>
        _environment.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;

    /// <summary>A path given on the command line or in the environment, made absolute against <see cref="WorkingDirectory"/>.</summary>
    public string FullPath(string path) => Path.GetFullPath(path, WorkingDirectory);

    /// <summary>Writes text to stdout exactly as given (lines end with <c>\n</c> on every platform).</summary>
    public void Write(string text) => Output.Write(text);

    /// <summary>Writes one warning line to stderr.</summary>
    public void Warn(string message) => Error.Write($"cage: warning: {message}\n");
}
