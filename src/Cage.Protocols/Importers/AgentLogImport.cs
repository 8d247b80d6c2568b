namespace CageNet.Protocols;

/// <summary>What <see cref="AgentLogImporter.Read"/> found: normalized, priced call records, rate-limit samples and problems.</summary>
public sealed class AgentLogImport
{
    internal AgentLogImport(IReadOnlyList<CallRecord> calls, IReadOnlyList<RateLimitSample> rateLimits, IReadOnlyList<ImportProblem> problems,
        IReadOnlyList<string> referenceLedgerFiles, int filesRead, long linesRead, long duplicateLines, long skippedLines)
    {
        Calls = calls;
        RateLimits = rateLimits;
        Problems = problems;
        ReferenceLedgerFiles = referenceLedgerFiles;
        FilesRead = filesRead;
        LinesRead = linesRead;
        DuplicateLines = duplicateLines;
        SkippedLines = skippedLines;
    }

    /// <summary>
    /// One record per real provider round-trip, oldest first, priced with the catalog given. Ids and request ids are
    /// derived from the source (the response's <c>message.id</c>, the Codex session and cumulative total, a captured
    /// response's id or content hash), so importing the same files again adds nothing to a ledger.
    /// </summary>
    public IReadOnlyList<CallRecord> Calls { get; }

    /// <summary>Codex subscription utilization samples (<c>rate_limits.primary/secondary</c>), oldest first.</summary>
    public IReadOnlyList<RateLimitSample> RateLimits { get; }

    /// <summary>Lines and files that could not be imported (file, line, field, message); the rest still imported.</summary>
    public IReadOnlyList<ImportProblem> Problems { get; }

    /// <summary>Reference-tool ledger files (<c>calls.jsonl</c>, <c>receipts.jsonl</c>) found; import them with <c>ReferenceJsonl</c>.</summary>
    public IReadOnlyList<string> ReferenceLedgerFiles { get; }

    /// <summary>Files read (reference ledger files not included).</summary>
    public int FilesRead { get; }

    /// <summary>Lines read.</summary>
    public long LinesRead { get; }

    /// <summary>Usage lines that repeated a response already counted (Claude Code's repeated lines, forks, resumed sessions; Codex's repeated snapshots).</summary>
    public long DuplicateLines { get; }

    /// <summary>Lines skipped by rule: <c>&lt;synthetic&gt;</c> model lines and Codex <c>info: null</c> events.</summary>
    public long SkippedLines { get; }
}
