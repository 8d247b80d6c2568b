using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CageNet.Budgets.Subscription;

/// <summary>
/// Converts tokens to percent of a subscription window per model class (SPEC 7.6). Each class keeps an EMA of
/// <c>tokens_per_pct</c> from snapshots <c>(tokens_delta_for_class, util_delta, class)</c>; until a class has two
/// snapshots it uses the bootstrap relative costs (haiku=1, sonnet=5, opus=25) scaled from a calibrated class, or from
/// <see cref="SubscriptionOptions.BootstrapTokensPerPct"/> when none is calibrated. After each orchestration,
/// <see cref="Reconcile(double, IEnumerable{SubscriptionTurn})"/> compares the measured utilization delta with the
/// estimate, logs the difference, trusts a small one and recalibrates after
/// <see cref="SubscriptionOptions.RecalibrateAfter"/> consecutive big ones. Thread-safe.
/// </summary>
public sealed class SubscriptionEstimator
{
    private readonly SubscriptionOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ClassState> _classes = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _classOfModel = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, long> _pendingTokens = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SubscriptionSample> _latest = new(StringComparer.Ordinal);
    private int _consecutiveMismatches;
    private int _version;

    /// <summary>Creates an estimator.</summary>
    /// <param name="options">The settings; defaults when <see langword="null"/>.</param>
    /// <param name="logger">Receives reconciliation diffs and recalibrations.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public SubscriptionEstimator(SubscriptionOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new SubscriptionOptions();
        _logger = logger ?? NullLogger.Instance;
        if (!(_options.Alpha > 0 && _options.Alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(options), _options.Alpha, "Subscription:Alpha must be in (0, 1]");
        if (!(_options.BootstrapTokensPerPct > 0)) throw new ArgumentOutOfRangeException(nameof(options), _options.BootstrapTokensPerPct, "Subscription:BootstrapTokensPerPct must be > 0");
        if (_options.RecalibrateAfter < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.RecalibrateAfter, "Subscription:RecalibrateAfter must be ≥ 1");
        if (!(_options.MismatchTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(options), _options.MismatchTolerance, "Subscription:MismatchTolerance must be ≥ 0");
    }

    /// <summary>The settings.</summary>
    public SubscriptionOptions Options => _options;

    /// <summary>Increments whenever a conversion changes (a snapshot, a recalibration); budget caps in subscription percent are recomputed when it moves.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Consecutive mismatched reconciliations so far.</summary>
    public int ConsecutiveMismatches
    {
        get
        {
            lock (_gate)
            {
                return _consecutiveMismatches;
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

    /// <summary>Snapshots a class has had (it is calibrated from two).</summary>
    /// <param name="modelClass">The class.</param>
    /// <returns>The count.</returns>
    public int SnapshotCount(string modelClass)
    {
        lock (_gate)
        {
            return _classes.TryGetValue(modelClass, out var state) ? state.Snapshots : 0;
        }
    }

    /// <summary>Tokens of <paramref name="modelClass"/> per 1% of the window: the class's EMA once it has two snapshots, else the bootstrap.</summary>
    /// <param name="modelClass">The class.</param>
    /// <returns>Tokens per percent, &gt; 0.</returns>
    public double TokensPerPercent(string modelClass)
    {
        ArgumentNullException.ThrowIfNull(modelClass);
        lock (_gate)
        {
            return TokensPerPercentLocked(modelClass);
        }
    }

    /// <summary>The percent of the window <paramref name="tokens"/> of <paramref name="model"/> are estimated to use.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokens">The tokens.</param>
    /// <returns>Percent of the window.</returns>
    public double EstimatePercent(string? model, long tokens) => tokens / TokensPerPercent(ClassOf(model));

    /// <summary>Adds a snapshot for a class: <paramref name="tokensDelta"/> tokens used <paramref name="utilizationDeltaPct"/> percent of the window.</summary>
    /// <param name="modelClass">The class.</param>
    /// <param name="tokensDelta">Tokens of the class between two readings, &gt; 0.</param>
    /// <param name="utilizationDeltaPct">The utilization the readings moved, in percent, &gt; 0.</param>
    /// <returns>Whether it was used (non-positive deltas are ignored).</returns>
    public bool AddSnapshot(string modelClass, long tokensDelta, double utilizationDeltaPct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelClass);
        if (tokensDelta <= 0 || !double.IsFinite(utilizationDeltaPct) || utilizationDeltaPct <= 0)
        {
            return false;
        }

        var observed = tokensDelta / utilizationDeltaPct;
        lock (_gate)
        {
            var state = State(modelClass);
            state.Ema = state.Snapshots == 0 ? observed : (_options.Alpha * observed) + ((1 - _options.Alpha) * state.Ema);
            state.Snapshots++;
            Interlocked.Increment(ref _version);
        }

        return true;
    }

    /// <summary>Counts tokens a model used since the last reading of the estimator's window (a metered call does this for you).</summary>
    /// <param name="model">The model that served the tokens.</param>
    /// <param name="tokens">The tokens.</param>
    public void RecordTokens(string? model, long tokens)
    {
        if (tokens > 0)
        {
            _pendingTokens.AddOrUpdate(ClassOf(model), static (_, add) => add, static (_, current, add) => current + add, tokens);
        }
    }

    /// <summary>The latest sample of a window, or <see langword="null"/>.</summary>
    /// <param name="window">The window (<c>5h</c>, <c>7d</c>).</param>
    /// <returns>The sample.</returns>
    public SubscriptionSample? Latest(string window)
    {
        lock (_gate)
        {
            return _latest.TryGetValue(SubscriptionSample.NormalizeWindow(window), out var s) ? s : null;
        }
    }

    /// <summary>
    /// Takes a utilization reading. For the estimator's window, the utilization delta since the previous reading and
    /// the tokens recorded in between become snapshots: split across classes in proportion to their current estimates
    /// (exact when one class was used). A reading after a reset (a new reset time, or a lower utilization) starts over.
    /// </summary>
    /// <param name="sample">The reading.</param>
    /// <returns>The number of snapshots taken.</returns>
    public int Observe(SubscriptionSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var window = SubscriptionSample.NormalizeWindow(sample.Window);
        SubscriptionSample? previous;
        lock (_gate)
        {
            _latest.TryGetValue(window, out previous);
            if (previous is not null && sample.ObservedAt < previous.ObservedAt)
            {
                return 0; // out of order: keep the newer reading
            }

            _latest[window] = sample;
        }

        if (!string.Equals(window, SubscriptionSample.NormalizeWindow(_options.Window), StringComparison.Ordinal))
        {
            return 0;
        }

        var pending = new List<(string Class, long Tokens)>();
        foreach (var key in _pendingTokens.Keys)
        {
            if (_pendingTokens.TryRemove(key, out var tokens) && tokens > 0)
            {
                pending.Add((key, tokens));
            }
        }

        if (previous is null || pending.Count == 0 || sample.ResetsAt != previous.ResetsAt)
        {
            return 0;
        }

        var delta = sample.Percent - previous.Percent;
        if (delta <= 0)
        {
            return 0;
        }

        double estimated;
        lock (_gate)
        {
            estimated = pending.Sum(p => p.Tokens / TokensPerPercentLocked(p.Class));
        }

        var taken = 0;
        foreach (var (cls, tokens) in pending)
        {
            double share;
            lock (_gate)
            {
                share = estimated > 0 ? tokens / TokensPerPercentLocked(cls) / estimated : 1.0 / pending.Count;
            }

            if (AddSnapshot(cls, tokens, delta * share))
            {
                taken++;
            }
        }

        return taken;
    }

    /// <summary>
    /// Reconciles one orchestration: the measured utilization delta against the sum of the per-turn estimates. The diff is
    /// logged; within <see cref="SubscriptionOptions.MismatchTolerance"/> it is trusted (and the mismatch count resets);
    /// beyond it the mismatch count grows, and at <see cref="SubscriptionOptions.RecalibrateAfter"/> the classes of the
    /// turns are rescaled so the estimate matches the measurement.
    /// </summary>
    /// <param name="measuredDeltaPct">The measured utilization delta in percent (after − before).</param>
    /// <param name="turns">The orchestration's turns: model and tokens.</param>
    /// <returns>The outcome.</returns>
    public SubscriptionReconciliation Reconcile(double measuredDeltaPct, IEnumerable<SubscriptionTurn> turns)
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
            var estimated = byClass.Sum(c => c.Tokens / TokensPerPercentLocked(c.Class));
            var diff = measuredDeltaPct - estimated;
            var relative = measuredDeltaPct > 0 ? Math.Abs(diff) / measuredDeltaPct : (estimated > 0 ? double.PositiveInfinity : 0);
            var mismatch = relative > _options.MismatchTolerance;
            var recalibrated = false;
            if (!mismatch)
            {
                _consecutiveMismatches = 0;
            }
            else if (++_consecutiveMismatches >= _options.RecalibrateAfter && measuredDeltaPct > 0 && estimated > 0)
            {
                var factor = estimated / measuredDeltaPct;
                foreach (var (cls, _) in byClass)
                {
                    var state = State(cls);
                    state.Ema = TokensPerPercentLocked(cls) * factor;
                    state.Snapshots = Math.Max(state.Snapshots, 2);
                }

                _consecutiveMismatches = 0;
                recalibrated = true;
                Interlocked.Increment(ref _version);
            }

            result = new SubscriptionReconciliation(measuredDeltaPct, estimated, diff, !mismatch, recalibrated, _consecutiveMismatches);
        }

        BudgetLog.Reconciled(_logger, result.MeasuredPct, result.EstimatedPct, result.DiffPct, result.Trusted, result.Recalibrated);
        return result;
    }

    /// <summary>Reconciles one orchestration from the readings before and after it.</summary>
    /// <param name="before">The reading before the orchestration.</param>
    /// <param name="after">The reading after it (same window).</param>
    /// <param name="turns">The orchestration's turns.</param>
    /// <returns>The outcome.</returns>
    public SubscriptionReconciliation Reconcile(SubscriptionSample before, SubscriptionSample after, IEnumerable<SubscriptionTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return Reconcile(Math.Max(0, after.Percent - before.Percent), turns);
    }

    private ClassState State(string modelClass)
    {
        if (!_classes.TryGetValue(modelClass, out var state))
        {
            state = new ClassState();
            _classes[modelClass] = state;
        }

        return state;
    }

    private double TokensPerPercentLocked(string modelClass)
    {
        if (_classes.TryGetValue(modelClass, out var own) && own.Snapshots >= 2)
        {
            return own.Ema;
        }

        // Bootstrap: relative costs, anchored on the calibrated classes when there are any.
        var relative = Relative(modelClass);
        var anchors = _classes.Where(c => c.Value.Snapshots >= 2).Select(c => c.Value.Ema * Relative(c.Key)).ToList();
        var baseTokens = anchors.Count > 0 ? anchors.Average() : _options.BootstrapTokensPerPct;
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
