using CageNet.Ledger;
using CageNet.Protocols;

namespace CageNet.Cli.Commands;

/// <summary>
/// What one <c>cage import</c> of agent logs (and any reference ledger files among them) did, file by file: calls
/// added, upgraded, already there and rejected; files imported, partly imported, rejected and skipped; lines read and
/// rejected; every problem as <c>file:line: field: message</c>. Storing goes through <see cref="StoreAsync"/>, which
/// never lets one bad record sink the others: a batch the ledger refuses is stored again call by call, and each call it
/// still refuses is rejected with the file and line it came from.
/// </summary>
internal sealed class ImportTally
{
    private const int BatchSize = 10_000;

    private readonly Dictionary<string, FileCounts> _files = new(StringComparer.Ordinal);

    public int CallsAdded { get; private set; }

    public int CallsUpdated { get; private set; }

    public int CallsSkipped { get; private set; }

    public int CallsRejected { get; private set; }

    public int ReceiptsAdded { get; private set; }

    public int ReceiptsSkipped { get; private set; }

    public long LinesRead { get; private set; }

    /// <summary>Reference records stored under a derived id: the ledger held their id with other content.</summary>
    public List<RenamedRecord> Renamed { get; } = [];

    public long LinesRejected { get; private set; }

    public int FilesSkipped { get; private set; }

    /// <summary>Rejections and warnings, in the order they were found.</summary>
    public List<ImportProblem> Problems { get; } = [];

    public IEnumerable<ImportProblem> Rejections => Problems.Where(p => !p.IsWarning);

    public IEnumerable<ImportProblem> Warnings => Problems.Where(p => p.IsWarning);

    /// <summary>Files read whose records all imported (or were already there).</summary>
    public int FilesImported => _files.Values.Count(f => f.Rejected == 0);

    /// <summary>Files with both imported records and rejected lines.</summary>
    public int FilesPartlyImported => _files.Values.Count(f => f.Rejected > 0 && f.Stored > 0);

    /// <summary>Files with rejected lines and nothing imported.</summary>
    public int FilesRejected => _files.Values.Count(f => f.Rejected > 0 && f.Stored == 0);

    public int FilesRead => _files.Count;

    /// <summary>Exit 2 when anything was rejected; warnings alone keep 0.</summary>
    public int ExitCode => LinesRejected > 0 || CallsRejected > 0 ? ExitCodes.BadInput : ExitCodes.Ok;

    /// <summary>Takes in what the importer read: its files, lines and problems (warnings and rejections).</summary>
    public void Read(AgentLogImport imported)
    {
        LinesRead += imported.LinesRead;
        LinesRejected += imported.Rejections;
        FilesSkipped += imported.FilesSkipped;
        foreach (var file in imported.Files)
        {
            File(file);
        }

        foreach (var problem in imported.Problems)
        {
            Problems.Add(problem);
            if (!problem.IsWarning && _files.TryGetValue(problem.File, out var counts))
            {
                counts.Rejected++;
            }
        }
    }

    /// <summary>Stores the calls, in batches; a refused batch is retried call by call and each refused call rejected.</summary>
    public async Task StoreAsync(SqliteLedger ledger, AgentLogImport imported, CancellationToken cancellationToken)
    {
        var calls = imported.Calls;
        for (var start = 0; start < calls.Count; start += BatchSize)
        {
            var count = Math.Min(BatchSize, calls.Count - start);
            var batch = new CallRecord[count];
            for (var i = 0; i < count; i++)
            {
                batch[i] = calls[start + i];
            }

            var kept = new List<int>(count);
            var skipped = 0;
            try
            {
                var result = await ledger.AppendAsync(new LedgerBatch(batch, []), cancellationToken).ConfigureAwait(false);
                CallsAdded += result.CallsAdded;
                skipped = result.CallsSkipped;
                kept.AddRange(Enumerable.Range(start, count));
            }
            catch (CageValidationException)
            {
                for (var i = start; i < start + count; i++)
                {
                    try
                    {
                        var result = await ledger.AppendAsync(new LedgerBatch([calls[i]], []), cancellationToken).ConfigureAwait(false);
                        CallsAdded += result.CallsAdded;
                        skipped += result.CallsSkipped;
                        kept.Add(i);
                    }
                    catch (CageValidationException ex)
                    {
                        var origin = imported.Origins[i];
                        Reject(new ImportProblem(origin.File, origin.Line, ex.Field, ex.Reason));
                        CallsRejected++;
                    }
                }
            }

            foreach (var i in kept)
            {
                File(imported.Origins[i].File).Stored++;
            }

            // A response read before it was complete (a transcript still streaming) is upgraded in place by this import.
            var upgradable = kept.Where(i => imported.Origins[i].Upgradable).Select(i => calls[i]).ToArray();
            if (upgradable.Length > 0 && skipped > 0)
            {
                var upgraded = await ledger.UpgradeAsync(upgradable, cancellationToken).ConfigureAwait(false);
                CallsUpdated += upgraded;
                skipped -= upgraded;
            }

            CallsSkipped += skipped;
        }
    }

    /// <summary>Takes in the import of a reference ledger (a calls.jsonl or receipts.jsonl file, or a folder holding them).</summary>
    public void Add(string path, ImportResult result)
    {
        var (callsFile, receiptsFile) = ReferenceJsonl.Locate(path);
        if (callsFile is not null)
        {
            File(callsFile).Stored += result.Appended.CallsAdded + result.Appended.CallsSkipped;
        }

        if (receiptsFile is not null)
        {
            File(receiptsFile).Stored += result.Appended.ReceiptsAdded + result.Appended.ReceiptsSkipped;
        }

        CallsAdded += result.Appended.CallsAdded;
        CallsSkipped += result.Appended.CallsSkipped;
        ReceiptsAdded += result.Appended.ReceiptsAdded;
        ReceiptsSkipped += result.Appended.ReceiptsSkipped;
        LinesRead += result.LinesRead;
        Renamed.AddRange(result.Renamed);
        foreach (var error in result.Errors)
        {
            Reject(new ImportProblem(error.File, error.Line, error.Field, error.Message));
        }
    }

    public void Reject(ImportProblem problem)
    {
        Problems.Add(problem);
        LinesRejected++;
        if (_files.TryGetValue(problem.File, out var counts))
        {
            counts.Rejected++;
        }
    }

    private FileCounts File(string file)
    {
        if (!_files.TryGetValue(file, out var counts))
        {
            counts = new FileCounts();
            _files.Add(file, counts);
        }

        return counts;
    }

    private sealed class FileCounts
    {
        public int Stored;
        public int Rejected;
    }
}

/// <summary>
/// A ledger in a fresh temporary folder, deleted on dispose: <c>cage import --dry-run</c> imports into it, so a dry run
/// checks everything the real import checks (the ledger's own rules included) and writes nothing where the real one would.
/// </summary>
internal sealed class ScratchLedger : IAsyncDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("cage-dry-run-");

    public ScratchLedger()
    {
        Ledger = SqliteLedger.Open(Path.Combine(_folder.FullName, "ledger.db"));
    }

    public SqliteLedger Ledger { get; }

    public async ValueTask DisposeAsync()
    {
        await Ledger.DisposeAsync().ConfigureAwait(false);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still held on some platforms: the system's temp cleanup removes it.
        }
    }
}
