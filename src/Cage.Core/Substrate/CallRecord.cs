namespace CageNet;

/// <summary>
/// One real provider round-trip (SPEC 2.1): who asked, which model actually served it, the exclusive
/// token buckets, the exact cost and how each number is known. Never holds prompt or completion text.
/// </summary>
public sealed class CallRecord
{
    private string? _id;
    private readonly long _idMilliseconds; // a metering scope's record: the id's time; its random bits are drawn on first read

    /// <summary>Creates a record; set at least <see cref="Id"/> and <see cref="Timestamp"/>.</summary>
    public CallRecord()
    {
    }

    // The metering scope's records carry only the id's time: the random bits are drawn and the string formatted on
    // first read (normally on the writer's thread), so the caller's thread neither draws, formats nor allocates it.
#pragma warning disable CS8618 // Id is produced from _idMilliseconds on first read.
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    internal CallRecord(long idMilliseconds, string? formatted, DateTimeOffset timestamp)
    {
        _idMilliseconds = idMilliseconds;
        _id = formatted;
        Timestamp = timestamp;
    }
#pragma warning restore CS8618

    /// <summary>Time-sortable, collision-free id (see <see cref="CageIds"/>); callers may supply their own.</summary>
    public required string Id
    {
        get => _id ?? CreateId();
        init => _id = value;
    }

    // The caller (CallId, after Dispose) and the writer may both read a fresh id: the first one drawn wins for both.
    private string CreateId()
    {
        var id = CageIds.New('c', _idMilliseconds);
        return Interlocked.CompareExchange(ref _id, id, null) ?? id;
    }

    /// <summary>When the call happened, in UTC; stored with millisecond precision.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The conversation, agent run or job the call belongs to.</summary>
    public string? Session { get; init; }

    /// <summary>The unit of work (a ticket, a bug fix) the call served.</summary>
    public string? Task { get; init; }

    /// <summary>The agent or application that made the call.</summary>
    public string? Agent { get; init; }

    /// <summary>The feature or intent (for example <c>code-edit</c>).</summary>
    public string? Route { get; init; }

    /// <summary>The kind of call site (main, delegate, summarize, probe…; free-form).</summary>
    public string? Category { get; init; }

    /// <summary>An optional end-user or tenant key, for budgets and reports.</summary>
    public string? User { get; init; }

    /// <summary>The provider that served the call (for example <c>anthropic</c>).</summary>
    public string Provider { get; init; } = "";

    /// <summary>The model that actually served the call; a fallback credits the fallback's model.</summary>
    public string Model { get; init; } = "";

    /// <summary>The exclusive token buckets.</summary>
    public TokenUsage Usage { get; init; }

    /// <summary>The cost in US dollars; <see langword="null"/> when the model is unpriced.</summary>
    public decimal? CostUsd { get; init; }

    /// <summary>How <see cref="CostUsd"/> is known.</summary>
    public CostSource CostSource { get; init; } = CostSource.Unpriced;

    /// <summary>The price-catalog entry the cost came from (the match used), when priced from the catalog.</summary>
    public string? PriceKey { get; init; }

    /// <summary>How <see cref="Usage"/> is known.</summary>
    public UsageStatus UsageStatus { get; init; } = UsageStatus.Reported;

    /// <summary>Wall-clock latency of the round-trip in milliseconds, measured with the injected <see cref="TimeProvider"/>.</summary>
    public long LatencyMs { get; init; }

    /// <summary>Whether the call succeeded. Failed calls that were billed still carry their tokens and cost.</summary>
    public bool Ok { get; init; } = true;

    /// <summary>How many attempts preceded this one in the same metering scope.</summary>
    public int Retries { get; init; }

    /// <summary>The 1-based attempt number within the metering scope.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>The provider's response or request id: the idempotency key for imports and retries.</summary>
    public string? RequestId { get; init; }

    /// <summary>A short, scrubbed error description for failed calls (never a body, key or header).</summary>
    public string? Error { get; init; }

    /// <summary>Small free-form labels (no bodies).</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>A copy with another id, attempt numbering and tags (the metering scope renumbers superseded attempts).</summary>
    internal CallRecord WithIdentity(string id, int attempt, int retries, IReadOnlyDictionary<string, string>? tags) => new()
    {
        Id = id, Timestamp = Timestamp, Session = Session, Task = Task, Agent = Agent, Route = Route, Category = Category, User = User,
        Provider = Provider, Model = Model, Usage = Usage, CostUsd = CostUsd, CostSource = CostSource, PriceKey = PriceKey,
        UsageStatus = UsageStatus, LatencyMs = LatencyMs, Ok = Ok, Retries = retries, Attempt = attempt, RequestId = RequestId,
        Error = Error, Tags = tags,
    };

    /// <summary>Compatibility view: <c>tokens_in</c> = input + cache reads + cache writes.</summary>
    public long TokensIn => Usage.PromptTokens;

    /// <summary>Compatibility view: <c>cached_in</c> = cache reads.</summary>
    public long CachedIn => Usage.CacheRead;

    /// <summary>Compatibility view: <c>tokens_out</c> = output.</summary>
    public long TokensOut => Usage.Output;
}
