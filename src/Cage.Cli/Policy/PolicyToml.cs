using System.Globalization;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace CageNet.Cli.Policy;

/// <summary>
/// Reads the reference tool's <c>policy.toml</c> with Tomlyn (a TOML 1.1 parser that validates the document: duplicate
/// keys, tables defined twice, bad headers, bad values) into a <see cref="PolicyTable"/> that keeps, for each key, the
/// line and column it was written at. Floats are read from their literal text as <see cref="decimal"/>, so a price of
/// <c>0.1</c> is exactly <c>0.1m</c>, never a binary double's neighbour.
/// </summary>
internal static class PolicyToml
{
    /// <summary>Reads a TOML file.</summary>
    /// <exception cref="PolicyTomlException">The file is malformed (the message is <c>file:line:column: what</c>).</exception>
    public static PolicyTable ReadFile(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses TOML text; <paramref name="file"/> names it in messages.</summary>
    /// <exception cref="PolicyTomlException">The text is malformed (the message is <c>file:line:column: what</c>).</exception>
    public static PolicyTable Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(file);
        DocumentSyntax document;
        try
        {
            document = SyntaxParser.Parse(text, file, validate: true);
        }
        catch (Tomlyn.TomlException ex)
        {
            // Tomlyn refuses nesting deeper than 64 levels (and other structural limits) by throwing rather than by a
            // diagnostic: still a malformed file, named as such, never a crash.
            throw new PolicyTomlException($"{file}:{TooDeep(text)}: {ex.Message.Split(". Change ", 2)[0].TrimEnd('.')}", ex);
        }

        if (document.HasErrors)
        {
            throw FirstError(document, text, file);
        }

        var root = new PolicyTable(default);
        foreach (var keyValue in document.KeyValues)
        {
            Add(root, keyValue, file);
        }

        foreach (var header in document.Tables)
        {
            var table = Open(root, header, file);
            foreach (var keyValue in header.Items)
            {
                Add(table, keyValue, file);
            }
        }

        return root;
    }

    /// <summary>Where arrays and inline tables first nest deeper than Tomlyn's 64 levels (outside strings and comments).</summary>
    private static TomlPosition TooDeep(string text)
    {
        int depth = 0, line = 1, column = 0;
        char? quote = null;
        var comment = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            column++;
            if (c == '\n')
            {
                (line, column, comment) = (line + 1, 0, false);
                continue;
            }

            if (comment)
            {
                continue;
            }

            if (quote is { } q)
            {
                if (c == '\\' && q == '"') i++;
                else if (c == q) quote = null;
                continue;
            }

            switch (c)
            {
                case '"' or '\'': quote = c; break;
                case '#': comment = true; break;
                case '[' or '{' when ++depth > 64: return new TomlPosition(line, column);
                case ']' or '}': depth = Math.Max(0, depth - 1); break;
            }
        }

        return new TomlPosition(1, 1);
    }

    /// <summary>
    /// The earliest error Tomlyn reports, as <c>file:line:column: what</c>. Errors that only say the file ended (an array,
    /// an inline table or a multi-line string never closed) come last, and are reported where the unclosed value opened.
    /// </summary>
    private static PolicyTomlException FirstError(DocumentSyntax document, string text, string file)
    {
        var errors = document.Diagnostics.Where(d => d.Kind == DiagnosticMessageKind.Error).ToList();
        var end = text.TrimEnd().Length;
        bool AtEnd(DiagnosticMessage d) =>
            d.Span.Start.Offset > end || EndOfFileWords.Any(word => d.Message.Contains(word, StringComparison.Ordinal));

        var error = errors.Where(d => !AtEnd(d)).OrderBy(d => d.Span.Start.Offset).FirstOrDefault();
        if (error is null && Unclosed(document) is { } unclosed)
        {
            return new PolicyTomlException(file, unclosed.At, unclosed.What);
        }

        error ??= errors[0];

        // Tomlyn shows a newline as ␤ in its messages.
        return new PolicyTomlException(file, TomlPosition.Of(error.Span.Start), error.Message.Replace("␤", "end of line", StringComparison.Ordinal));
    }

    /// <summary>How Tomlyn's messages say the file ended before a value did.</summary>
    private static readonly string[] EndOfFileWords = ["<eof>", "`Eof`", "End-Of-File"];

    private static (TomlPosition At, string What)? Unclosed(DocumentSyntax document)
    {
        var values = document.KeyValues.Concat(document.Tables.SelectMany(t => t.Items)).Select(kv => kv.Value);
        foreach (var value in values)
        {
            if (Unclosed(value) is { } found) return found;
        }

        return null;
    }

    private static (TomlPosition At, string What)? Unclosed(ValueSyntax? value)
    {
        switch (value)
        {
            case ArraySyntax array:
                if (array.CloseBracket is null) return (TomlPosition.Of(array.Span.Start), "unterminated array: no closing ']' before the end of the file");
                foreach (var item in array.Items)
                {
                    if (Unclosed(item.Value) is { } inner) return inner;
                }

                return null;
            case InlineTableSyntax table:
                if (table.CloseBrace is null) return (TomlPosition.Of(table.Span.Start), "unterminated inline table: no closing '}' before the end of the file");
                foreach (var item in table.Items)
                {
                    if (Unclosed(item.KeyValue?.Value) is { } inner) return inner;
                }

                return null;
            case StringValueSyntax { Token: { Text: { } text } token }:
                var quote = token.TokenKind switch { TokenKind.StringMulti => "\"\"\"", TokenKind.StringLiteralMulti => "'''", _ => null };
                return quote is not null && (text.Length < 6 || !text.EndsWith(quote, StringComparison.Ordinal))
                    ? (TomlPosition.Of(token.Span.Start), $"unterminated multi-line string: no closing {quote} before the end of the file")
                    : null;
            default:
                return null;
        }
    }

    /// <summary>The table a <c>[header]</c> or <c>[[header]]</c> opens (creating the tables its name implies).</summary>
    private static PolicyTable Open(PolicyTable root, TableSyntaxBase header, string file)
    {
        var keys = Names(header.Name, file);
        var at = TomlPosition.Of(header.Span.Start);
        var parent = Walk(root, keys, keys.Count - 1, at, file);
        var last = keys[^1];
        if (header is TableArraySyntax)
        {
            if (!parent.TryGetValue(last, out var existing))
            {
                existing = new PolicyArray(at);
                parent.Add(last, existing, at, at);
            }

            if (existing is not PolicyArray array) throw Defined(file, at, keys);
            var element = new PolicyTable(at);
            array.Add(element);
            return element;
        }

        if (parent.TryGetValue(last, out var found))
        {
            // Implied by an earlier, longer header ([a.b] before [a]).
            return found as PolicyTable ?? throw Defined(file, at, keys);
        }

        var table = new PolicyTable(at);
        parent.Add(last, table, at, at);
        return table;
    }

    private static void Add(PolicyTable table, KeyValueSyntax keyValue, string file)
    {
        var keys = Names(keyValue.Key, file);
        var at = TomlPosition.Of(keyValue.Span.Start);
        var target = Walk(table, keys, keys.Count - 1, at, file);
        if (target.Contains(keys[^1])) throw Defined(file, at, keys);
        var value = keyValue.Value ?? throw new PolicyTomlException(file, at, $"the key '{string.Join('.', keys)}' has no value");
        target.Add(keys[^1], Value(value, file), at, TomlPosition.Of(value.Span.Start));
    }

    /// <summary>Follows the first <paramref name="count"/> keys from <paramref name="table"/>, creating missing tables.</summary>
    private static PolicyTable Walk(PolicyTable table, List<string> keys, int count, TomlPosition at, string file)
    {
        for (var i = 0; i < count; i++)
        {
            if (!table.TryGetValue(keys[i], out var next))
            {
                var created = new PolicyTable(at);
                table.Add(keys[i], created, at, at);
                next = created;
            }

            table = next switch
            {
                PolicyTable t => t,
                PolicyArray { Count: > 0 } array when array[^1] is PolicyTable element => element,
                _ => throw new PolicyTomlException(file, at, $"'{string.Join('.', keys.Take(i + 1))}' is already a value, not a table"),
            };
        }

        return table;
    }

    // Tomlyn's validation rejects what these guard against; they keep a surprise a clear message, not a crash.
    private static PolicyTomlException Defined(string file, TomlPosition at, List<string> keys) =>
        new(file, at, $"the key '{string.Join('.', keys)}' is defined twice");

    private static List<string> Names(KeySyntax? key, string file)
    {
        var names = new List<string> { Name(key?.Key, file) };
        if (key is not null)
        {
            names.AddRange(key.DotKeys.Select(dotted => Name(dotted.Key, file)));
        }

        return names;
    }

    private static string Name(BareKeyOrStringValueSyntax? key, string file) => key switch
    {
        BareKeySyntax { Key.Text: { } bare } => bare,
        StringValueSyntax { Value: { } quoted } => quoted,
        _ => throw new PolicyTomlException(file, key is null ? default : TomlPosition.Of(key.Span.Start), "expected a key"),
    };

    private static object Value(ValueSyntax value, string file) => value switch
    {
        StringValueSyntax s => s.Value ?? "",
        IntegerValueSyntax i => i.Value,
        FloatValueSyntax f => Float(f),
        BooleanValueSyntax b => b.Value,
        DateTimeValueSyntax d => d.Token?.Text ?? d.Value.ToString(),
        ArraySyntax a => Array(a, file),
        InlineTableSyntax t => Inline(t, file),
        _ => throw new PolicyTomlException(file, TomlPosition.Of(value.Span.Start), "expected a value"),
    };

    /// <summary>A float as an exact decimal from its literal text; <c>inf</c>, <c>nan</c> and values beyond decimal stay double.</summary>
    private static object Float(FloatValueSyntax value)
    {
        var text = value.Token?.Text?.Replace("_", "", StringComparison.Ordinal);
        return text is not null && decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var exact) ? exact : value.Value;
    }

    private static PolicyArray Array(ArraySyntax array, string file)
    {
        var result = new PolicyArray(TomlPosition.Of(array.Span.Start));
        foreach (var item in array.Items)
        {
            if (item.Value is { } value) result.Add(Value(value, file));
        }

        return result;
    }

    private static PolicyTable Inline(InlineTableSyntax inline, string file)
    {
        var table = new PolicyTable(TomlPosition.Of(inline.Span.Start));
        foreach (var item in inline.Items)
        {
            if (item.KeyValue is { } keyValue) Add(table, keyValue, file);
        }

        return table;
    }
}

/// <summary>A 1-based line and column in a <c>policy.toml</c> (0, 0 for the document itself).</summary>
internal readonly record struct TomlPosition(int Line, int Column)
{
    /// <summary>Tomlyn's 0-based position, 1-based.</summary>
    public static TomlPosition Of(TextPosition position) => new(position.Line + 1, position.Column + 1);

    public override string ToString() => $"{Line.ToString(CultureInfo.InvariantCulture)}:{Column.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// A TOML table: keys in the order they were written, with where each key and its value were written (for messages).
/// Values are <see cref="string"/>, <see cref="long"/>, <see cref="decimal"/> (a float that fits exactly),
/// <see cref="double"/> (<c>inf</c>, <c>nan</c>, or beyond decimal range), <see cref="bool"/>, <see cref="PolicyArray"/>
/// or <see cref="PolicyTable"/>. Dates and times are kept as their text.
/// </summary>
internal sealed class PolicyTable(TomlPosition position)
{
    private readonly Dictionary<string, (object Value, TomlPosition KeyAt, TomlPosition ValueAt)> _values = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <summary>Where the table was opened (0:0 for the document).</summary>
    public TomlPosition Position { get; } = position;

    /// <summary>The line the table was opened on (0 for the document).</summary>
    public int Line => Position.Line;

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
    public int LineOf(string key) => _values.TryGetValue(key, out var entry) ? entry.KeyAt.Line : Line;

    /// <summary>Where the value of <paramref name="key"/> starts.</summary>
    public TomlPosition ValuePositionOf(string key) => _values.TryGetValue(key, out var entry) ? entry.ValueAt : Position;

    internal bool Contains(string key) => _values.ContainsKey(key);

    internal void Add(string key, object value, TomlPosition keyAt, TomlPosition valueAt)
    {
        _values.Add(key, (value, keyAt, valueAt));
        _order.Add(key);
    }
}

/// <summary>A TOML array (values in order).</summary>
internal sealed class PolicyArray(TomlPosition position) : List<object>
{
    /// <summary>Where the array opened.</summary>
    public TomlPosition Position { get; } = position;
}

/// <summary>A <c>policy.toml</c> is malformed, or a setting Cage reads has the wrong type; the message names the file, line and column.</summary>
internal sealed class PolicyTomlException : Exception
{
    public PolicyTomlException()
    {
    }

    public PolicyTomlException(string message)
        : base(message)
    {
    }

    public PolicyTomlException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public PolicyTomlException(string file, TomlPosition at, string message)
        : base($"{file}:{at}: {message}")
    {
        File = file;
        Position = at;
    }

    public string? File { get; }

    public TomlPosition Position { get; }
}
