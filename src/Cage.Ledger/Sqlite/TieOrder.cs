namespace CageNet.Ledger;

/// <summary>
/// Puts rows read in key order (time order, ties by slot) into time order with ties in their order of arrival: the
/// rows of one millisecond are held back and released by <c>seq</c> when a later millisecond begins.
/// </summary>
internal sealed class TieOrder<T>
{
    private readonly List<(long Seq, T Row)> _held = [];
    private long _millisecond = long.MinValue;

    /// <summary>Adds a row; returns the rows released by it (the previous millisecond's, in order).</summary>
    public IEnumerable<T> Add(long millisecond, long seq, T row)
    {
        IEnumerable<T> released = [];
        if (millisecond != _millisecond)
        {
            released = Flush();
            _millisecond = millisecond;
        }

        _held.Add((seq, row));
        return released;
    }

    /// <summary>Releases the rows held back.</summary>
    public IEnumerable<T> Flush()
    {
        if (_held.Count == 0)
        {
            return [];
        }

        var ordered = _held.Count == 1 ? [_held[0].Row] : _held.OrderBy(h => h.Seq).Select(h => h.Row).ToArray();
        _held.Clear();
        return ordered;
    }
}
