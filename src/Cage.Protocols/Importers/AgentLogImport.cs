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

    /// <summary>
    /// Replays the import into a subscription estimator (SPEC 7.6), oldest first: each call's tokens are recorded for
    /// its model, and each rate-limit sample is observed, so the utilization that moved between two samples is
    /// credited to the tokens spent in between. Use it to calibrate <c>tokens_per_pct</c> from past Codex sessions.
    /// </summary>
    /// <param name="estimator">The estimator to feed (for example <c>BudgetGuard.Estimator</c>).</param>
    /// <returns>The number of snapshots the estimator took.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="estimator"/> is <see langword="null"/>.</exception>
    public int Calibrate(CageNet.Budgets.Subscription.SubscriptionEstimator estimator)
    {
        ArgumentNullException.ThrowIfNull(estimator);
        var snapshots = 0;
        int c = 0, r = 0;
        while (c < Calls.Count || r < RateLimits.Count)
        {
            // A call and a sample written at the same instant: the call's tokens come first (the sample reports them).
            if (c < Calls.Count && (r >= RateLimits.Count || Calls[c].Timestamp <= RateLimits[r].ObservedAt))
            {
                estimator.RecordTokens(Calls[c].Model, Calls[c].Usage.TotalTokens);
                c++;
            }
            else
            {
                snapshots += estimator.Observe(RateLimits[r].ToSubscriptionSample());
                r++;
            }
        }

        return snapshots;
    }

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

    /// <summary>Where each of <see cref="Calls"/> came from (same order): its file and line, and whether a later import may upgrade it.</summary>
    internal IReadOnlyList<ImportOrigin> Origins { get; init; } = [];

    /// <summary>The files read, in the order read (reference ledger files not included).</summary>
    internal IReadOnlyList<string> Files { get; init; } = [];

    /// <summary>Files a folder walk skipped (FIFOs, devices, sockets, empty files, dangling links, unreadable folders).</summary>
    internal int FilesSkipped { get; init; }

    /// <summary>Lines and files rejected (warnings not included), counting those past the listed <see cref="Problems"/>.</summary>
    internal long Rejections { get; init; }

    /// <summary>Lines skipped by rule: <c>&lt;synthetic&gt;</c> model lines and Codex <c>info: null</c> events.</summary>
    public long SkippedLines { get; }
}

/// <summary>Where an imported call came from.</summary>
/// <param name="File">The file.</param>
/// <param name="Line">The line kept for the call (0 for a captured response read whole).</param>
/// <param name="Upgradable">
/// Whether the call may have been read before it was complete (a Claude Code response still streaming): a later
/// import that reports more output replaces the stored usage.
/// </param>
internal readonly record struct ImportOrigin(string File, int Line, bool Upgradable);
