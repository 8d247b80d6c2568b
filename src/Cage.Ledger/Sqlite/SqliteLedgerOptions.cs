namespace CageNet.Ledger;

/// <summary>Settings of a <see cref="SqliteLedger"/>.</summary>
public sealed class SqliteLedgerOptions
{
    /// <summary>
    /// The ledger file. Used by <c>AddSqliteLedger()</c>; when <see langword="null"/> (the default) the file is
    /// found with <see cref="LedgerLocation.Resolve(string?, string?)"/> (<c>CAGE_LEDGER</c>, then the nearest
    /// <c>.cage/</c> folder, then <c>./.cage/ledger.db</c>). <see cref="SqliteLedger.Open"/> takes its path as an argument
    /// and ignores this property.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>
    /// Whether every commit is synced to disk before it is acknowledged (<c>PRAGMA synchronous=FULL</c>).
    /// Default <see langword="false"/>: WAL with <c>synchronous=NORMAL</c>, which never corrupts the file and keeps
    /// every acknowledged record across a process kill (<c>kill -9</c>); only an operating-system crash or power loss
    /// can roll back the last few commits. Turn it on to survive those too, at a cost in write throughput.
    /// </summary>
    public bool SynchronousFull { get; set; }

    /// <summary>
    /// How long a write or read waits for another connection's lock (another process sharing the file) before
    /// failing with <c>SQLITE_BUSY</c>, in milliseconds. Default 5000; must be ≥ 0.
    /// </summary>
    public int BusyTimeoutMilliseconds { get; set; } = 5000;
}
