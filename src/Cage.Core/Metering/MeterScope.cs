namespace CageNet;

/// <summary>
/// An ambient metering scope opened by <see cref="Cage.Meter"/> or <see cref="ICageMeter.Meter"/>. Report what
/// the provider billed with <see cref="Usage(string, string, in TokenUsage, decimal?, string?, bool, UsageStatus, string?)"/>;
/// every call of <c>Usage</c> is one attempt (a retry or a fallback), credited to the model that served it.
/// <see cref="Dispose"/> hands the attempts to the ledger without blocking and restores the enclosing scope.
/// </summary>
/// <remarks>
/// The last attempt carries <see cref="CallId"/> (receipts link to it) with <c>attempt = n</c> and
/// <c>retries = n − 1</c>; earlier attempts get their own ids. Latency is measured with the meter's
/// <see cref="TimeProvider"/> from the scope's start (or the previous attempt) to the <c>Usage</c> call.
/// A scope in which <c>Usage</c> was never called records nothing. Not thread-safe: one scope per logical call.
/// </remarks>
public sealed class MeterScope : IDisposable
{
    private static readonly AsyncLocal<MeterScope?> Ambient = new();

    private readonly Metering.CageMeter _meter;
    private readonly long _startTimestamp;
    private readonly DateTimeOffset _startedAt;
    private long _markTimestamp;
    private string? _callId;
    private CallRecord? _pending; // the latest attempt, emitted at Dispose (it carries CallId)
    private int _attempts;
    private Dictionary<string, string>? _tags;
    private bool _disposed;

    /// <summary>A budget reservation bound to this scope: the next metered attempt settles it.</summary>
    internal Budgets.BudgetReservation? BudgetReservation { get; set; }

    /// <summary>The bound reservation was completed explicitly: the next metered attempt is that same call, already accounted.</summary>
    internal bool BudgetSkipNext { get; set; }

    /// <summary>
    /// What that explicit completion charged, to record as spend without a ledger call if the scope ends before the
    /// metered attempt that would carry it (cleared when it arrives).
    /// </summary>
    internal (Budgets.BudgetGuard Guard, List<Budgets.BudgetCharge> Rows)? BudgetDeferred { get; set; }

    /// <summary>
    /// Set by an integration that meters a whole model round-trip in this scope (the Microsoft.Extensions.AI chat
    /// client), so a lower layer on the same call (the HttpClient meter) does not record it a second time.
    /// </summary>
    internal bool MetersRoundTrip { get; set; }

    /// <summary>Whether the innermost open scope on this async flow is a round-trip an integration already meters.</summary>
    internal static bool InMeteredRoundTrip => Current is { MetersRoundTrip: true };

    internal MeterScope(Metering.CageMeter meter, string route, string? task, string? session, string? agent, string? user, string? category)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(route);
        _meter = meter;
        Parent = Current;
        Route = route;
        Task = task ?? Parent?.Task;
        Session = session ?? Parent?.Session;
        Agent = agent ?? Parent?.Agent;
        User = user ?? Parent?.User;
        Category = category ?? Parent?.Category;
        if (Parent?._tags is { Count: > 0 } inherited)
        {
            _tags = new Dictionary<string, string>(inherited, StringComparer.Ordinal); // labels are inherited like the user and agent
        }

        if (meter.UsesSystemClock)
        {
            // One clock read: the system clock's UTC instant is derived from the timestamp (see SystemUtcClock).
            _startTimestamp = _markTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            _startedAt = Metering.SystemUtcClock.UtcAt(_startTimestamp);
        }
        else
        {
            var time = meter.TimeProvider;
            _startTimestamp = _markTimestamp = time.GetTimestamp();
            _startedAt = time.GetUtcNow();
        }
        Ambient.Value = this;
    }

    /// <summary>The innermost open scope on this async flow, or <see langword="null"/>.</summary>
    public static MeterScope? Current
    {
        get
        {
            var scope = Ambient.Value;
            while (scope is { _disposed: true })
            {
                scope = scope.Parent; // scopes disposed out of order are skipped, never resurrected
            }

            return scope;
        }
    }

    /// <summary>The enclosing scope, or <see langword="null"/>.</summary>
    public MeterScope? Parent { get; }

    /// <summary>The id the scope's (last) call is recorded under; pass it to receipts.</summary>
    public string CallId => _callId ??= _pending?.Id ?? CageIds.New('c', _startedAt);

    /// <summary>The route.</summary>
    public string Route { get; }

    /// <summary>The task (inherited from the enclosing scope when not given).</summary>
    public string? Task { get; }

    /// <summary>The session (inherited when not given).</summary>
    public string? Session { get; }

    /// <summary>The agent (inherited when not given).</summary>
    public string? Agent { get; }

    /// <summary>The user or tenant (inherited when not given).</summary>
    public string? User { get; }

    /// <summary>The call-site category (inherited when not given).</summary>
    public string? Category { get; }

    /// <summary>How many attempts were reported so far.</summary>
    public int Attempts => _attempts;

    /// <summary>When the scope was opened.</summary>
    public DateTimeOffset StartedAt => _startedAt;

    /// <summary>Reports one attempt's usage from normalized token buckets.</summary>
    /// <param name="provider">The provider that served the attempt.</param>
    /// <param name="model">The model that actually served it (a fallback's model, not the requested one).</param>
    /// <param name="input">Uncached input tokens.</param>
    /// <param name="output">Output tokens, reasoning included.</param>
    /// <param name="cacheRead">Input tokens read from a prompt cache.</param>
    /// <param name="cacheWrite5m">Input tokens written to a 5-minute cache.</param>
    /// <param name="cacheWrite1h">Input tokens written to a 1-hour cache.</param>
    /// <param name="reasoning">The reasoning part of <paramref name="output"/>.</param>
    /// <param name="providerCost">A cost the provider reported (wins over the catalog).</param>
    /// <param name="requestId">The provider's response/request id (idempotency key).</param>
    /// <param name="ok">Whether the attempt succeeded; failed attempts that were billed keep their tokens and cost.</param>
    /// <exception cref="ArgumentOutOfRangeException">A bucket is negative, or reasoning exceeds output.</exception>
    /// <exception cref="ObjectDisposedException">The scope was disposed.</exception>
    public void Usage(string provider, string model, long input = 0, long output = 0, long cacheRead = 0, long cacheWrite5m = 0, long cacheWrite1h = 0, long? reasoning = null, decimal? providerCost = null, string? requestId = null, bool ok = true) =>
        Usage(provider, model, new TokenUsage(input, cacheRead, cacheWrite5m, cacheWrite1h, output, reasoning), providerCost, requestId, ok);

    /// <summary>Reports one attempt's usage.</summary>
    /// <param name="provider">The provider that served the attempt.</param>
    /// <param name="model">The model that actually served it.</param>
    /// <param name="usage">The exclusive token buckets.</param>
    /// <param name="providerCost">A cost the provider reported (wins over the catalog).</param>
    /// <param name="requestId">The provider's response/request id.</param>
    /// <param name="ok">Whether the attempt succeeded.</param>
    /// <param name="status">How the usage is known; <see cref="UsageStatus.Missing"/> when a stream ended without usage.</param>
    /// <param name="error">A short error description for a failed attempt (scrubbed and truncated; never put bodies here).</param>
    /// <exception cref="ArgumentOutOfRangeException">A bucket is negative, or reasoning exceeds output.</exception>
    /// <exception cref="ObjectDisposedException">The scope was disposed.</exception>
    public void Usage(string provider, string model, in TokenUsage usage, decimal? providerCost = null, string? requestId = null, bool ok = true, UsageStatus status = UsageStatus.Reported, string? error = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        usage.Validate();
        var time = _meter.TimeProvider;
        var now = _meter.UsesSystemClock ? System.Diagnostics.Stopwatch.GetTimestamp() : time.GetTimestamp();
        provider ??= "";
        model ??= "";
        var quote = _meter.Prices.Price(provider, model, usage, providerCost);
        if (status == UsageStatus.Missing && providerCost is null && usage.TotalTokens == 0)
        {
            // Nothing is known about what the attempt consumed: its cost is unknown, never a free $0 (reports count it
            // as missing usage). With a partial count (a stream cut after some usage arrived) the cost is a lower bound.
            quote = quote with { CostUsd = null };
        }

        if (_pending is { } superseded)
        {
            // A retry or fallback: the earlier attempt gets its own id; the newest one carries CallId.
            _meter.Emit(superseded.WithIdentity(CageIds.New('c', superseded.Timestamp), superseded.Attempt, superseded.Retries, _tags is null ? null : new Dictionary<string, string>(_tags, StringComparer.Ordinal)));
        }

        _attempts++;
        var markAt = _markTimestamp == _startTimestamp ? _startedAt : _startedAt + time.GetElapsedTime(_startTimestamp, _markTimestamp);
        _pending = new CallRecord(_startedAt.ToUnixTimeMilliseconds(), _callId, CageIds.TruncateToMilliseconds(markAt))
        {
            Session = Session,
            Task = Task,
            Agent = Agent,
            Route = Route,
            Category = Category,
            User = User,
            Provider = provider,
            Model = model,
            Usage = usage,
            CostUsd = quote.CostUsd,
            CostSource = quote.Source,
            PriceKey = quote.PriceKey,
            UsageStatus = status,
            LatencyMs = (long)time.GetElapsedTime(_markTimestamp, now).TotalMilliseconds,
            Ok = ok,
            Attempt = _attempts,
            Retries = _attempts - 1,
            RequestId = requestId,
            Error = ErrorText.Scrub(error),
            Tags = _tags,
        };
        _markTimestamp = now;
        _meter.Budget?.OnMetered(this, _pending);
    }

    /// <summary>
    /// Reports an attempt whose usage never arrived (a stream cut before the usage chunk): recorded with
    /// <c>usage_status=missing</c> and an unknown (<see langword="null"/>) cost, never as a free call.
    /// </summary>
    /// <param name="provider">The provider.</param>
    /// <param name="model">The model.</param>
    /// <param name="requestId">The provider's response id, when known.</param>
    /// <param name="error">A short description of why.</param>
    public void UsageMissing(string provider, string model, string? requestId = null, string? error = null) =>
        Usage(provider, model, default(TokenUsage), null, requestId, ok: false, UsageStatus.Missing, error);

    /// <summary>Adds a small label to the scope's calls (no bodies). The value is stored scrubbed like error text:
    /// quoted spans, keys, tokens and e-mail addresses are removed, and it is cut to 200 characters. Scopes opened
    /// inside this one inherit the labels it has then. A label binds the budget template segment of the same name
    /// (<c>Tag("team", "team-a")</c> charges <c>org/team-a</c> or <c>org/{team}</c>); tag before reserving.</summary>
    /// <param name="key">The label name.</param>
    /// <param name="value">The label value.</param>
    /// <returns>This scope, for <c>using var m = Cage.Meter("chat").Tag("team", "team-a");</c>.</returns>
    public MeterScope Tag(string key, string value)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(value);
        (_tags ??= new Dictionary<string, string>(StringComparer.Ordinal))[key] = ErrorText.ScrubLabel(value);
        return this;
    }

    /// <summary>The scope's labels (its tags, inherited ones included), or <see langword="null"/>.</summary>
    internal IReadOnlyDictionary<string, string>? Labels => _tags;

    /// <summary>Records a tool's saving against this scope's call and task (see <see cref="ICageMeter.RecordReceipt"/>).</summary>
    /// <param name="tool">The tool name.</param>
    /// <param name="rawAlternative">What it would have been without the tool.</param>
    /// <param name="actual">What it was with the tool.</param>
    /// <param name="unit">The unit; default tokens.</param>
    /// <param name="method">How it is known; default modeled.</param>
    /// <param name="confidence">0..1; default 1.</param>
    /// <param name="meta">Small metadata.</param>
    /// <returns>The recorded receipt.</returns>
    /// <exception cref="CageValidationException">A field is invalid.</exception>
    public SavingsReceipt RecordReceipt(string tool, decimal rawAlternative, decimal actual, SavingsUnit unit = SavingsUnit.Tokens, SavingsMethod method = SavingsMethod.Modeled, double confidence = 1.0, IReadOnlyDictionary<string, string>? meta = null) =>
        _meter.RecordReceipt(tool, rawAlternative, actual, CallId, Task, unit, method, confidence, meta);

    /// <summary>Hands the scope's attempts to the ledger (without blocking) and restores the enclosing scope.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        BudgetReservation?.Dispose(); // reserved but never used: give the hold back
        if (BudgetSkipNext && BudgetDeferred is { } deferred)
        {
            BudgetDeferred = null;
            deferred.Guard.Persist(deferred.Rows); // settled explicitly, never metered: no ledger call will carry it
        }
        if (Ambient.Value == this)
        {
            var open = Parent;
            while (open is { _disposed: true })
            {
                open = open.Parent; // the nearest enclosing scope that is still open (what Current now returns)
            }

            Ambient.Value = open;
        }

        if (_pending is { } last)
        {
            _meter.Emit(last.Tags is null && _tags is not null ? last.WithIdentity(last.Id, last.Attempt, last.Retries, _tags) : last);
        }
    }
}
