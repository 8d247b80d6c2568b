using CageNet.Budgets;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Metering;
using CageNet.Pricing;
using Microsoft.Extensions.Time.Testing;

namespace CageNet.Testing;

/// <summary>
/// One test's own meter: an in-memory ledger, a fake clock, fixed or given prices, optional budgets, and the static
/// <see cref="Cage"/> facade bound to this test's async flow only, so parallel tests never see each other's calls.
/// Create it at the start of a test (<c>using var cage = new CageTestContext();</c>) or in a synchronous
/// <c>[SetUp]</c>, exercise the code, then assert on <see cref="Spent"/>, <see cref="Calls"/>, <see cref="Snapshot"/>…
/// Dispose it to drain the meter and unbind the facade.
/// </summary>
/// <remarks>
/// The static facade binding follows the async flow the context was created on (an <see cref="AsyncLocal{T}"/>): code
/// called from the test, tasks it starts and awaits all see it; other tests, and threads started without the flow's
/// execution context, do not. An <c>async</c> <c>[SetUp]</c> cannot bind it for the test (its flow ends when it returns):
/// create the context in a synchronous <c>[SetUp]</c> or in the test. Queries flush the meter first, so they see
/// every scope disposed before them; the flush waits on Cage's own writer thread, never on a captured context. In
/// async code prefer <c>await using</c> (<see cref="DisposeAsync"/>): <see cref="Dispose"/> blocks its thread while the
/// meter drains, which is harmless at NUnit's parallelism but starves the thread pool when hundreds of flows do it at once.
/// </remarks>
public sealed class CageTestContext : IDisposable, IAsyncDisposable
{
    private readonly CageMeter _meter;
    private readonly BudgetEventLog _events;
    private readonly Cage.FlowBinding? _binding;
    private int _disposed;

    /// <summary>Creates a context with the default options: built-in prices, a clock at <see cref="CageTestOptions.DefaultStart"/>, no budgets.</summary>
    public CageTestContext()
        : this(null)
    {
    }

    /// <summary>Creates a context.</summary>
    /// <param name="configure">Sets the clock's start, fixed prices and budgets (<c>o =&gt; o.Price("gpt-4o", 2.5m, 10m)</c>).</param>
    /// <exception cref="ArgumentException">A fixed price is invalid.</exception>
    /// <exception cref="BudgetConfigurationException">The budget tree is invalid.</exception>
    public CageTestContext(Action<CageTestOptions>? configure)
    {
        var options = new CageTestOptions();
        configure?.Invoke(options);
        Clock = new FakeTimeProvider(options.Start);
        Ledger = new InMemoryLedger();
        Prices = options.BuildPrices();
        _events = new BudgetEventLog(Clock);
        _meter = new CageMeter(Ledger, Prices, Clock, new MeteringOptions());
        if (options.ConfigureBudgets is { } budgets)
        {
            var tree = new BudgetOptions();
            budgets(tree);
            var guard = new BudgetGuard(tree, Clock, logger: _events.CreateLogger("Cage.Budgets"));
            // An in-memory store and no ledger to replay: this completes synchronously.
            guard.InitializeAsync(null).AsTask().GetAwaiter().GetResult();
            guard.Warning += _events.OnWarning;
            _meter.Budget = guard;
            Budget = guard;
        }

        if (options.BindStaticFacade)
        {
            _binding = Cage.BindToFlow(_meter);
        }
    }

    /// <summary>The test's meter (also <see cref="Cage.Instance"/> on the test's flow, unless binding was turned off).</summary>
    public ICageMeter Meter => _meter;

    /// <summary>The test's ledger; every metered call and receipt ends up here.</summary>
    public InMemoryLedger Ledger { get; }

    /// <summary>The test's clock: timestamps and latencies come from it; advance it to move time (budget periods reset).</summary>
    public FakeTimeProvider Clock { get; }

    /// <summary>The prices calls are priced with.</summary>
    public PriceCatalog Prices { get; }

    /// <summary>The budget guard, when <see cref="CageTestOptions.Budgets"/> configured one; else <see langword="null"/>.</summary>
    public BudgetGuard? Budget { get; }

    /// <summary>Σ cost of the priced calls so far, in US dollars (flushes first; see <see cref="CageTestSnapshot.IsLowerBound"/>).</summary>
    public decimal Spent => Snapshot().Spent;

    /// <summary>The calls recorded so far (flushes first).</summary>
    public IReadOnlyList<CallRecord> Calls => Snapshot().Calls;

    /// <summary>The receipts recorded so far (flushes first).</summary>
    public IReadOnlyList<SavingsReceipt> Receipts => Snapshot().Receipts;

    /// <summary>The budget warnings and refusals so far, in order.</summary>
    public IReadOnlyList<BudgetEvent> BudgetEvents => _events.Events;

    /// <summary>The totals so far: calls, tokens per bucket, cost, unpriced count (flushes first).</summary>
    public SpendTotals Totals => Snapshot().Totals;

    /// <summary>Calls per served model so far (flushes first).</summary>
    public IReadOnlyDictionary<string, int> CallsByModel => Snapshot().CallsByModel;

    /// <summary>Calls per route so far (flushes first).</summary>
    public IReadOnlyDictionary<string, int> CallsByRoute => Snapshot().CallsByRoute;

    /// <summary>The tokens of one bucket so far (flushes first).</summary>
    /// <param name="bucket">The bucket; default every billed token.</param>
    /// <returns>The sum.</returns>
    public long Tokens(TokenBucket bucket = TokenBucket.Total) => Snapshot().Tokens(bucket);

    /// <summary>
    /// Flushes the meter and returns what it has recorded: the view every assertion reads. Blocks until the writer has
    /// committed everything metered before the call (an in-memory write: microseconds).
    /// </summary>
    /// <returns>The snapshot.</returns>
    public CageTestSnapshot Snapshot()
    {
        Flush();
        return Capture();
    }

    /// <summary>Flushes the meter and returns what it has recorded (see <see cref="Snapshot"/>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The snapshot.</returns>
    public async ValueTask<CageTestSnapshot> SnapshotAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return Capture();
    }

    /// <summary>Waits until everything metered so far is in <see cref="Ledger"/>.</summary>
    /// <returns>What was written (and dropped: never, for an in-memory ledger) since the previous flush.</returns>
    public FlushResult Flush()
    {
        var flush = _meter.FlushAsync();
        return flush.IsCompletedSuccessfully ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Waits until everything metered so far is in <see cref="Ledger"/>.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>What was written since the previous flush.</returns>
    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _meter.FlushAsync(cancellationToken);

    /// <summary>A scripted chat client whose turns advance this test's clock by their latency.</summary>
    /// <param name="turns">The model round-trips it plays back, in order.</param>
    /// <returns>The client.</returns>
    public ScriptedChatClient ChatClient(params IEnumerable<ScriptedTurn> turns) => new(turns) { Clock = Clock };

    /// <summary>A scripted provider endpoint whose turns advance this test's clock by their latency.</summary>
    /// <param name="turns">The responses it plays back, in order.</param>
    /// <returns>The handler.</returns>
    public ScriptedHttpHandler HttpHandler(params IEnumerable<ScriptedTurn> turns) => new(turns) { Clock = Clock };

    private CageTestSnapshot Capture() => new(Ledger.Calls, Ledger.Receipts, _events.Events);

    /// <summary>Unbinds the static facade, drains the meter into the ledger and stops it. The ledger stays readable.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _binding?.Dispose();
        _meter.Dispose();
        Budget?.Dispose();
    }

    /// <summary>Unbinds the static facade, drains the meter into the ledger and stops it. The ledger stays readable.</summary>
    /// <returns>The drain.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        // Not an async method: the facade is unbound on the caller's own flow (an async method's changes to an
        // AsyncLocal never reach its caller).
        _binding?.Dispose();
        return DrainAsync();
    }

    private async ValueTask DrainAsync()
    {
        await _meter.DisposeAsync().ConfigureAwait(false);
        Budget?.Dispose();
    }
}
