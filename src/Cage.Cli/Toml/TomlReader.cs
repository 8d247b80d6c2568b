using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CageNet.Cli.Toml;

/// <summary>
/// A small TOML reader for the reference tool's <c>policy.toml</c>: tables, arrays of tables, dotted and quoted keys,
/// basic / literal / multi-line strings, integers (decimal, hex, octal, binary), floats, booleans, dates (kept as
/// text), arrays and inline tables. Errors name the file and line. Not a validator of every corner of TOML 1.0: it
/// is lenient where leniency cannot change a value (newlines inside inline tables, for instance).
/// </summary>
internal sealed partial class TomlReader
{
    private readonly string _text;
    private readonly string _file;
    private readonly List<int> _newlines = [];
    private int _pos;

    private TomlReader(string text, string file)
    {
        _text = text;
        _file = file;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n') _newlines.Add(i);
        }
    }

    /// <summary>Reads a TOML file.</summary>
    /// <exception cref="TomlException">The file is malformed (the message is <c>file:line: what</c>).</exception>
    public static TomlTable ReadFile(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses TOML text; <paramref name="file"/> names it in messages.</summary>
    /// <exception cref="TomlException">The text is malformed (the message is <c>file:line: what</c>).</exception>
    public static TomlTable Parse(string text, string file)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(file);
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        return new TomlReader(text, file).ParseDocument();
    }

    private bool AtEnd => _pos >= _text.Length;

    private char Peek => _pos < _text.Length ? _text[_pos] : '\0';

    private char PeekAt(int offset) => _pos + offset < _text.Length ? _text[_pos + offset] : '\0';

    private int CurrentLine => LineAt(_pos);

    private int LineAt(int position)
    {
        var index = _newlines.BinarySearch(position);
        return (index >= 0 ? index : ~index) + 1;
    }

    private TomlException Error(string message) => new(_file, CurrentLine, message);

    private TomlException Error(int position, string message) => new(_file, LineAt(position), message);

    private TomlTable ParseDocument()
    {
        var root = new TomlTable(0) { ExplicitlyDefined = true };
        var current = root;
        while (true)
        {
            SkipSpaces();
            if (AtEnd) break;
            if (TryNewline()) continue;
            if (Peek == '#')
            {
                SkipComment();
            }
            else if (Peek == '[')
            {
                current = ParseHeader(root);
            }
            else
            {
                ParseKeyValue(current);
            }

            ExpectEndOfLine();
        }

        return root;
    }

    private void SkipSpaces()
    {
        while (!AtEnd && (Peek == ' ' || Peek == '\t')) _pos++;
    }

    private void SkipComment()
    {
        while (!AtEnd && Peek != '\n' && !(Peek == '\r' && PeekAt(1) == '\n'))
        {
            var c = Peek;
            if (c < 0x20 && c != '\t') throw Error("control characters are not allowed in comments");
            _pos++;
        }
    }

    private bool TryNewline()
    {
        if (Peek == '\n')
        {
            _pos++;
            return true;
        }

        if (Peek == '\r' && PeekAt(1) == '\n')
        {
            _pos += 2;
            return true;
        }

        return false;
    }

    /// <summary>Skips spaces, newlines and comments (inside arrays and inline tables).</summary>
    private void SkipBlank()
    {
        while (true)
        {
            SkipSpaces();
            if (TryNewline()) continue;
            if (Peek == '#')
            {
                SkipComment();
                continue;
            }

            return;
        }
    }

    private void ExpectEndOfLine()
    {
        SkipSpaces();
        if (Peek == '#') SkipComment();
        if (AtEnd || TryNewline()) return;
        throw Error($"unexpected '{Peek}' after a value; expected the end of the line");
    }

    private TomlTable ParseHeader(TomlTable root)
    {
        var start = _pos;
        var isArray = PeekAt(1) == '[';
        _pos += isArray ? 2 : 1;
        var keys = ParseKey();
        SkipSpaces();
        if (isArray)
        {
            if (Peek != ']' || PeekAt(1) != ']') throw Error("expected ']]' to close the array-of-tables header");
            _pos += 2;
        }
        else
        {
            if (Peek != ']') throw Error("expected ']' to close the table header");
            _pos++;
        }

        var line = LineAt(start);
        var parent = Walk(root, keys, keys.Count - 1, line, dotted: false);
        var last = keys[^1];
        var name = string.Join('.', keys);
        if (isArray)
        {
            TomlArray array;
            if (!parent.TryGetValue(last, out var existing))
            {
                array = new TomlArray(line) { OfTables = true };
                parent.Add(last, array, line);
            }
            else if (existing is TomlArray { OfTables: true } tables)
            {
                array = tables;
            }
            else
            {
                throw Error(start, $"[[{name}]]: '{name}' is already defined as something other than an array of tables");
            }

            var table = new TomlTable(line) { ExplicitlyDefined = true };
            array.Add(table);
            return table;
        }

        if (!parent.TryGetValue(last, out var found))
        {
            var table = new TomlTable(line) { ExplicitlyDefined = true };
            parent.Add(last, table, line);
            return table;
        }

        if (found is TomlTable { ExplicitlyDefined: false, DefinedByDottedKeys: false, Inline: false } implicitTable)
        {
            implicitTable.ExplicitlyDefined = true;
            return implicitTable;
        }

        throw Error(start, $"table [{name}] is defined twice");
    }

    /// <summary>Follows <paramref name="count"/> keys from <paramref name="table"/>, creating missing tables.</summary>
    private TomlTable Walk(TomlTable table, List<string> keys, int count, int line, bool dotted)
    {
        for (var i = 0; i < count; i++)
        {
            var key = keys[i];
            if (!table.TryGetValue(key, out var next))
            {
                var created = new TomlTable(line) { DefinedByDottedKeys = dotted };
                table.Add(key, created, line);
                table = created;
                continue;
            }

            table = next switch
            {
                TomlTable { Inline: true } => throw Error($"'{string.Join('.', keys.Take(i + 1))}' is an inline table and cannot be extended"),
                TomlTable { ExplicitlyDefined: true } when dotted => throw Error($"'{string.Join('.', keys.Take(i + 1))}' is a table defined elsewhere and cannot be extended with dotted keys here"),
                TomlTable t => t,
                TomlArray { OfTables: true, Count: > 0 } tables when !dotted => (TomlTable)tables[^1],
                _ => throw Error($"'{string.Join('.', keys.Take(i + 1))}' is already a value, not a table"),
            };
        }

        return table;
    }

    private void ParseKeyValue(TomlTable table)
    {
        var start = _pos;
        var keys = ParseKey();
        SkipSpaces();
        if (Peek != '=') throw Error($"expected '=' after the key '{string.Join('.', keys)}'");
        _pos++;
        SkipSpaces();
        var value = ParseValue();
        var line = LineAt(start);
        var target = Walk(table, keys, keys.Count - 1, line, dotted: true);
        var last = keys[^1];
        if (target.Contains(last)) throw Error(start, $"the key '{string.Join('.', keys)}' is defined twice");
        target.Add(last, value, line);
    }

    private List<string> ParseKey()
    {
        var parts = new List<string>();
        while (true)
        {
            SkipSpaces();
            parts.Add(ParseSimpleKey());
            SkipSpaces();
            if (Peek != '.') return parts;
            _pos++;
        }
    }

    private string ParseSimpleKey()
    {
        if (Peek == '"')
        {
            if (PeekAt(1) == '"' && PeekAt(2) == '"') throw Error("a key cannot be a multi-line string");
            return ParseBasicString();
        }

        if (Peek == '\'')
        {
            if (PeekAt(1) == '\'' && PeekAt(2) == '\'') throw Error("a key cannot be a multi-line string");
            return ParseLiteralString();
        }

        var start = _pos;
        while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek == '_' || Peek == '-')) _pos++;
        if (_pos == start)
        {
            throw AtEnd || Peek == '\n' || Peek == '\r' ? Error("expected a key") : Error($"unexpected '{Peek}' where a key was expected");
        }

        return _text[start.._pos];
    }

    private object ParseValue()
    {
        var c = Peek;
        switch (c)
        {
            case '"':
                return PeekAt(1) == '"' && PeekAt(2) == '"' ? ParseMultilineBasicString() : ParseBasicString();
            case '\'':
                return PeekAt(1) == '\'' && PeekAt(2) == '\'' ? ParseMultilineLiteralString() : ParseLiteralString();
            case '[':
                return ParseArray();
            case '{':
                return ParseInlineTable();
            case '\0' when AtEnd:
            case '\n':
            case '\r':
            case '#':
                throw Error("expected a value");
        }

        if (Matches("true")) return true;
        if (Matches("false")) return false;
        return ParseScalar();
    }

    private bool Matches(string word)
    {
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) return false;
        var after = PeekAt(word.Length);
        if (char.IsAsciiLetterOrDigit(after) || after == '_' || after == '-') return false;
        _pos += word.Length;
        return true;
    }

    private object ParseScalar()
    {
        var start = _pos;
        while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek is '+' or '-' or '.' or '_' or ':')) _pos++;

        // A date-time may separate the date and the time with a space.
        if (DatePattern().IsMatch(_text.AsSpan(start, _pos - start)) && Peek == ' ' && char.IsAsciiDigit(PeekAt(1)))
        {
            _pos++;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek is '+' or '-' or '.' or ':')) _pos++;
        }

        var token = _text[start.._pos];
        if (token.Length == 0) throw Error($"unexpected '{Peek}' where a value was expected");

        switch (token)
        {
            case "inf" or "+inf": return double.PositiveInfinity;
            case "-inf": return double.NegativeInfinity;
            case "nan" or "+nan" or "-nan": return double.NaN;
        }

        if (token.Length > 2 && token[0] == '0' && token[1] is 'x' or 'o' or 'b')
        {
            var digits = token[2..].Replace("_", "", StringComparison.Ordinal);
            var radix = token[1] switch { 'x' => 16, 'o' => 8, _ => 2 };
            try
            {
                return Convert.ToInt64(digits, radix);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
            {
                throw Error(start, $"'{token}' is not a valid integer");
            }
        }

        if (IntegerPattern().IsMatch(token))
        {
            if (long.TryParse(token.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            {
                return integer;
            }

            throw Error(start, $"the integer {token} is out of range");
        }

        if (FloatPattern().IsMatch(token))
        {
            var plain = token.Replace("_", "", StringComparison.Ordinal);
            if (decimal.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var exact)) return exact;
            if (double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var approximate)) return approximate;
            throw Error(start, $"'{token}' is not a valid number");
        }

        if (DateTimePattern().IsMatch(token)) return token;

        throw Error(start, $"'{token}' is not a valid value (strings need quotes)");
    }

    private string ParseBasicString()
    {
        var start = _pos;
        _pos++;
        var value = new StringBuilder();
        while (true)
        {
            if (AtEnd || Peek == '\n' || Peek == '\r') throw Error(start, "unterminated string");
            var c = Peek;
            if (c == '"')
            {
                _pos++;
                return value.ToString();
            }

            if (c == '\\')
            {
                value.Append(ParseEscape());
                continue;
            }

            if (c < 0x20 && c != '\t') throw Error("control characters must be escaped in strings");
            value.Append(c);
            _pos++;
        }
    }

    private string ParseMultilineBasicString()
    {
        var start = _pos;
        _pos += 3;
        TryNewline();
        var value = new StringBuilder();
        while (true)
        {
            if (AtEnd) throw Error(start, "unterminated multi-line string");
            var c = Peek;
            if (c == '"' && PeekAt(1) == '"' && PeekAt(2) == '"')
            {
                // Up to two quotes right before the closing delimiter belong to the string.
                var extra = 0;
                while (extra < 2 && PeekAt(3 + extra) == '"') extra++;
                value.Append('"', extra);
                _pos += 3 + extra;
                return value.ToString();
            }

            if (c == '\\')
            {
                // A line-ending backslash trims the newline and the whitespace that follows.
                var look = _pos + 1;
                while (look < _text.Length && (_text[look] == ' ' || _text[look] == '\t')) look++;
                if (look < _text.Length && (_text[look] == '\n' || (_text[look] == '\r' && look + 1 < _text.Length && _text[look + 1] == '\n')))
                {
                    _pos = look;
                    while (!AtEnd)
                    {
                        if (Peek is ' ' or '\t') _pos++;
                        else if (!TryNewline()) break;
                    }

                    continue;
                }

                value.Append(ParseEscape());
                continue;
            }

            if (TryNewline())
            {
                value.Append('\n');
                continue;
            }

            if (c < 0x20 && c != '\t') throw Error("control characters must be escaped in strings");
            value.Append(c);
            _pos++;
        }
    }

    private string ParseEscape()
    {
        var start = _pos;
        _pos++;
        var c = Peek;
        _pos++;
        switch (c)
        {
            case 'b': return "\b";
            case 't': return "\t";
            case 'n': return "\n";
            case 'f': return "\f";
            case 'r': return "\r";
            case 'e': return "\u001b";
            case '"': return "\"";
            case '\\': return "\\";
            case 'u':
            case 'U':
                var length = c == 'u' ? 4 : 8;
                if (_pos + length > _text.Length) throw Error(start, $"the escape \\{c} needs {length} hex digits");
                var hex = _text.Substring(_pos, length);
                if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
                    || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
                {
                    throw Error(start, $"\\{c}{hex} is not a valid Unicode scalar value");
                }

                _pos += length;
                return char.ConvertFromUtf32(code);
            default:
                throw Error(start, $"unknown escape sequence \\{c}");
        }
    }

    private string ParseLiteralString()
    {
        var start = _pos;
        _pos++;
        var from = _pos;
        while (true)
        {
            if (AtEnd || Peek == '\n' || Peek == '\r') throw Error(start, "unterminated string");
            if (Peek == '\'')
            {
                var value = _text[from.._pos];
                _pos++;
                return value;
            }

            _pos++;
        }
    }

    private string ParseMultilineLiteralString()
    {
        var start = _pos;
        _pos += 3;
        TryNewline();
        var value = new StringBuilder();
        while (true)
        {
            if (AtEnd) throw Error(start, "unterminated multi-line string");
            if (Peek == '\'' && PeekAt(1) == '\'' && PeekAt(2) == '\'')
            {
                var extra = 0;
                while (extra < 2 && PeekAt(3 + extra) == '\'') extra++;
                value.Append('\'', extra);
                _pos += 3 + extra;
                return value.ToString();
            }

            if (TryNewline())
            {
                value.Append('\n');
                continue;
            }

            value.Append(Peek);
            _pos++;
        }
    }

    private TomlArray ParseArray()
    {
        var start = _pos;
        var array = new TomlArray(CurrentLine);
        _pos++;
        while (true)
        {
            SkipBlank();
            if (AtEnd) throw Error(start, "unterminated array");
            if (Peek == ']')
            {
                _pos++;
                return array;
            }

            array.Add(ParseValue());
            SkipBlank();
            if (Peek == ',')
            {
                _pos++;
                continue;
            }

            if (Peek == ']')
            {
                _pos++;
                return array;
            }

            throw AtEnd ? Error(start, "unterminated array") : Error($"expected ',' or ']' in the array, found '{Peek}'");
        }
    }

    private TomlTable ParseInlineTable()
    {
        var start = _pos;
        var table = new TomlTable(CurrentLine);
        _pos++;
        SkipBlank();
        if (Peek == '}')
        {
            _pos++;
            table.Inline = true;
            return table;
        }

        while (true)
        {
            SkipBlank();
            ParseKeyValue(table);
            SkipBlank();
            if (Peek == ',')
            {
                _pos++;
                SkipBlank();
                if (Peek == '}')
                {
                    _pos++;
                    break;
                }

                continue;
            }

            if (Peek == '}')
            {
                _pos++;
                break;
            }

            throw AtEnd ? Error(start, "unterminated inline table") : Error($"expected ',' or '}}' in the inline table, found '{Peek}'");
        }

        table.Inline = true;
        return table;
    }

    [GeneratedRegex(@"^[+-]?(0|[1-9](_?[0-9])*)$", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[+-]?(0|[1-9](_?[0-9])*)((\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?|[eE][+-]?[0-9](_?[0-9])*)$", RegexOptions.CultureInvariant)]
    private static partial Regex FloatPattern();

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex DatePattern();

    [GeneratedRegex(@"^([0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?|[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)$", RegexOptions.CultureInvariant)]
    private static partial Regex DateTimePattern();
}
