using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Budgets.Subscription;

/// <summary>
/// Converts tokens to percent of a subscription window per window (<c>5h</c>, <c>7d</c>) and model class (SPEC 7.6).
/// Each window × class keeps an EMA of <c>tokens_per_pct</c> from snapshots <c>(tokens_delta_for_class, util_delta, class)</c>;
/// until a class has two snapshots in a window it uses the bootstrap relative costs (haiku=1, sonnet=5, opus=25) scaled
/// from a calibrated class of that window, or from <see cref="SubscriptionOptions.BootstrapTokensPerPct"/> (<c>5h</c>) /
/// <see cref="SubscriptionOptions.WeeklyBootstrapTokensPerPct"/> (<c>7d</c>) when none is calibrated. Methods without a
/// window use <see cref="SubscriptionOptions.Window"/>. After each orchestration,
/// <see cref="Reconcile(double, IEnumerable{SubscriptionTurn})"/> compares the measured utilization delta with the
/// estimate, logs the difference, trusts a small one and recalibrates after
/// <see cref="SubscriptionOptions.RecalibrateAfter"/> consecutive big ones. Thread-safe.
/// </summary>
public sealed class SubscriptionEstimator
{
    /// <summary>The five-hour window: <c>5h</c>.</summary>
    public const string FiveHourWindow = "5h";

    /// <summary>The seven-day window: <c>7d</c>.</summary>
    public const string WeeklyWindow = "7d";

    private readonly SubscriptionOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly string _defaultWindow;
    private readonly Dictionary<string, WindowState> _windows = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _classOfModel = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SubscriptionSample> _latest = new(StringComparer.Ordinal);
    private int _version;
    private SubscriptionReconciliation? _lastReconciliation;

    // The latest ledger timestamp (Unix ms) of the metered calls counted, and the ids of those counted at exactly that
    // millisecond: after a restart the guard counts again only the ledger's calls past this mark.
    // Live calls are kept by reference so their ids are formatted only when the state is saved.
    private long _throughMs = long.MinValue;
    private readonly List<CallRecord> _throughCalls = [];
    private readonly List<string> _throughIds = [];

    /// <summary>Creates an estimator.</summary>
    /// <param name="options">The settings; defaults when <see langword="null"/>.</param>
    /// <param name="logger">Receives reconciliation diffs and recalibrations.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (the message names it).</exception>
    public SubscriptionEstimator(SubscriptionOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new SubscriptionOptions();
        _logger = logger ?? NullLogger.Instance;
        if (!(_options.Alpha > 0 && _options.Alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(options), _options.Alpha, "Cage:Budgets:Subscription:Alpha must be in (0, 1]");
        if (!(_options.BootstrapTokensPerPct > 0 && double.IsFinite(_options.BootstrapTokensPerPct))) throw new ArgumentOutOfRangeException(nameof(options), _options.BootstrapTokensPerPct, "Cage:Budgets:Subscription:BootstrapTokensPerPct must be a finite number > 0");
        if (!(_options.WeeklyBootstrapTokensPerPct > 0 && double.IsFinite(_options.WeeklyBootstrapTokensPerPct))) throw new ArgumentOutOfRangeException(nameof(options), _options.WeeklyBootstrapTokensPerPct, "Cage:Budgets:Subscription:WeeklyBootstrapTokensPerPct must be a finite number > 0");
        if (_options.RecalibrateAfter < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.RecalibrateAfter, "Cage:Budgets:Subscription:RecalibrateAfter must be ≥ 1");
        if (!(_options.MismatchTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(options), _options.MismatchTolerance, "Cage:Budgets:Subscription:MismatchTolerance must be ≥ 0");
        _defaultWindow = KnownWindow(_options.Window)
            ?? throw new ArgumentOutOfRangeException(nameof(options), _options.Window, $"Cage:Budgets:Subscription:Window '{_options.Window}' is not a subscription window ({FiveHourWindow} or {WeeklyWindow})");
        _windows[FiveHourWindow] = new WindowState(_options.BootstrapTokensPerPct);
        _windows[WeeklyWindow] = new WindowState(_options.WeeklyBootstrapTokensPerPct);
    }

    /// <summary>The settings.</summary>
    public SubscriptionOptions Options => _options;

    /// <summary>Increments whenever a conversion changes (a snapshot, a recalibration); budget caps in subscription percent are recomputed when it moves.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>
    /// The last reconciliation: the one a reading ran by itself (<see cref="Observe"/>, when utilization rose over tokens
    /// metered since the previous reading) or an explicit <c>Reconcile</c>; <see langword="null"/> before any.
    /// </summary>
    public SubscriptionReconciliation? LastReconciliation
    {
        get
        {
            lock (_gate)
            {
                return _lastReconciliation;
            }
        }
    }

    /// <summary>Called (outside the lock) after the state that <see cref="ExportState"/> writes changed: the guard saves it to its store.</summary>
    internal Action? Changed { get; set; }

    /// <summary>Consecutive mismatched reconciliations so far, of the default window (<see cref="SubscriptionOptions.Window"/>).</summary>
    public int ConsecutiveMismatches
    {
        get
        {
            lock (_gate)
            {
                return _windows[_defaultWindow].ConsecutiveMismatches;
            }
        }
    }

    /// <summary>The class of a model by the configured patterns; <see cref="SubscriptionOptions.DefaultClass"/> when none matches.</summary>
    /// <param name="model">The model name.</param>
    /// <returns>The class.</returns>
    public string ClassOf(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return _options.DefaultClass;
        }

        return _classOfModel.GetOrAdd(model, static (m, options) =>
        {
            foreach (var (name, patterns) in options.Classes.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                if (patterns.Any(p => Glob(p, m)))
                {
                    return name;
                }
            }

            return options.DefaultClass;
        }, _options);
    }

    /// <summary>Snapshots a class has had in the default window (it is calibrated from two).</summary>
    /// <param name="modelClass">The class.</param>
    /// <returns>The count.</returns>
    public int SnapshotCount(string modelClass) => SnapshotCount(modelClass, _defaultWindow);

    /// <summary>Snapshots a class has had in a window (it is calibrated from two).</summary>
    /// <param name="modelClass">The class.</param>
    /// <param name="window">The window: <c>5h</c> or <c>7d</c>.</param>
    /// <returns>The count.</returns>
    /// <exception cref="ArgumentException">The window is not <c>5h</c> or <c>7d</c>.</exception>
    public int SnapshotCount(string modelClass, string window)
    {
        ArgumentNullException.ThrowIfNull(modelClass);
        lock (_gate)
        {
            return Window(window).Classes.TryGetValue(modelClass, out var state) ? state.Snapshots : 0;
        }
    }

    /// <summary>Tokens of <paramref name="modelClass"/> per 1% of the default window: the class's EMA once it has two snapshots, else the bootstrap.</summary>
    /// <param name="modelClass">The class.</param>
    /// <returns>Tokens per percent, &gt; 0.</returns>
    public double TokensPerPercent(string modelClass) => TokensPerPercent(modelClass, _defaultWindow);

    /// <summary>Tokens of <paramref name="modelClass"/> per 1% of <paramref name="window"/>: the class's EMA in that window once it has two snapshots, else the window's bootstrap.</summary>
    /// <param name="modelClass">The class.</param>
    /// <param name="window">The window: <c>5h</c> or <c>7d</c>.</param>
    /// <returns>Tokens per percent, &gt; 0.</returns>
    /// <exception cref="ArgumentException">The window is not <c>5h</c> or <c>7d</c>.</exception>
    public double TokensPerPercent(string modelClass, string window)
    {
        ArgumentNullException.ThrowIfNull(modelClass);
        lock (_gate)
        {
            return TokensPerPercentLocked(Window(window), modelClass);
        }
    }

    /// <summary>The percent of the default window <paramref name="tokens"/> of <paramref name="model"/> are estimated to use.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokens">The tokens.</param>
    /// <returns>Percent of the window.</returns>
    public double EstimatePercent(string? model, long tokens) => tokens / TokensPerPercent(ClassOf(model));

    /// <summary>Adds a snapshot for a class in the default window: <paramref name="tokensDelta"/> tokens used <paramref name="utilizationDeltaPct"/> percent of it.</summary>
    /// <param name="modelClass">The class.</param>
    /// <param name="tokensDelta">Tokens of the class between two readings, &gt; 0.</param>
    /// <param name="utilizationDeltaPct">The utilization the readings moved, in percent, &gt; 0.</param>
    /// <returns>Whether it was used (non-positive deltas are ignored).</returns>
    public bool AddSnapshot(string modelClass, long tokensDelta, double utilizationDeltaPct) =>
        AddSnapshot(_defaultWindow, modelClass, tokensDelta, utilizationDeltaPct);

    /// <summary>Adds a snapshot for a class in a window: <paramref name="tokensDelta"/> tokens used <paramref name="utilizationDeltaPct"/> percent of it.</summary>
    /// <param name="window">The window: <c>5h</c> or <c>7d</c>.</param>
    /// <param name="modelClass">The class.</param>
    /// <param name="tokensDelta">Tokens of the class between two readings, &gt; 0.</param>
    /// <param name="utilizationDeltaPct">The utilization the readings moved, in percent, &gt; 0.</param>
    /// <returns>Whether it was used (non-positive deltas are ignored).</returns>
    /// <exception cref="ArgumentException">The window is not <c>5h</c> or <c>7d</c>.</exception>
    public bool AddSnapshot(string window, string modelClass, long tokensDelta, double utilizationDeltaPct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelClass);
        bool added;
        lock (_gate)
        {
            added = AddSnapshotLocked(Window(window), modelClass, tokensDelta, utilizationDeltaPct);
        }

        if (added) Changed?.Invoke();
        return added;
    }

    /// <summary>Counts tokens a model used since the last reading of each window (a metered call does this for you).</summary>
    /// <param name="model">The model that served the tokens.</param>
    /// <param name="tokens">The tokens.</param>
    public void RecordTokens(string? model, long tokens)
    {
        if (tokens <= 0)
        {
            return;
        }

        var modelClass = ClassOf(model);
        lock (_gate)
        {
            AddPendingLocked(modelClass, tokens);
        }
    }

    /// <summary>
    /// Counts the tokens of one metered call and moves the mark of what has been counted to its ledger timestamp, so a
    /// restart can count the ledger's calls past the mark (<see cref="CountedThrough"/>, <see cref="RecoverTokens"/>).
    /// </summary>
    internal void RecordTokens(CallRecord call, long tokens)
    {
        var modelClass = tokens > 0 ? ClassOf(call.Model) : null;
        var ms = call.Timestamp.ToUnixTimeMilliseconds();
        lock (_gate)
        {
            if (modelClass is not null) AddPendingLocked(modelClass, tokens);
            if (MarkLocked(ms) && _throughCalls.Count < MaxMarkedIds) _throughCalls.Add(call);
        }
    }

    /// <summary>The ledger timestamp of the latest metered call counted (saved with the state), or <see langword="null"/> when none was.</summary>
    internal DateTimeOffset? CountedThrough
    {
        get
        {
            lock (_gate)
            {
                return _throughMs == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(_throughMs);
            }
        }
    }

    /// <summary>
    /// Counts again a call the ledger holds that the saved state had not counted (the process stopped after metering it
    /// but before its next save): a call before the mark, or at it and already counted, is skipped.
    /// </summary>
    /// <returns>Whether it was counted.</returns>
    internal bool RecoverTokens(string? model, long tokens, DateTimeOffset timestamp, string callId)
    {
        var ms = timestamp.ToUnixTimeMilliseconds();
        var modelClass = tokens > 0 ? ClassOf(model) : null;
        lock (_gate)
        {
            if (ms < _throughMs || (ms == _throughMs && MarkedLocked(callId)))
            {
                return false;
            }

            if (modelClass is not null) AddPendingLocked(modelClass, tokens);
            if (MarkLocked(ms) && _throughIds.Count < MaxMarkedIds) _throughIds.Add(callId);
            return true;
        }
    }

    private void AddPendingLocked(string modelClass, long tokens)
    {
        foreach (var state in _windows.Values)
        {
            state.Pending[modelClass] = state.Pending.GetValueOrDefault(modelClass) + tokens;
        }
    }

    /// <summary>Moves the mark to <paramref name="ms"/> when later; whether a call at <paramref name="ms"/> is now at the mark.</summary>
    private bool MarkLocked(long ms)
    {
        if (ms > _throughMs)
        {
            _throughMs = ms;
            _throughIds.Clear();
            _throughCalls.Clear();
        }

        return ms == _throughMs;
    }

    private bool MarkedLocked(string callId)
    {
        if (_throughIds.Contains(callId, StringComparer.Ordinal)) return true;
        foreach (var call in _throughCalls)
        {
            if (string.Equals(call.Id, callId, StringComparison.Ordinal)) return true;
        }

        return false;
    }

    /// <summary>
    /// The saved mark: the latest call counted, or the latest reference reading when that is later (the pending tokens
    /// count only calls after it, so a restart need not look further back). <see langword="null"/> when neither exists.
    /// </summary>
    private MarkDto? MarkDtoLocked()
    {
        var reading = _windows.Values.Max(w => w.Reference is { } r ? r.ObservedAt.ToUnixTimeMilliseconds() : long.MinValue);
        return reading > _throughMs ? new MarkDto(reading, [])
            : _throughMs == long.MinValue ? null
            : new MarkDto(_throughMs, MarkedIdsLocked());
    }

    private string[] MarkedIdsLocked() => [.. _throughIds.Concat(_throughCalls.Select(c => c.Id)).Distinct(StringComparer.Ordinal).Take(MaxMarkedIds)];

    /// <summary>Calls counted within one millisecond that the mark remembers by id (more in that millisecond are rare; past it a restart may count one twice).</summary>
    private const int MaxMarkedIds = 64;

    /// <summary>The latest sample of a window, or <see langword="null"/>.</summary>
    /// <param name="window">The window (<c>5h</c>, <c>7d</c>, <c>7d_sonnet</c>…).</param>
    /// <returns>The sample.</returns>
    public SubscriptionSample? Latest(string window)
    {
        lock (_gate)
        {
            return _latest.TryGetValue(SubscriptionSample.NormalizeWindow(window), out var s) ? s : null;
        }
    }

    /// <summary>
    /// Takes a utilization reading. For the <c>5h</c> and <c>7d</c> windows, once utilization rises above the reference
    /// reading, the rise and the tokens recorded since that reference become snapshots of that window: split across
    /// classes in proportion to their current estimates (exact when one class was used). A reading whose utilization did
    /// not move keeps both the tokens and the reference (headers tick coarsely). A reading after a reset (a new reset
    /// time, or a lower utilization) discards the tokens and starts over from it. Other windows are only kept as the latest.
    /// </summary>
    /// <param name="sample">The reading.</param>
    /// <returns>The number of snapshots taken.</returns>
    public int Observe(SubscriptionSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var taken = ObserveCore(sample, out var changed, out var reconciled);
        if (reconciled is { } r) BudgetLog.Reconciled(_logger, r.MeasuredPct, r.EstimatedPct, r.DiffPct, r.Trusted, r.Recalibrated);
        if (changed) Changed?.Invoke();
        return taken;
    }

    private int ObserveCore(SubscriptionSample sample, out bool changed, out SubscriptionReconciliation? reconciled)
    {
        changed = false;
        reconciled = null;
        var name = SubscriptionSample.NormalizeWindow(sample.Window);
        lock (_gate)
        {
            if (_latest.TryGetValue(name, out var latest) && sample.ObservedAt < latest.ObservedAt)
            {
                return 0; // out of order: keep the newer reading
            }

            _latest[name] = sample;
            if (!_windows.TryGetValue(name, out var state))
            {
                return 0;
            }

            var reference = state.Reference;
            if (reference is null || sample.ResetsAt != reference.ResetsAt || sample.Percent < reference.Percent)
            {
                // The first reading, or the window reset: tokens before it cannot be matched to a rise.
                state.Pending.Clear();
                state.Reference = sample;
                changed = true;
                return 0;
            }

            var delta = sample.Percent - reference.Percent;
            if (delta <= 0)
            {
                return 0; // not moved yet: keep the tokens and the reference until it does
            }

            state.Reference = sample;
            changed = true;
            var pending = state.Pending.Where(p => p.Value > 0).Select(p => (Class: p.Key, Tokens: p.Value)).ToList();
            state.Pending.Clear();
            if (pending.Count == 0)
            {
                return 0; // someone else's use moved it
            }

            // The reading reconciles by itself: the rise against the estimate of the tokens metered since the reference.
            reconciled = ReconcileLocked(state, delta, pending);

            var estimated = pending.Sum(p => p.Tokens / TokensPerPercentLocked(state, p.Class));
            var shares = pending.Select(p => estimated > 0 ? p.Tokens / TokensPerPercentLocked(state, p.Class) / estimated : 1.0 / pending.Count).ToList();
            var taken = 0;
            for (var i = 0; i < pending.Count; i++)
            {
                if (AddSnapshotLocked(state, pending[i].Class, pending[i].Tokens, delta * shares[i]))
                {
                    taken++;
                }
            }

            return taken;
        }
    }

    /// <summary>
    /// Reconciles one orchestration against the default window: the measured utilization delta against the sum of the
    /// per-turn estimates. The diff is logged; within <see cref="SubscriptionOptions.MismatchTolerance"/> it is trusted
    /// (and the mismatch count resets); beyond it the mismatch count grows, and at
    /// <see cref="SubscriptionOptions.RecalibrateAfter"/> the classes of the turns are rescaled so the estimate matches
    /// the measurement.
    /// </summary>
    /// <param name="measuredDeltaPct">The measured utilization delta in percent (after − before).</param>
    /// <param name="turns">The orchestration's turns: model and tokens.</param>
    /// <returns>The outcome.</returns>
    public SubscriptionReconciliation Reconcile(double measuredDeltaPct, IEnumerable<SubscriptionTurn> turns) =>
        Reconcile(_defaultWindow, measuredDeltaPct, turns);

    /// <summary>Reconciles one orchestration from the readings before and after it (of the readings' window when it is <c>5h</c> or <c>7d</c>, else the default window).</summary>
    /// <param name="before">The reading before the orchestration.</param>
    /// <param name="after">The reading after it (same window).</param>
    /// <param name="turns">The orchestration's turns.</param>
    /// <returns>The outcome.</returns>
    public SubscriptionReconciliation Reconcile(SubscriptionSample before, SubscriptionSample after, IEnumerable<SubscriptionTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return Reconcile(KnownWindow(after.Window) ?? _defaultWindow, Math.Max(0, after.Percent - before.Percent), turns);
    }

    /// <summary>The canonical name of a subscription window (<c>5h</c>, <c>7d</c>, also written <c>subscription_5h</c>), or <see langword="null"/> for any other.</summary>
    internal static string? KnownWindow(string? window)
    {
        if (window is null) return null;
        var name = SubscriptionSample.NormalizeWindow(window);
        if (name.StartsWith("subscription_", StringComparison.Ordinal)) name = name["subscription_".Length..];
        return name switch
        {
            FiveHourWindow => FiveHourWindow,
            WeeklyWindow => WeeklyWindow,
            _ => null,
        };
    }

    private SubscriptionReconciliation Reconcile(string window, double measuredDeltaPct, IEnumerable<SubscriptionTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        if (!double.IsFinite(measuredDeltaPct) || measuredDeltaPct < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(measuredDeltaPct), measuredDeltaPct, "the measured delta must be a finite percent ≥ 0");
        }

        var byClass = turns.Where(t => t.Tokens > 0).GroupBy(t => ClassOf(t.Model), StringComparer.OrdinalIgnoreCase)
            .Select(g => (Class: g.Key, Tokens: g.Sum(t => t.Tokens))).ToList();
        SubscriptionReconciliation result;
        lock (_gate)
        {
            result = ReconcileLocked(_windows[window], measuredDeltaPct, byClass);
        }

        BudgetLog.Reconciled(_logger, result.MeasuredPct, result.EstimatedPct, result.DiffPct, result.Trusted, result.Recalibrated);
        Changed?.Invoke();
        return result;
    }

    private SubscriptionReconciliation ReconcileLocked(WindowState state, double measuredDeltaPct, List<(string Class, long Tokens)> byClass)
    {
        {
            var estimated = byClass.Sum(c => c.Tokens / TokensPerPercentLocked(state, c.Class));
            var diff = measuredDeltaPct - estimated;
            var relative = measuredDeltaPct > 0 ? Math.Abs(diff) / measuredDeltaPct : (estimated > 0 ? double.PositiveInfinity : 0);
            var mismatch = relative > _options.MismatchTolerance;
            var recalibrated = false;
            if (!mismatch)
            {
                state.ConsecutiveMismatches = 0;
            }
            else if (++state.ConsecutiveMismatches >= _options.RecalibrateAfter && measuredDeltaPct > 0 && estimated > 0)
            {
                var factor = estimated / measuredDeltaPct;
                foreach (var (cls, _) in byClass)
                {
                    var own = StateOf(state, cls);
                    own.Ema = TokensPerPercentLocked(state, cls) * factor;
                    own.Snapshots = Math.Max(own.Snapshots, 2);
                }

                state.ConsecutiveMismatches = 0;
                recalibrated = true;
                Interlocked.Increment(ref _version);
            }

            return _lastReconciliation = new SubscriptionReconciliation(measuredDeltaPct, estimated, diff, !mismatch, recalibrated, state.ConsecutiveMismatches);
        }
    }

    /// <summary>
    /// The estimator's learned state as JSON: per window and class the EMA of tokens per percent and its snapshot count,
    /// the consecutive mismatches, the reference reading and the tokens metered since it, and the ledger timestamp of the
    /// latest metered call those tokens count (so a restart counts the calls stored after it). <see cref="ImportState"/>
    /// reads it back (the guard saves it in its store whenever it changes and loads it at start-up).
    /// </summary>
    /// <returns>The state.</returns>
    public string ExportState()
    {
        lock (_gate)
        {
            var state = new StateDto(_windows.ToDictionary(
                w => w.Key,
                w => (WindowDto?)new WindowDto(
                    w.Value.Classes.ToDictionary(c => c.Key, c => (ClassDto?)new ClassDto(c.Value.Ema, c.Value.Snapshots)),
                    new Dictionary<string, long>(w.Value.Pending),
                    w.Value.ConsecutiveMismatches,
                    w.Value.Reference is { } r ? new ReadingDto(r.Utilization, r.ObservedAt, r.ResetsAt) : null)))
            {
                Through = MarkDtoLocked(),
            };
            return JsonSerializer.Serialize(state, StateJson.Default.StateDto);
        }
    }

    /// <summary>Replaces the learned state with one <see cref="ExportState"/> wrote (windows other than <c>5h</c>/<c>7d</c>, and unusable values, are skipped).</summary>
    /// <param name="json">The state.</param>
    /// <exception cref="FormatException">The text is not such a state.</exception>
    public void ImportState(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        StateDto? state;
        try
        {
            state = JsonSerializer.Deserialize(json, StateJson.Default.StateDto);
        }
        catch (JsonException ex)
        {
            throw new FormatException("the subscription estimator state is not valid JSON: " + ex.Message, ex);
        }

        if (state?.Windows is null) throw new FormatException("the subscription estimator state has no windows");
        lock (_gate)
        {
            foreach (var (name, saved) in state.Windows)
            {
                if (KnownWindow(name) is not { } known || saved is null) continue;
                var window = _windows[known];
                window.Classes.Clear();
                foreach (var (cls, value) in saved.Classes ?? [])
                {
                    if (value is null || !double.IsFinite(value.Ema) || value.Ema <= 0 || value.Snapshots < 0) continue;
                    window.Classes[cls] = new ClassState { Ema = value.Ema, Snapshots = value.Snapshots };
                }

                window.Pending.Clear();
                foreach (var (cls, tokens) in saved.Pending ?? [])
                {
                    if (tokens > 0) window.Pending[cls] = tokens;
                }

                window.ConsecutiveMismatches = Math.Max(0, saved.Mismatches);
                window.Reference = saved.Reference is { } r && double.IsFinite(r.Utilization)
                    ? new SubscriptionSample(known, r.Utilization, r.ObservedAt, r.ResetsAt)
                    : null;
            }

            _throughIds.Clear();
            _throughCalls.Clear();
            _throughMs = state.Through is { } mark ? mark.Ms : long.MinValue;
            foreach (var id in state.Through?.Ids ?? [])
            {
                if (id is not null && _throughIds.Count < MaxMarkedIds) _throughIds.Add(id);
            }

            Interlocked.Increment(ref _version);
        }
    }

    private WindowState Window(string window)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(window);
        return KnownWindow(window) is { } name
            ? _windows[name]
            : throw new ArgumentException($"'{window}' is not a subscription window ({FiveHourWindow} or {WeeklyWindow})", nameof(window));
    }

    private bool AddSnapshotLocked(WindowState window, string modelClass, long tokensDelta, double utilizationDeltaPct)
    {
        if (tokensDelta <= 0 || !double.IsFinite(utilizationDeltaPct) || utilizationDeltaPct <= 0)
        {
            return false;
        }

        var observed = tokensDelta / utilizationDeltaPct;
        var state = StateOf(window, modelClass);
        state.Ema = state.Snapshots == 0 ? observed : (_options.Alpha * observed) + ((1 - _options.Alpha) * state.Ema);
        state.Snapshots++;
        Interlocked.Increment(ref _version);
        return true;
    }

    private static ClassState StateOf(WindowState window, string modelClass)
    {
        if (!window.Classes.TryGetValue(modelClass, out var state))
        {
            state = new ClassState();
            window.Classes[modelClass] = state;
        }

        return state;
    }

    private double TokensPerPercentLocked(WindowState window, string modelClass)
    {
        if (window.Classes.TryGetValue(modelClass, out var own) && own.Snapshots >= 2)
        {
            return own.Ema;
        }

        // Bootstrap: relative costs, anchored on the window's calibrated classes when there are any.
        var relative = Relative(modelClass);
        var anchors = window.Classes.Where(c => c.Value.Snapshots >= 2).Select(c => c.Value.Ema * Relative(c.Key)).ToList();
        var baseTokens = anchors.Count > 0 ? anchors.Average() : window.Bootstrap;
        return baseTokens / relative;
    }

    private double Relative(string modelClass) =>
        _options.RelativeCosts.TryGetValue(modelClass, out var r) && r > 0 ? r
        : _options.RelativeCosts.TryGetValue(_options.DefaultClass, out var d) && d > 0 ? d : 1;

    internal static bool Glob(string pattern, string text)
    {
        var parts = pattern.Split('*');
        if (parts.Length == 1)
        {
            return string.Equals(pattern, text, StringComparison.OrdinalIgnoreCase);
        }

        var position = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.Length == 0) continue;
            if (i == 0)
            {
                if (!text.StartsWith(part, StringComparison.OrdinalIgnoreCase)) return false;
                position = part.Length;
                continue;
            }

            if (i == parts.Length - 1)
            {
                return text.Length - position >= part.Length && text.EndsWith(part, StringComparison.OrdinalIgnoreCase);
            }

            var found = text.IndexOf(part, position, StringComparison.OrdinalIgnoreCase);
            if (found < 0) return false;
            position = found + part.Length;
        }

        return true;
    }

    internal sealed record StateDto(Dictionary<string, WindowDto?>? Windows)
    {
        /// <summary>What the pending tokens have counted up to (absent in states saved before the mark existed).</summary>
        public MarkDto? Through { get; init; }
    }

    internal sealed record MarkDto(long Ms, string?[]? Ids);

    internal sealed record WindowDto(Dictionary<string, ClassDto?>? Classes, Dictionary<string, long>? Pending, int Mismatches, ReadingDto? Reference);

    internal sealed record ClassDto(double Ema, int Snapshots);

    internal sealed record ReadingDto(double Utilization, DateTimeOffset ObservedAt, DateTimeOffset? ResetsAt);

    private sealed class WindowState(double bootstrap)
    {
        public double Bootstrap { get; } = bootstrap;
        public Dictionary<string, ClassState> Classes { get; } = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, long> Pending { get; } = new(StringComparer.OrdinalIgnoreCase);
        public SubscriptionSample? Reference { get; set; }
        public int ConsecutiveMismatches { get; set; }
    }

    private sealed class ClassState
    {
        public double Ema;
        public int Snapshots;
    }
}

/// <summary>One turn of an orchestration, for reconciliation.</summary>
/// <param name="Model">The model that served it.</param>
/// <param name="Tokens">Its tokens.</param>
public readonly record struct SubscriptionTurn(string? Model, long Tokens);

/// <summary>The outcome of a reconciliation.</summary>
/// <param name="MeasuredPct">The measured utilization delta, percent.</param>
/// <param name="EstimatedPct">The sum of the per-turn estimates, percent.</param>
/// <param name="DiffPct">Measured − estimated.</param>
/// <param name="Trusted">Whether the difference was within tolerance.</param>
/// <param name="Recalibrated">Whether this reconciliation recalibrated the estimator.</param>
/// <param name="ConsecutiveMismatches">Mismatches in a row after this one.</param>
public sealed record SubscriptionReconciliation(double MeasuredPct, double EstimatedPct, double DiffPct, bool Trusted, bool Recalibrated, int ConsecutiveMismatches);

/// <summary>Source-generated JSON for the estimator's saved state (snake_case, trimming-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SubscriptionEstimator.StateDto))]
internal sealed partial class StateJson : JsonSerializerContext;
