namespace CageNet.Attribution;

/// <summary>The per-task views: attribution, the counterfactual matrix and the Shapley audit, computed from one task's records.</summary>
internal static class TaskViews
{
    /// <summary>The most tools a matrix (2ⁿ rows) or an exact Shapley audit takes.</summary>
    public const int MaxMatrixTools = 16;

    public static TaskAttribution Attribute(TaskRecords task, ToolOrder order, SavingsPricer pricer, bool shapley)
    {
        var taskModel = task.TaskModel;
        var rows = new Dictionary<(string Tool, SavingsUnit Unit), RowBuilder>();
        foreach (var receipt in task.Receipts)
        {
            var key = (receipt.Tool, receipt.Unit);
            if (!rows.TryGetValue(key, out var row))
            {
                row = new RowBuilder(receipt.Tool, receipt.Unit);
                rows[key] = row;
            }

            var call = task.CallOf(receipt);
            row.Add(receipt, pricer.Price(receipt, call is null ? null : Ledger.CallBasis.Of(call), taskModel));
        }

        var tools = rows.Values
            .OrderBy(r => r.Tool, order)
            .ThenBy(r => r.Unit)
            .Select(r => r.Build())
            .ToList();

        return new TaskAttribution
        {
            Task = task.Task,
            Provider = task.LatestCall?.Provider,
            Model = task.LatestCall?.Model,
            Tools = tools,
            TotalSavedTokens = tools.Where(t => t.Unit == SavingsUnit.Tokens).Sum(t => t.Saved),
            TotalSavedUsd = tools.Sum(t => t.SavedUsd ?? 0m),
            UnpricedReceipts = tools.Sum(t => t.UnpricedReceipts),
            Residuals = Residuals(task),
            Shapley = shapley ? Shapley(task, order, pricer, null) : null,
        };
    }

    /// <summary>The residual of every call of the task (or pointed to by its receipts) that has token receipts, in call order.</summary>
    public static IReadOnlyList<CallResidual> Residuals(TaskRecords task)
    {
        var byCall = task.Receipts
            .Where(r => r.Unit == SavingsUnit.Tokens && task.CallOf(r) is not null)
            .GroupBy(r => r.CallId!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var ordered = task.Calls.Where(c => byCall.ContainsKey(c.Id)).ToList();
        ordered.AddRange(task.PointedCalls.Values.Where(c => byCall.ContainsKey(c.Id) && !task.Calls.Contains(c)).OrderBy(c => c.Timestamp));
        return ordered.Select(c => CallResidual.Of(c, byCall[c.Id])).ToList();
    }

    /// <summary>The tools with token receipts in the task, in the canonical order; or the chosen subset, checked.</summary>
    /// <exception cref="AttributionException">A chosen tool has no token receipts, or there are more than 16 tools.</exception>
    public static IReadOnlyList<string> MatrixTools(TaskRecords task, ToolOrder order, IReadOnlyCollection<string>? chosen)
    {
        var available = task.Receipts.Where(r => r.Unit == SavingsUnit.Tokens).Select(r => r.Tool).Distinct(StringComparer.Ordinal).ToList();
        List<string> tools;
        if (chosen is { Count: > 0 })
        {
            var missing = chosen.Where(t => !available.Contains(t, StringComparer.Ordinal)).ToList();
            if (missing.Count > 0)
            {
                throw new AttributionException(
                    $"--tools: {string.Join(", ", missing)} {(missing.Count == 1 ? "has" : "have")} no token receipts in task '{task.Task}'"
                    + (available.Count == 0 ? "." : $" (tools with token receipts: {string.Join(", ", available.Order(order))})."));
            }

            tools = chosen.Distinct(StringComparer.Ordinal).Order(order).ToList();
        }
        else
        {
            tools = available.Order(order).ToList();
        }

        if (tools.Count > MaxMatrixTools)
        {
            throw new AttributionException(
                $"task '{task.Task}' has {tools.Count} tools with token receipts; the matrix (2^n rows) and the Shapley audit take at most {MaxMatrixTools}. "
                + $"Pick a subset with --tools a,b,c (tools: {string.Join(", ", tools)}).");
        }

        return tools;
    }

    public static CounterfactualMatrix Matrix(TaskRecords task, ToolOrder order, SavingsPricer pricer, IReadOnlyCollection<string>? chosen)
    {
        var tools = MatrixTools(task, order, chosen);
        var function = new CostFunction(task, tools, pricer, out var unpricedCalls);
        var values = function.EvaluateAll();
        var rows = new MatrixRow[values.Length];
        for (var mask = 0; mask < values.Length; mask++)
        {
            var on = new bool[tools.Count];
            var source = mask == function.AllOn ? SavingsMethod.Measured : SavingsMethod.Modeled;
            for (var t = 0; t < tools.Count; t++)
            {
                on[t] = (mask & (1 << t)) != 0;
                if (!on[t] && function.Methods[t] == SavingsMethod.Estimated)
                {
                    source = SavingsMethod.Estimated;
                }
            }

            rows[mask] = new MatrixRow(on, values[mask].InputTokens, values[mask].CostUsd, source);
        }

        // Most expensive first; unknown costs after the known ones; then more input first; then all-off → all-on.
        var ordered = Enumerable.Range(0, rows.Length)
            .OrderBy(m => rows[m].CostUsd is null ? 1 : 0)
            .ThenByDescending(m => rows[m].CostUsd ?? 0m)
            .ThenByDescending(m => rows[m].InputTokens)
            .ThenBy(m => m)
            .Select(m => rows[m])
            .ToList();

        return new CounterfactualMatrix
        {
            Task = task.Task,
            Provider = task.LatestCall?.Provider,
            Model = task.LatestCall?.Model,
            Tools = tools,
            BaseTokens = function.BaseTokens,
            OutputTokens = function.OutputTokens,
            Rows = ordered,
            AllOff = rows[0],
            AllOn = rows[function.AllOn],
            UnpricedCalls = unpricedCalls,
            IsLowerBound = unpricedCalls > 0 || task.Calls.Any(c => c.UsageStatus == UsageStatus.Missing),
        };
    }

    /// <summary>
    /// The exact Shapley value of every matrix tool over the matrix's cost function, beside its fixed-order marginal;
    /// <see langword="null"/> when the task has no token receipts or a row's cost is unknown.
    /// </summary>
    public static ShapleyAudit? Shapley(TaskRecords task, ToolOrder order, SavingsPricer pricer, IReadOnlyCollection<string>? chosen)
    {
        var tools = MatrixTools(task, order, chosen);
        if (tools.Count == 0)
        {
            return null;
        }

        var function = new CostFunction(task, tools, pricer, out _);
        var values = function.EvaluateAll();
        var costs = new decimal[values.Length];
        for (var mask = 0; mask < values.Length; mask++)
        {
            if (values[mask].CostUsd is not { } cost)
            {
                return null;
            }

            costs[mask] = cost;
        }

        return new ShapleyAudit(ShapleyValues.Compute(tools, costs), costs[0] - costs[function.AllOn]);
    }

    private sealed class RowBuilder(string tool, SavingsUnit unit)
    {
        private int _receipts;
        private decimal _raw;
        private decimal _actual;
        private SavingsMethod _method = SavingsMethod.Measured;
        private double _confidence = 1.0;
        private decimal _usd;
        private int _priced;
        private int _unpriced;

        public string Tool => tool;

        public SavingsUnit Unit => unit;

        public void Add(SavingsReceipt receipt, PricedSaving priced)
        {
            _receipts++;
            _raw += receipt.RawAlternative;
            _actual += receipt.Actual;
            _method = Evidence.Worst(_method, receipt.Method);
            _confidence = Math.Min(_confidence, receipt.Confidence);
            if (priced.Usd is { } usd)
            {
                _usd += usd;
                _priced++;
            }

            if (priced.Unpriced)
            {
                _unpriced++;
            }
        }

        public ToolSavings Build() => new()
        {
            Tool = tool,
            Unit = unit,
            Receipts = _receipts,
            RawAlternative = _raw,
            Actual = _actual,
            Saved = _raw - _actual,
            Method = _method,
            Confidence = _confidence,
            SavedUsd = _priced > 0 ? _usd : null,
            UnpricedReceipts = _unpriced,
        };
    }
}
