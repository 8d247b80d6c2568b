using CageNet.Pricing;

namespace CageNet.Attribution;

/// <summary>
/// The matrix's cost function over one task: for a set of tools that are on (a bit mask over the matrix tools), the
/// task's input tokens and cost. Each call's recorded cost is the anchor; an off tool raises the input of the calls its
/// receipts point to by their <c>saved</c>, and the difference is priced with the catalog (so long-context tiers apply
/// and the all-on mask reproduces the recorded spend exactly). Call-less savings of an off tool are added at the task
/// model's input price.
/// </summary>
internal sealed class CostFunction
{
    private readonly PriceCatalog _catalog;
    private readonly AffectedCall[] _calls;
    private readonly decimal[] _savedByTool;
    private readonly decimal[] _callLessByTool;
    private readonly decimal? _callLessRate;
    private readonly decimal _recordedCost;
    private readonly decimal _promptTokens;

    public CostFunction(TaskRecords task, IReadOnlyList<string> tools, SavingsPricer pricer, out int unpricedCalls)
    {
        _catalog = pricer.Catalog;
        Tools = tools;
        var index = tools.Select((tool, i) => (tool, i)).ToDictionary(p => p.tool, p => p.i, StringComparer.Ordinal);
        _savedByTool = new decimal[tools.Count];
        _callLessByTool = new decimal[tools.Count];
        Methods = Enumerable.Repeat(SavingsMethod.Measured, tools.Count).ToArray();

        unpricedCalls = 0;
        foreach (var call in task.Calls)
        {
            _promptTokens += call.Usage.PromptTokens;
            OutputTokens += call.Usage.Output;
            if (call.CostUsd is { } cost)
            {
                _recordedCost += cost;
            }
            else
            {
                unpricedCalls++;
            }
        }

        AnyPricedCall = task.Calls.Count == 0 || unpricedCalls < task.Calls.Count;
        var affected = new Dictionary<string, AffectedCall>(StringComparer.Ordinal);
        decimal actual = 0;
        foreach (var receipt in task.Receipts)
        {
            if (receipt.Unit != SavingsUnit.Tokens || !index.TryGetValue(receipt.Tool, out var t))
            {
                continue;
            }

            Methods[t] = Evidence.Worst(Methods[t], receipt.Method);
            _savedByTool[t] += receipt.Saved;
            actual += receipt.Actual;
            if (task.CallOf(receipt) is { } call)
            {
                if (!affected.TryGetValue(call.Id, out var entry))
                {
                    entry = new AffectedCall(call, tools.Count);
                    affected[call.Id] = entry;
                }

                entry.Saved[t] += receipt.Saved;
            }
            else
            {
                _callLessByTool[t] += receipt.Saved;
            }
        }

        BaseTokens = _promptTokens - actual;
        _calls = [.. affected.Values];
        _callLessRate = pricer.TokenRate(null, task.TaskModel, out _);
    }

    public IReadOnlyList<string> Tools { get; }

    /// <summary>The weakest evidence of each tool's token receipts.</summary>
    public SavingsMethod[] Methods { get; }

    public decimal BaseTokens { get; }

    public long OutputTokens { get; }

    /// <summary>False when the task has calls and none of them has a recorded cost: every row's cost is unknown.</summary>
    public bool AnyPricedCall { get; }

    public int AllOn => (1 << Tools.Count) - 1;

    /// <summary>The task's prompt-side tokens and cost with the tools in <paramref name="on"/> on and the rest off.</summary>
    public (decimal InputTokens, decimal? CostUsd) Evaluate(int on)
    {
        var tokens = _promptTokens;
        decimal? cost = AnyPricedCall ? _recordedCost : null;
        for (var t = 0; t < Tools.Count; t++)
        {
            if ((on & (1 << t)) != 0)
            {
                continue;
            }

            tokens += _savedByTool[t];
            if (_callLessByTool[t] != 0)
            {
                cost = _callLessRate is { } rate ? cost + (_callLessByTool[t] * rate) : null;
            }
        }

        foreach (var call in _calls)
        {
            decimal raise = 0;
            for (var t = 0; t < Tools.Count; t++)
            {
                if ((on & (1 << t)) == 0)
                {
                    raise += call.Saved[t];
                }
            }

            if (raise != 0 && cost is not null)
            {
                cost = call.Delta(_catalog, raise) is { } delta ? cost + delta : null;
            }
        }

        return (tokens, cost);
    }

    /// <summary>Evaluates every mask once (index = mask).</summary>
    public (decimal InputTokens, decimal? CostUsd)[] EvaluateAll()
    {
        var all = new (decimal, decimal?)[1 << Tools.Count];
        for (var mask = 0; mask < all.Length; mask++)
        {
            all[mask] = Evaluate(mask);
        }

        return all;
    }

    /// <summary>A call some matrix tool's receipts point to, with its saving per tool.</summary>
    private sealed class AffectedCall(CallRecord call, int tools)
    {
        private readonly TokenUsage _usage = call.Usage;
        private decimal? _actualCost;
        private bool _actualPriced;

        public decimal[] Saved { get; } = new decimal[tools];

        /// <summary>The catalog price of the call with its input raised, minus its catalog price as it ran; null when unpriced.</summary>
        public decimal? Delta(PriceCatalog catalog, decimal raise)
        {
            if (call.CostUsd is null)
            {
                // The call has no recorded cost: it is left out of every row's cost (counted as unpriced).
                return 0m;
            }

            if (!_actualPriced)
            {
                _actualCost = catalog.Price(call.Provider, call.Model, _usage).CostUsd;
                _actualPriced = true;
            }

            if (_actualCost is not { } before)
            {
                return null;
            }

            var input = Math.Max(0m, _usage.Input + raise);
            var raised = _usage with { Input = (long)Math.Round(input, MidpointRounding.AwayFromZero) };
            return catalog.Price(call.Provider, call.Model, raised).CostUsd is { } after ? after - before : null;
        }
    }
}
