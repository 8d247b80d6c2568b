namespace CageNet.Cli.Toml;

/// <summary>
/// A TOML table: keys in the order they were written, with the line each was defined on (for messages). Values are
/// <see cref="string"/>, <see cref="long"/>, <see cref="decimal"/> (a float that fits exactly), <see cref="double"/>
/// (<c>inf</c>, <c>nan</c>, or beyond decimal range), <see cref="bool"/>, <see cref="TomlArray"/> or <see cref="TomlTable"/>.
/// Dates and times are kept as their text.
/// </summary>
internal sealed class TomlTable
{
    private readonly Dictionary<string, (object Value, int Line)> _values = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public TomlTable(int line) => Line = line;

    /// <summary>The line the table was opened on (0 for the root).</summary>
    public int Line { get; }

    /// <summary>Defined by a <c>[header]</c> (as opposed to implied by a longer header or a dotted key).</summary>
    internal bool ExplicitlyDefined { get; set; }

    /// <summary>Defined by dotted keys (<c>a.b = 1</c>); a <c>[a]</c> header may not reopen it.</summary>
    internal bool DefinedByDottedKeys { get; set; }

    /// <summary>An inline table: closed once written.</summary>
    internal bool Inline { get; set; }

    public IEnumerable<string> Keys => _order;

    public int Count => _order.Count;

    public object this[string key] => _values[key].Value;

    public bool TryGetValue(string key, out object value)
    {
        if (_values.TryGetValue(key, out var entry))
        {
            value = entry.Value;
            return true;
        }

        value = null!;
        return false;
    }

    /// <summary>The line <paramref name="key"/> was written on.</summary>
    public int LineOf(string key) => _values.TryGetValue(key, out var entry) ? entry.Line : Line;

    internal bool Contains(string key) => _values.ContainsKey(key);

    internal void Add(string key, object value, int line)
    {
        _values.Add(key, (value, line));
        _order.Add(key);
    }
}

/// <summary>A TOML array (values in order).</summary>
internal sealed class TomlArray(int line) : List<object>
{
    /// <summary>The line the array started on.</summary>
    public int Line { get; } = line;

    /// <summary>An array of tables (<c>[[name]]</c>), which later headers may append to.</summary>
    internal bool OfTables { get; init; }
}

/// <summary>A TOML file is malformed; the message names the file and line.</summary>
internal sealed class TomlException : Exception
{
    public TomlException()
    {
    }

    public TomlException(string message)
        : base(message)
    {
    }

    public TomlException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public TomlException(string file, int line, string message)
        : base($"{file}:{line}: {message}")
    {
        File = file;
        LineNumber = line;
    }

    public string? File { get; }

    public int LineNumber { get; }
}
