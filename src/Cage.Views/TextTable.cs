using System.Text;

namespace CageNet.Views;

/// <summary>
/// A plain-text table as the reference tool prints it: columns two spaces apart, a dashed rule under the header,
/// text left-aligned and numbers right-aligned, no trailing spaces.
/// </summary>
internal sealed class TextTable
{
    private readonly List<(string Header, bool AlignRight)> _columns = [];
    private readonly List<string[]> _rows = [];

    /// <summary>Adds a column; every column has a header (a table whose column says nothing of itself is refused).</summary>
    public TextTable Column(string header, bool alignRight = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(header);
        _columns.Add((header, alignRight));
        return this;
    }

    public TextTable Row(params string[] cells)
    {
        if (cells.Length != _columns.Count)
        {
            throw new ArgumentException($"a row needs {_columns.Count} cells, got {cells.Length}", nameof(cells));
        }

        _rows.Add(cells);
        return this;
    }

    public void Render(StringBuilder text)
    {
        var widths = new int[_columns.Count];
        for (var i = 0; i < _columns.Count; i++)
        {
            widths[i] = _rows.Select(r => r[i].Length).Append(_columns[i].Header.Length).Max();
        }

        Line(text, widths, _columns.Select(c => c.Header).ToArray());
        Line(text, widths, widths.Select(w => new string('-', w)).ToArray(), rule: true);
        foreach (var row in _rows)
        {
            Line(text, widths, row);
        }
    }

    private void Line(StringBuilder text, int[] widths, string[] cells, bool rule = false)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(rule || !_columns[i].AlignRight ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i]));
        }

        text.Append(line.ToString().TrimEnd()).Append('\n');
    }
}
