namespace CageNet.Ledger;

/// <summary>A line of a JSONL file that could not be imported, and why. It was skipped; the rest of the file was imported.</summary>
/// <param name="File">The file.</param>
/// <param name="Line">The 1-based line number.</param>
/// <param name="Field">The offending field (snake_case, as on the wire), or <see langword="null"/> when the line as a whole is bad (malformed JSON).</param>
/// <param name="Message">What is wrong.</param>
public sealed record ImportError(string File, int Line, string? Field, string Message)
{
    /// <summary><c>file:line: field: message</c> (or <c>file:line: message</c> without a field).</summary>
    public override string ToString() =>
        Field is null
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{File}:{Line}: {Message}")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{File}:{Line}: {Field}: {Message}");
}

/// <summary>What an import did.</summary>
/// <param name="Appended">Records added, and records skipped because the ledger already had them (same id or request id).</param>
/// <param name="LinesRead">Lines read from all files, blank and rejected ones included.</param>
/// <param name="Errors">The rejected lines, in file and line order.</param>
public sealed record ImportResult(AppendResult Appended, int LinesRead, IReadOnlyList<ImportError> Errors)
{
    /// <summary>Records stored under a derived id: the ledger held their id with other content.</summary>
    internal IReadOnlyList<RenamedRecord> Renamed { get; init; } = [];
}

/// <summary>What an export wrote.</summary>
/// <param name="Calls">Call lines written.</param>
/// <param name="Receipts">Receipt lines written.</param>
/// <param name="CallsFile">The full path of <c>calls.jsonl</c>.</param>
/// <param name="ReceiptsFile">The full path of <c>receipts.jsonl</c>.</param>
public sealed record ExportResult(int Calls, int Receipts, string CallsFile, string ReceiptsFile);
