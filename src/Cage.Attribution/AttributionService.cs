using System.Globalization;
using CageNet.Configuration;
using CageNet.Ledger;
using CageNet.Pricing;

namespace CageNet.Attribution;

/// <summary>The attribution views over one ledger, price catalog and tool order.</summary>
public sealed class AttributionService : IAttributionService
{
    private readonly ILedgerReader _ledger;
    private readonly SavingsPricer _pricer;
    private readonly ToolOrder _order;
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="ledger">The ledger to read.</param>
    /// <param name="catalog">The prices token savings and counterfactual calls are priced with.</param>
    /// <param name="toolsOrder">The canonical tool order (the policy's <c>tools.order</c>); other tools follow by name.</param>
    /// <param name="time">The clock (windows such as "the last 7 days" end now). Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ledger"/>, <paramref name="catalog"/> or <paramref name="toolsOrder"/> is <see langword="null"/>.</exception>
    public AttributionService(ILedgerReader ledger, PriceCatalog catalog, IEnumerable<string> toolsOrder, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(toolsOrder);
        _ledger = ledger;
        _pricer = new SavingsPricer(catalog);
        _order = new ToolOrder([.. toolsOrder]);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Creates the service from Cage's options (their <see cref="ToolsOptions.Order"/>).</summary>
    /// <param name="ledger">The ledger to read.</param>
    /// <param name="catalog">The price catalog.</param>
    /// <param name="options">Cage's options.</param>
    /// <param name="time">The clock.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public AttributionService(ILedgerReader ledger, PriceCatalog catalog, CageOptions options, TimeProvider time)
        : this(ledger, catalog, options?.Tools.Order ?? throw new ArgumentNullException(nameof(options)), time)
    {
    }

    /// <inheritdoc />
    public async ValueTask<TaskAttribution?> AttributeAsync(string? task = null, bool shapley = false, CancellationToken cancellationToken = default)
    {
        var records = await LoadTaskAsync(task, cancellationToken).ConfigureAwait(false);
        return records is null ? null : TaskViews.Attribute(records, _order, _pricer, shapley);
    }

    /// <inheritdoc />
    public async ValueTask<CounterfactualMatrix?> MatrixAsync(string? task = null, IReadOnlyCollection<string>? tools = null, CancellationToken cancellationToken = default)
    {
        var records = await LoadTaskAsync(task, cancellationToken).ConfigureAwait(false);
        return records is null ? null : TaskViews.Matrix(records, _order, _pricer, tools);
    }

    /// <inheritdoc />
    public async ValueTask<RoiReport> RoiAsync(TimeWindow? window = null, CancellationToken cancellationToken = default)
    {
        window ??= TimeWindow.All;
        var tallies = new Dictionary<string, ToolTally>(StringComparer.Ordinal);
        await foreach (var scanned in new LedgerScan(_ledger, _pricer).ReceiptsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            if (!tallies.TryGetValue(scanned.Total.Tool, out var tally))
            {
                tally = new ToolTally(scanned.Total.Tool);
                tallies[scanned.Total.Tool] = tally;
            }

            tally.Add(scanned);
        }

        var rows = tallies.Values.Select(t => t.ToRoi())
            .OrderBy(r => r.NetUsd is null ? 1 : 0)
            .ThenByDescending(r => r.NetUsd ?? 0m)
            .ThenBy(r => r.Tool, _order)
            .ToList();
        return new RoiReport(window, rows);
    }

    /// <inheritdoc />
    public async ValueTask<RecommendationReport> RecommendAsync(string? route = null, TimeWindow? window = null, CancellationToken cancellationToken = default)
    {
        window ??= TimeWindow.All;
        var routes = new Dictionary<string, RouteTally>(StringComparer.Ordinal);
        RouteTally Route(string? name)
        {
            var key = string.IsNullOrEmpty(name) ? SpendReport.NoneKey : name;
            if (!routes.TryGetValue(key, out var tally))
            {
                tally = new RouteTally(key);
                routes[key] = tally;
            }

            return tally;
        }

        var counter = _ledger as IRouteTaskCounts;
        if (counter is not null)
        {
            // Spend per route from the report by route; the tasks per route are counted by the ledger itself below.
            var byRoute = await _ledger.ReportAsync(new ReportQuery(ReportDimension.Route, window), cancellationToken).ConfigureAwait(false);
            foreach (var group in byRoute.Groups)
            {
                Route(group.Key).AddSpend(group.Totals);
            }
        }
        else
        {
            // Spend and tasks per route from the route × task pairs.
            var pairs = await _ledger.ReportPairsAsync(new ReportQuery(ReportDimension.Route, window), ReportDimension.Task, cancellationToken).ConfigureAwait(false);
            foreach (var group in pairs.Groups)
            {
                var at = group.Key.IndexOf(SpendReport.PairSeparator, StringComparison.Ordinal);
                var tally = Route(group.Key[..at]);
                tally.AddSpend(group.Totals);
                if (group.Key[(at + 1)..] is var task && task != SpendReport.NoneKey)
                {
                    tally.Tasks.Add(task);
                }
            }
        }

        await foreach (var scanned in new LedgerScan(_ledger, _pricer).ReceiptsAsync(window, cancellationToken).ConfigureAwait(false))
        {
            Route(scanned.Route).Add(scanned);
        }

        var wanted = routes.Values.Where(r => route is null || string.Equals(r.Name, route, StringComparison.Ordinal)).ToList();
        IReadOnlyDictionary<string, TaskOutcome> outcomes;
        if (counter is not null)
        {
            // The tasks of each route's calls, and those of its receipts (already in Tasks), counted by the ledger.
            var counts = await counter.CountRouteTasksAsync(window, [.. wanted.Select(r => r.Name)], wanted.ToDictionary(r => r.Name, r => r.Tasks, StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
            foreach (var tally in wanted)
            {
                tally.Counted = counts[tally.Name];
            }

            outcomes = new Dictionary<string, TaskOutcome>(StringComparer.Ordinal);
        }
        else
        {
            outcomes = (await _ledger.ReadOutcomesAsync(cancellationToken).ConfigureAwait(false))
                .ToDictionary(o => o.Task, o => o.Outcome, StringComparer.Ordinal);
        }

        var result = wanted
            .Select(r => r.Recommend(outcomes, _order))
            .OrderByDescending(r => r.CurrentCostUsd)
            .ThenBy(r => r.Route, StringComparer.Ordinal)
            .ToList();
        return new RecommendationReport(window, result);
    }

    /// <inheritdoc />
    public async ValueTask<QualityReport> QualityAsync(TimeWindow? window = null, CancellationToken cancellationToken = default)
    {
        window ??= TimeWindow.All;
        if (_ledger is ITaskQualityCounts counter)
        {
            // Summed by the ledger itself, without a group per task.
            var q = await counter.CountTaskQualityAsync(window, cancellationToken).ConfigureAwait(false);
            return new QualityReport
            {
                Window = window, TotalUsd = q.TotalUsd, Tasks = q.Tasks, Ok = q.Ok, Redo = q.Redo, Failed = q.Failed,
                UnpricedCalls = q.UnpricedCalls, IsLowerBound = q.UnpricedCalls > 0 || q.MissingUsageCalls > 0, UntaskedUsd = q.UntaskedUsd,
            };
        }

        var report = await _ledger.ReportAsync(new ReportQuery(ReportDimension.Task, window), cancellationToken).ConfigureAwait(false);
        var outcomes = (await _ledger.ReadOutcomesAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(o => o.Task, o => o.Outcome, StringComparer.Ordinal);
        decimal total = 0, untasked = 0;
        long unpriced = 0;
        var lowerBound = false;
        int tasks = 0, ok = 0, redo = 0, failed = 0;
        foreach (var group in report.Groups)
        {
            if (group.Key == SpendReport.NoneKey)
            {
                untasked += group.Totals.CostUsd;
                continue;
            }

            tasks++;
            total += group.Totals.CostUsd;
            unpriced += group.Totals.UnpricedCalls;
            lowerBound |= group.Totals.IsLowerBound;
            if (outcomes.TryGetValue(group.Key, out var outcome))
            {
                switch (outcome)
                {
                    case TaskOutcome.Ok: ok++; break;
                    case TaskOutcome.Redo: redo++; break;
                    case TaskOutcome.Failed: failed++; break;
                }
            }
        }

        return new QualityReport
        {
            Window = window, TotalUsd = total, Tasks = tasks, Ok = ok, Redo = redo, Failed = failed,
            UnpricedCalls = unpriced, IsLowerBound = lowerBound, UntaskedUsd = untasked,
        };
    }

    /// <inheritdoc />
    public async ValueTask<RegressionReport> RegressionAsync(RegressionQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new RegressionQuery();
        if (query.Recent <= TimeSpan.Zero || query.Baseline <= TimeSpan.Zero)
        {
            throw new AttributionException("regression: the recent window and the baseline must be longer than zero.");
        }

        if (query.By is { } by && by is not (ReportDimension.Route or ReportDimension.Model))
        {
            throw new AttributionException($"regression: --by takes route or model, not {by.ToString().ToLowerInvariant()}.");
        }

        var now = _time.GetUtcNow();
        var recentSince = now - query.Recent;
        var baselineSince = recentSince - query.Baseline;
        var recentWindow = new TimeWindow(recentSince, now);
        var baselineWindow = new TimeWindow(baselineSince, recentSince);
        var groups = await RegressionAnalysis.CompareAsync(_ledger, query, recentWindow, baselineWindow, cancellationToken).ConfigureAwait(false);
        return new RegressionReport(query, recentSince, baselineSince, groups);
    }

    /// <inheritdoc />
    public async ValueTask<SpendForecast> ForecastAsync(ForecastQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new ForecastQuery();
        if (query.RunRateWindow <= TimeSpan.Zero)
        {
            throw new AttributionException("forecast: the run-rate window must be longer than zero.");
        }

        var now = _time.GetUtcNow();
        var local = TimeZoneInfo.ConvertTime(now, query.TimeZone);
        var monthStart = ZoneStart(query.TimeZone, new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified));
        var next = new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified).AddMonths(1);
        var monthEnd = ZoneStart(query.TimeZone, next);

        var monthToDate = await _ledger.ReportAsync(new ReportQuery(ReportDimension.Day, new TimeWindow(monthStart, now)), cancellationToken).ConfigureAwait(false);

        // The run-rate window starts at the first call when the ledger is younger than the window.
        var since = now - query.RunRateWindow;
        DateTimeOffset? first = null;
        await foreach (var call in _ledger.ReadCallsAsync(new TimeWindow(since, now), cancellationToken).ConfigureAwait(false))
        {
            first = call.Timestamp;
            break;
        }

        var rateReport = await _ledger.ReportAsync(new ReportQuery(ReportDimension.Day, new TimeWindow(since, now)), cancellationToken).ConfigureAwait(false);
        var span = first is { } f ? now - f : TimeSpan.Zero;
        var days = Math.Max(1m, Math.Ceiling((decimal)span.TotalDays));
        days = Math.Min(days, Math.Max(1m, Math.Ceiling((decimal)query.RunRateWindow.TotalDays)));
        var perDay = rateReport.Total.CostUsd / days;
        var daysLeft = Math.Max(0m, (decimal)(monthEnd - now).TotalDays);
        var projected = monthToDate.Total.CostUsd + (perDay * daysLeft);

        DateOnly? blowsOn = null;
        if (query.MonthlyBudgetUsd is { } budget && projected > budget)
        {
            var at = monthToDate.Total.CostUsd >= budget || perDay == 0
                ? now
                : now + TimeSpan.FromDays((double)((budget - monthToDate.Total.CostUsd) / perDay));
            blowsOn = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, query.TimeZone).DateTime);
        }

        return new SpendForecast
        {
            MonthStart = monthStart,
            MonthEnd = monthEnd,
            MonthToDateUsd = monthToDate.Total.CostUsd,
            RunRateDays = days,
            RunRateSpendUsd = rateReport.Total.CostUsd,
            PerDayUsd = perDay,
            DaysLeft = daysLeft,
            ProjectedMonthUsd = projected,
            MonthlyBudgetUsd = query.MonthlyBudgetUsd,
            BlowsOn = blowsOn,
            UnpricedCalls = rateReport.Total.UnpricedCalls,
            IsLowerBound = monthToDate.Total.IsLowerBound || rateReport.Total.IsLowerBound,
        };
    }

    /// <summary>The instant a local wall-clock time starts in a zone (a time skipped by a DST change moves to the change).</summary>
    private static DateTimeOffset ZoneStart(TimeZoneInfo zone, DateTime local)
    {
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).ToUniversalTime();
    }

    private async ValueTask<TaskRecords?> LoadTaskAsync(string? task, CancellationToken cancellationToken)
    {
        task ??= await _ledger.LatestTaskAsync(cancellationToken).ConfigureAwait(false);
        return task is null ? null : await TaskRecords.LoadAsync(_ledger, task, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One route's spend, tasks and tools, for <c>recommend</c>.</summary>
    private sealed class RouteTally(string name)
    {
        private readonly Dictionary<string, ToolTally> _tools = new(StringComparer.Ordinal);

        public string Name => name;

        public decimal Spend { get; private set; }

        public long UnpricedCalls { get; private set; }

        public bool LowerBound { get; private set; }

        /// <summary>The route's tasks: all of them, or (when <see cref="Counted"/> is set) only those of its receipts.</summary>
        public HashSet<string> Tasks { get; } = new(StringComparer.Ordinal);

        /// <summary>The route's tasks as the ledger counted them, receipts' tasks included; null when <see cref="Tasks"/> holds them all.</summary>
        public RouteTaskCount? Counted { get; set; }

        public void AddSpend(SpendTotals totals)
        {
            Spend += totals.CostUsd;
            UnpricedCalls += totals.UnpricedCalls;
            LowerBound |= totals.IsLowerBound;
        }

        public void Add(in ScannedReceipts scanned)
        {
            if (!_tools.TryGetValue(scanned.Total.Tool, out var tally))
            {
                tally = new ToolTally(scanned.Total.Tool);
                _tools[scanned.Total.Tool] = tally;
            }

            tally.Add(scanned);
            if (!string.IsNullOrEmpty(scanned.Task))
            {
                Tasks.Add(scanned.Task);
            }
        }

        public RouteRecommendation Recommend(IReadOnlyDictionary<string, TaskOutcome> outcomes, ToolOrder order)
        {
            var verdicts = _tools.Values.Select(Judge).ToList();
            var ownCosts = verdicts.Sum(v => v.OwnCostUsd);
            // The spend at its shortest scale: summed per route or per route × task, the same amount (so the same report
            // either way, to the trailing zero).
            var current = (Spend / 1.000000000000000000000000000000000m) + ownCosts;

            // Switching a tool off undoes its saving (the input it spared comes back) and its own cost: the total moves by its net.
            var recommended = current + verdicts.Where(v => v.Verdict == Verdict.Skip).Sum(v => v.NetUsd ?? 0m);
            var (tasks, labelled, ok) = Counted is { } counted
                ? (counted.Tasks, counted.Labelled, counted.Ok)
                : (Tasks.Count, Tasks.Count(t => outcomes.ContainsKey(t)), Tasks.Count(t => outcomes.TryGetValue(t, out var o) && o == TaskOutcome.Ok));
            var divisor = labelled > 0 ? ok : tasks;
            return new RouteRecommendation
            {
                Route = name,
                Tasks = tasks,
                SuccessfulTasks = ok,
                CurrentCostUsd = current,
                RecommendedCostUsd = recommended,
                UnpricedCalls = UnpricedCalls,
                IsLowerBound = LowerBound,
                CurrentPerSuccessUsd = divisor > 0 ? current / divisor : null,
                RecommendedPerSuccessUsd = divisor > 0 ? recommended / divisor : null,
                QualityAdjusted = labelled > 0,
                Tools = verdicts
                    .OrderBy(v => v.Verdict)
                    .ThenByDescending(v => v.NetUsd ?? decimal.MinValue)
                    .ThenBy(v => v.Tool, order)
                    .ToList(),
            };
        }

        private static ToolVerdict Judge(ToolTally tally)
        {
            var saved = tally.SavedUsd;
            decimal? net = saved is { } s ? s - tally.OwnCost : (tally.OwnCost != 0 ? -tally.OwnCost : null);
            var verdict = net switch
            {
                null => Verdict.NoEvidence,
                > 0 => Verdict.Enable,
                _ when saved is null => Verdict.NoEvidence,
                _ => Verdict.Skip,
            };

            var words = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"{tally.Receipts} {tally.Method.ToWire()} receipt{(tally.Receipts == 1 ? "" : "s")}"),
            };
            if (tally.Eliminated > 0)
            {
                words.Add(string.Create(CultureInfo.InvariantCulture, $"{tally.Eliminated} call{(tally.Eliminated == 1 ? "" : "s")} eliminated"));
            }

            if (saved is { } sv)
            {
                words.Add(sv < 0 ? "made prompts bigger" : string.Create(CultureInfo.InvariantCulture, $"saved ${sv:0.0000}"));
            }

            if (tally.OwnCost != 0)
            {
                words.Add(string.Create(CultureInfo.InvariantCulture, $"costs ${tally.OwnCost:0.0000} to run"));
            }

            if (tally.Unpriced > 0)
            {
                words.Add(string.Create(CultureInfo.InvariantCulture, $"{tally.Unpriced} unpriced"));
            }

            return new ToolVerdict
            {
                Tool = tally.Tool,
                Verdict = verdict,
                SavedUsd = saved,
                OwnCostUsd = tally.OwnCost,
                NetUsd = net,
                Receipts = tally.Receipts,
                EliminatedCalls = tally.Eliminated,
                Method = tally.Method,
                Evidence = string.Join("; ", words),
            };
        }
    }
}
