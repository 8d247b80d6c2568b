using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Pricing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Metering;

/// <summary>The <see cref="ICageMeter"/> implementation: prices on the caller's thread, hands records to the pipeline.</summary>
internal sealed class CageMeter : ICageMeter, IAsyncDisposable, IDisposable
{
    private readonly LedgerPipeline _pipeline;
    private readonly CageInstruments _instruments;
    private readonly ILogger _logger;
    private readonly bool _ownsInstruments;
    private int _disposed;

    public CageMeter(ILedgerSink sink, PriceCatalog prices, TimeProvider time, MeteringOptions? options = null, ILogger? logger = null, CageInstruments? instruments = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(time);
        Prices = prices;
        TimeProvider = time;
        UsesSystemClock = ReferenceEquals(time, TimeProvider.System);
        _logger = logger ?? NullLogger.Instance;
        _ownsInstruments = instruments is null;
        _instruments = instruments ?? new CageInstruments();
        _pipeline = new LedgerPipeline(sink, options ?? new MeteringOptions(), time, _logger, _instruments);
        Sessions = new Budgets.SessionCostTracker(options?.SessionWarnAtUsd, options?.SessionWarnAtTokens);
        Sessions.Warned += (_, warning) => Log.SessionCostWarning(_logger, warning.Session, warning.Message);
    }

    /// <summary>Every session's running cost, fed by every call this meter records.</summary>
    internal Budgets.SessionCostTracker Sessions { get; }

    public PriceCatalog Prices { get; }

    /// <summary>The budget guard metered calls are charged to, when budgets are registered.</summary>
    internal Budgets.BudgetGuard? Budget { get; set; }

    /// <summary>A sink the meter disposes after draining (the embedded default's SQLite ledger).</summary>
    internal IAsyncDisposable? OwnedSink { get; init; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Whether <see cref="TimeProvider"/> is the system clock (scopes then derive UTC from the timestamp).</summary>
    internal bool UsesSystemClock { get; }

    public MeteringStatistics Statistics => _pipeline.Statistics;

    public MeterScope Meter(string route, string? task = null, string? session = null, string? agent = null, string? user = null, string? category = null) =>
        new(this, route, task, session, agent, user, category);

    public void Record(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        Emit(call);
    }

    public void Record(SavingsReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        Enqueue(receipt);
    }

    public SavingsReceipt RecordReceipt(string tool, decimal rawAlternative, decimal actual, string? call = null, string? task = null, SavingsUnit unit = SavingsUnit.Tokens, SavingsMethod method = SavingsMethod.Modeled, double confidence = 1.0, IReadOnlyDictionary<string, string>? meta = null)
    {
        var scope = MeterScope.Current;
        var receipt = SavingsReceipt.Create(
            CageIds.NewReceiptId(TimeProvider),
            TimeProvider.GetUtcNow(),
            tool,
            rawAlternative,
            actual,
            call ?? scope?.CallId,
            task ?? scope?.Task,
            unit,
            method,
            confidence,
            meta);
        Enqueue(receipt);
        return receipt;
    }

    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _pipeline.FlushAsync(cancellationToken);

    internal void Emit(CallRecord call)
    {
        try
        {
            _instruments.RecordCall(call);
            Sessions.Add(call);
            if (call.CostSource == CostSource.Unpriced && _logger.IsEnabled(LogLevel.Warning))
            {
                Log.UnpricedModel(_logger, call.Provider, call.Model);
            }
        }
#pragma warning disable CA1031 // Fail-open: telemetry or logging faults never reach the caller.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Telemetry or a logger threw: metering goes on, and logging about it could throw again.
        }

        Enqueue(call);
    }

    private void Enqueue(object record)
    {
        try
        {
            _pipeline.TryEnqueue(record);
        }
#pragma warning disable CA1031 // Fail-open: a pipeline fault never reaches the caller.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            try
            {
                Log.EnqueueFailed(_logger, ex);
            }
#pragma warning disable CA1031 // ...and a throwing logger must not reach the caller either.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>Drains the queue (at most <paramref name="timeout"/>), stops the pipeline and disposes an owned sink.</summary>
    public async ValueTask DrainAsync(TimeSpan timeout)
    {
        await _pipeline.DrainAsync(timeout).ConfigureAwait(false);
        if (OwnedSink is { } owned)
        {
            await owned.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Cage.Forget(this);
        await _pipeline.DisposeAsync().ConfigureAwait(false);
        if (OwnedSink is { } owned)
        {
            await owned.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsInstruments)
        {
            _instruments.Dispose();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
