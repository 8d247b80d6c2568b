namespace CageNet.Budgets;

/// <summary>
/// The running cost of every session a meter has seen (SPEC 7.7, seed 001): one <see cref="SessionCostAccumulator"/>
/// per <see cref="CallRecord.Session"/>, fed by every call the meter records — scopes, <c>UseCage()</c>, the HTTP
/// meter and the proxy alike. Resolve it from dependency injection (<c>AddCage()</c> registers the meter's), or read
/// it from a meter. The warning thresholds of <see cref="Configuration.MeteringOptions.SessionWarnAtUsd"/> and
/// <see cref="Configuration.MeteringOptions.SessionWarnAtTokens"/> fire once per session each, through
/// <see cref="Warned"/>. Memory stays bounded: past <see cref="MaxSessions"/> sessions, the one updated longest ago is
/// forgotten. Thread-safe.
/// </summary>
public sealed class SessionCostTracker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<(string Session, SessionCostAccumulator Costs)>> _sessions = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Session, SessionCostAccumulator Costs)> _recent = new();

    /// <summary>Creates a tracker.</summary>
    /// <param name="warnAtUsd">Warn once per session when its cloud cost reaches this; none by default.</param>
    /// <param name="warnAtTokens">Warn once per session when its prompt + completion tokens reach this; none by default.</param>
    /// <param name="maxSessions">How many sessions are kept; default 10,000.</param>
    public SessionCostTracker(decimal? warnAtUsd = null, long? warnAtTokens = null, int maxSessions = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSessions);
        if (warnAtUsd < 0) throw new ArgumentOutOfRangeException(nameof(warnAtUsd), warnAtUsd, "the dollar threshold must be ≥ 0");
        if (warnAtTokens < 0) throw new ArgumentOutOfRangeException(nameof(warnAtTokens), warnAtTokens, "the token threshold must be ≥ 0");
        WarnAtUsd = warnAtUsd;
        WarnAtTokens = warnAtTokens;
        MaxSessions = maxSessions;
    }

    /// <summary>The per-session dollar warning threshold.</summary>
    public decimal? WarnAtUsd { get; }

    /// <summary>The per-session token warning threshold.</summary>
    public long? WarnAtTokens { get; }

    /// <summary>How many sessions are kept before the least recently updated is forgotten.</summary>
    public int MaxSessions { get; }

    /// <summary>Raised (on the recording thread) when a session crosses a threshold, once per threshold and session.</summary>
    public event EventHandler<SessionCostWarning>? Warned;

    /// <summary>The sessions tracked, most recently updated first.</summary>
    public IReadOnlyList<string> Sessions
    {
        get
        {
            lock (_gate)
            {
                return [.. _recent.Select(e => e.Session)];
            }
        }
    }

    /// <summary>The costs of a session, or <see langword="null"/> when no call of it was recorded (or it was forgotten).</summary>
    /// <param name="session">The session label.</param>
    /// <returns>Its accumulator: <see cref="SessionCostAccumulator.Summary"/> and <see cref="SessionCostAccumulator.Detail"/> print it.</returns>
    public SessionCostAccumulator? Get(string session)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_gate)
        {
            return _sessions.TryGetValue(session, out var node) ? node.Value.Costs : null;
        }
    }

    /// <summary>Adds a call to its session's totals (calls without a session are not tracked).</summary>
    /// <param name="call">The call as recorded.</param>
    public void Add(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (call.Session is not { Length: > 0 } session)
        {
            return;
        }

        SessionCostAccumulator costs;
        lock (_gate)
        {
            if (_sessions.TryGetValue(session, out var node))
            {
                if (node != _recent.First)
                {
                    _recent.Remove(node); // calls of one session usually come in a row: the order is then unchanged
                    _recent.AddFirst(node);
                }
            }
            else
            {
                if (_sessions.Count >= MaxSessions && _recent.Last is { } oldest)
                {
                    _sessions.Remove(oldest.Value.Session);
                    _recent.RemoveLast();
                }

                node = _recent.AddFirst((session, new SessionCostAccumulator(WarnAtUsd, WarnAtTokens)));
                _sessions[session] = node;
            }

            costs = node.Value.Costs;
        }

        var warnings = costs.Add(call);
        if (warnings.Count > 0 && Warned is { } handler)
        {
            foreach (var message in warnings)
            {
                handler(this, new SessionCostWarning(session, message));
            }
        }
    }
}

/// <summary>A session crossed a warning threshold of its <see cref="SessionCostTracker"/>.</summary>
/// <param name="Session">The session.</param>
/// <param name="Message">The warning, with 6-decimal dollars.</param>
public sealed record SessionCostWarning(string Session, string Message);
