using System.Globalization;

namespace CageNet.Budgets;

/// <summary>
/// Running totals for one conversation or agent run (SPEC 7.7): per model × category, calls, prompt and completion
/// tokens, cost, and a sticky <see cref="SessionCostSlot.IsLocal"/> flag when any call in the slot had no cost (a local
/// model) — kept apart from a cloud call that happened to cost $0. Optional dollar and token warnings each fire once,
/// on the call that crossed them; <see cref="Reset"/> clears the totals and both warnings together. Resetting a
/// conversation is not resetting this meter: call <see cref="Reset"/> only for an explicit "reset the cost meter".
/// Thread-safe.
/// </summary>
public sealed class SessionCostAccumulator
{
    /// <summary>The category of calls that name none: <c>main</c>.</summary>
    public const string DefaultCategory = "main";

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Model, string Category), Slot> _slots = [];
    private bool _usdWarned;
    private bool _tokensWarned;

    /// <summary>Creates an accumulator.</summary>
    /// <param name="warnAtUsd">Warn once when the cloud cost reaches this; none by default.</param>
    /// <param name="warnAtTokens">Warn once when prompt + completion tokens reach this; none by default.</param>
    public SessionCostAccumulator(decimal? warnAtUsd = null, long? warnAtTokens = null)
    {
        WarnAtUsd = warnAtUsd;
        WarnAtTokens = warnAtTokens;
    }

    /// <summary>The dollar warning threshold.</summary>
    public decimal? WarnAtUsd { get; }

    /// <summary>The token warning threshold.</summary>
    public long? WarnAtTokens { get; }

    /// <summary>Records one call; returns the warnings this call crossed (6-decimal dollars), usually none.</summary>
    /// <param name="model">The model that served the call.</param>
    /// <param name="category">The call-site category; <c>main</c> when empty.</param>
    /// <param name="promptTokens">Prompt tokens, ≥ 0.</param>
    /// <param name="completionTokens">Completion tokens, ≥ 0.</param>
    /// <param name="costUsd">The cost; <see langword="null"/> for a call with no cost (a local model).</param>
    /// <returns>The warning messages fired by this call.</returns>
    public IReadOnlyList<string> Add(string model, string? category, long promptTokens, long completionTokens, decimal? costUsd)
    {
        if (costUsd < 0) throw new ArgumentOutOfRangeException(nameof(costUsd), costUsd, "the cost must be ≥ 0");
        return AddCore(model, category, promptTokens, completionTokens, costUsd, unknownCost: false);
    }

    /// <summary>
    /// Records a call whose cost is unknown (an unpriced model, or usage that never arrived): its calls and tokens count,
    /// it adds nothing to the cloud cost, and it is counted apart (<see cref="UnknownCostCalls"/>), never as local.
    /// </summary>
    /// <param name="model">The model that served the call.</param>
    /// <param name="category">The call-site category; <c>main</c> when empty.</param>
    /// <param name="promptTokens">Prompt tokens, ≥ 0.</param>
    /// <param name="completionTokens">Completion tokens, ≥ 0.</param>
    /// <returns>The warning messages fired by this call.</returns>
    public IReadOnlyList<string> AddUnknownCost(string model, string? category, long promptTokens, long completionTokens) =>
        AddCore(model, category, promptTokens, completionTokens, null, unknownCost: true);

    private static readonly string[] NoWarnings = [];

    private IReadOnlyList<string> AddCore(string model, string? category, long promptTokens, long completionTokens, decimal? costUsd, bool unknownCost)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(completionTokens);
        var key = (model, string.IsNullOrEmpty(category) ? DefaultCategory : category);
        lock (_gate)
        {
            if (!_slots.TryGetValue(key, out var slot))
            {
                _slots[key] = slot = new Slot();
            }

            slot.Calls++;
            slot.Prompt += promptTokens;
            slot.Completion += completionTokens;
            slot.Cost += costUsd ?? 0m;
            if (unknownCost)
            {
                slot.UnknownCalls++;
            }
            else
            {
                slot.IsLocal |= costUsd is null;
            }

            // The sums are only needed while a threshold is armed: a meter feeds every call through here.
            List<string>? fired = null;
            if (WarnAtUsd is { } usd && !_usdWarned && CloudCostLocked() is var cost && cost >= usd)
            {
                _usdWarned = true;
                (fired ??= []).Add($"session cost reached {Money(usd)}: {Money(cost)} so far");
            }

            if (WarnAtTokens is { } limit && !_tokensWarned && _slots.Values.Sum(s => s.Prompt + s.Completion) is var tokens && tokens >= limit)
            {
                _tokensWarned = true;
                (fired ??= []).Add($"session tokens reached {Count(limit)}: {Count(tokens)} so far");
            }

            return (IReadOnlyList<string>?)fired ?? NoWarnings;
        }
    }

    /// <summary>
    /// Records a metered call: a local call (<see cref="CostSource.Local"/>) has no cost; a call whose cost is unknown
    /// (unpriced model, or usage that never arrived) is counted apart as unknown cost (<see cref="AddUnknownCost"/>).
    /// </summary>
    /// <param name="call">The call.</param>
    /// <returns>The warning messages fired by this call.</returns>
    public IReadOnlyList<string> Add(CallRecord call)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (call.CostSource == CostSource.Local)
        {
            return Add(call.Model, call.Category, call.Usage.PromptTokens, call.Usage.Output, null);
        }

        return call.CostUsd is { } cost
            ? Add(call.Model, call.Category, call.Usage.PromptTokens, call.Usage.Output, cost)
            : AddUnknownCost(call.Model, call.Category, call.Usage.PromptTokens, call.Usage.Output);
    }

    /// <summary>All calls.</summary>
    public long Calls { get { lock (_gate) { return _slots.Values.Sum(s => s.Calls); } } }

    /// <summary>Calls whose cost is unknown (not in the cloud cost, not local).</summary>
    public long UnknownCostCalls { get { lock (_gate) { return _slots.Values.Sum(s => s.UnknownCalls); } } }

    /// <summary>The cloud cost (calls with a cost): the priced sum, a lower bound when <see cref="IsLowerBound"/>.</summary>
    public decimal CloudCostUsd { get { lock (_gate) { return CloudCostLocked(); } } }

    /// <summary>Whether <see cref="CloudCostUsd"/> is only a lower bound: some call had an unknown cost (<see cref="UnknownCostCalls"/> above 0).</summary>
    public bool IsLowerBound => UnknownCostCalls > 0;

    /// <summary>
    /// The one-line summary, e.g. <c>24 calls, prompt=12,450 / completion=3,210 tokens, cost=$0.023400 (cloud only; local: 14 calls)</c>,
    /// with <c>; unknown cost: 2 calls</c> inside the parentheses when some calls had an unknown cost (the cost is then a lower bound).
    /// </summary>
    /// <returns>The summary.</returns>
    public string Summary()
    {
        lock (_gate)
        {
            var calls = _slots.Values.Sum(s => s.Calls);
            var unknown = _slots.Values.Sum(s => s.UnknownCalls);
            var localCalls = _slots.Values.Where(s => s.IsLocal).Sum(s => s.Calls - s.UnknownCalls);
            return $"{Count(calls)} {(calls == 1 ? "call" : "calls")}, prompt={Count(_slots.Values.Sum(s => s.Prompt))} / completion={Count(_slots.Values.Sum(s => s.Completion))} tokens, " +
                $"cost={Money(CloudCostLocked())} (cloud only; local: {Count(localCalls)} {(localCalls == 1 ? "call" : "calls")}" +
                (unknown > 0 ? $"; unknown cost: {Count(unknown)} {(unknown == 1 ? "call" : "calls")})" : ")");
        }
    }

    /// <summary>The breakdown per model × category, sorted by cost descending, then model, then category (ordinal).</summary>
    /// <returns>The slots.</returns>
    public IReadOnlyList<SessionCostSlot> Detail()
    {
        lock (_gate)
        {
            return [.. _slots
                .Select(p => new SessionCostSlot(p.Key.Model, p.Key.Category, p.Value.Calls, p.Value.Prompt, p.Value.Completion, p.Value.Cost, p.Value.IsLocal, p.Value.UnknownCalls))
                .OrderByDescending(s => s.CostUsd)
                .ThenBy(s => s.Model, StringComparer.Ordinal)
                .ThenBy(s => s.Category, StringComparer.Ordinal)];
        }
    }

    /// <summary>Clears the totals and re-arms both warnings, together.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _slots.Clear();
            _usdWarned = false;
            _tokensWarned = false;
        }
    }

    private decimal CloudCostLocked() => _slots.Values.Sum(s => s.Cost);

    internal static string Money(decimal usd) => BudgetMoney.Format(usd);

    private static string Count(long value) => value.ToString("#,##0", CultureInfo.InvariantCulture);

    private sealed class Slot
    {
        public long Calls;
        public long Prompt;
        public long Completion;
        public decimal Cost;
        public bool IsLocal;
        public long UnknownCalls;
    }
}

/// <summary>One model × category of a <see cref="SessionCostAccumulator"/>.</summary>
/// <param name="Model">The model.</param>
/// <param name="Category">The category.</param>
/// <param name="Calls">Calls.</param>
/// <param name="PromptTokens">Prompt tokens.</param>
/// <param name="CompletionTokens">Completion tokens.</param>
/// <param name="CostUsd">Cost of the calls that had one.</param>
/// <param name="IsLocal">Sticky: some call in the slot had no cost (a local model).</param>
/// <param name="UnknownCostCalls">Calls in the slot whose cost is unknown (not local, not in <paramref name="CostUsd"/>).</param>
public sealed record SessionCostSlot(string Model, string Category, long Calls, long PromptTokens, long CompletionTokens, decimal CostUsd, bool IsLocal, long UnknownCostCalls = 0)
{
    /// <summary>Whether <see cref="CostUsd"/> is only a lower bound: some call in the slot had an unknown cost.</summary>
    public bool IsLowerBound => UnknownCostCalls > 0;

    /// <summary>A detail line: <c>cloud main: 8 calls, 3,850/980 tokens, $0.018000</c>, or <c>(local)</c> for a local slot without cost.</summary>
    /// <returns>The line.</returns>
    public override string ToString()
    {
        var tokens = string.Create(CultureInfo.InvariantCulture, $"{PromptTokens:#,##0}/{CompletionTokens:#,##0} tokens");
        var calls = string.Create(CultureInfo.InvariantCulture, $"{Calls:#,##0} {(Calls == 1 ? "call" : "calls")}");
        var cost = IsLocal && CostUsd == 0 && UnknownCostCalls == 0 ? "(local)" : SessionCostAccumulator.Money(CostUsd) + (IsLocal ? " (partly local)" : "");
        var unknown = UnknownCostCalls > 0 ? string.Create(CultureInfo.InvariantCulture, $" (unknown cost: {UnknownCostCalls:#,##0} {(UnknownCostCalls == 1 ? "call" : "calls")})") : "";
        return $"{Model} {Category}: {calls}, {tokens}, {cost}{unknown}";
    }
}
