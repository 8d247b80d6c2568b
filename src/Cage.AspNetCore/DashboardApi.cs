using System.Globalization;
using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Ledger;
using CageNet.Views;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CageNet.AspNetCore;

/// <summary>
/// The dashboard's JSON endpoints. The views the CLI has return <see cref="CageViews"/>' JSON, byte for byte what
/// <c>cage … --json</c> prints for the same arguments; the time series and the recent calls are the dashboard's own.
/// Bad arguments are a 400 with <c>{"error": "…"}</c> naming the parameter, never an empty answer.
/// </summary>
internal sealed class DashboardApi(ILedgerReader ledger, IAttributionService attribution, TimeProvider time, BudgetGuard? guard, CageDashboardOptions options)
{
    private const string JsonType = "application/json; charset=utf-8";

    private readonly Lazy<BudgetGuard> _noBudgets = new(() => new BudgetGuard(new BudgetOptions(), time) { ReadOnly = true });

    public DashboardQueries Queries { get; } = new(ledger, time);

    public void Map(RouteGroupBuilder api)
    {
        api.MapGet("/report", (HttpRequest r, CancellationToken ct) => Run(() => ReportAsync(r, ct)));
        api.MapGet("/attrib", (HttpRequest r, CancellationToken ct) => Run(async () =>
            CageViews.Json(await attribution.AttributeAsync(Text(r, "task"), Flag(r, "shapley"), ct).ConfigureAwait(false))));
        api.MapGet("/matrix", (HttpRequest r, CancellationToken ct) => Run(async () =>
            CageViews.Json(await attribution.MatrixAsync(Text(r, "task"), Tools(r), ct).ConfigureAwait(false))));
        api.MapGet("/roi", (HttpRequest r, CancellationToken ct) => Run(async () =>
            CageViews.Json(await attribution.RoiAsync(Window(r, "since", null), ct).ConfigureAwait(false), Text(r, "since"))));
        api.MapGet("/forecast", (HttpRequest r, CancellationToken ct) => Run(async () =>
        {
            var query = new ForecastQuery { RunRateWindow = Span(r, "since", "7d"), MonthlyBudgetUsd = options.MonthlyBudgetUsd };
            return CageViews.Json(await attribution.ForecastAsync(query, ct).ConfigureAwait(false));
        }));
        api.MapGet("/budget", (CancellationToken ct) => Run(() => BudgetAsync(ct)));
        api.MapGet("/why/{id}", (string id, CancellationToken ct) => Run(async () =>
        {
            var call = await ledger.FindCallAsync(id, ct).ConfigureAwait(false)
                ?? throw new NotFoundException($"no call with id '{id}' in the ledger");
            return CageViews.Json(call, await ledger.ReceiptsForCallAsync(id, ct).ConfigureAwait(false));
        }));
        api.MapGet("/calls", (HttpRequest r, CancellationToken ct) => Run(async () =>
            DashboardJson.Calls(await Queries.RecentCallsAsync(Limit(r), ct).ConfigureAwait(false))));
        api.MapGet("/series", (HttpRequest r, CancellationToken ct) => Run(async () =>
        {
            var bucket = Text(r, "bucket") ?? "day";
            if (bucket is not ("hour" or "day"))
            {
                throw new BadRequestException($"bucket '{bucket}': use hour or day");
            }

            var by = Dimension(r, "by", "model");
            var series = await Queries.SeriesAsync(bucket == "hour", by, Window(r, "since", "until"), ct).ConfigureAwait(false);
            return DashboardJson.Series(series);
        }));
        api.MapGet("/events", (HttpContext http) => EventsAsync(http));
    }

    private async Task<string> ReportAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var by = Dimension(request, "by", "route");
        var window = Window(request, "since", "until");
        if (Top(request) is { } top)
        {
            // A page of the groups (the Breakdown page reads 100 at a time; a ledger can hold 20,000 tasks), with the
            // total of all of them.
            var offset = Offset(request);
            var (shown, count) = await Queries.ReportTopAsync(by, window, top, offset, cancellationToken).ConfigureAwait(false);
            return ReportView.Json(shown, top: top, offset: offset, omitted: count - shown.Groups.Count);
        }

        if (Text(request, "offset") is { } orphan)
        {
            throw new BadRequestException($"offset '{orphan}' pages the groups: give top too (top=100&offset={orphan})");
        }

        // Unpaged, the CLI's `--json` shape, while the dimension has at most MaxUnpaged groups in the window; past that
        // (20,000 tasks are 7.6 MB), the first page of MaxTop, so no request serialises every group of a large ledger.
        if (ledger is SqliteLedger)
        {
            // SQLite ranks the first page without summing every group: a large dimension costs one page, not a listing.
            var (first, groups) = await Queries.ReportTopAsync(by, window, MaxTop, 0, cancellationToken).ConfigureAwait(false);
            if (groups > MaxUnpaged)
            {
                return ReportView.Json(first, top: MaxTop, offset: 0, omitted: groups - first.Groups.Count);
            }
        }

        var report = await ledger.ReportAsync(new ReportQuery(by, window), cancellationToken).ConfigureAwait(false);
        return report.Groups.Count > MaxUnpaged
            ? ReportView.Json(report with { Groups = [.. report.Groups.Take(MaxTop)] }, top: MaxTop, offset: 0, omitted: report.Groups.Count - MaxTop)
            : CageViews.Json(report);
    }

    /// <summary>The most groups a report without <c>top</c> lists in full; with more, it answers with the first page of <see cref="MaxTop"/>.</summary>
    public const int MaxUnpaged = 1_000;

    /// <summary>The most groups one page of a report may hold: a page of tasks stays well under 50 ms at 1M calls.</summary>
    public const int MaxTop = 250;

    private static int? Top(HttpRequest request)
    {
        var text = Text(request, "top");
        if (text is null)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var top) && top is >= 1 and <= MaxTop
            ? top
            : throw new BadRequestException($"top '{text}': give a whole number from 1 to {MaxTop} (page through more with offset)");
    }

    private static int Offset(HttpRequest request)
    {
        var text = Text(request, "offset");
        if (text is null)
        {
            return 0;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : throw new BadRequestException($"offset '{text}': give a whole number of groups to skip (0 or more)");
    }

    private async Task<string> BudgetAsync(CancellationToken cancellationToken)
    {
        if (options.BudgetJson is { } fromFile)
        {
            return await fromFile(cancellationToken).ConfigureAwait(false);
        }

        // No guard registered: the status of an empty tree, as cage budget --json prints it for a policy without budgets.
        var budgets = guard ?? _noBudgets.Value;
        var scope = new BudgetScope();
        return CageViews.Json(budgets.GetStatus(scope), budgets.Options, budgets.TimeZone, budgets.Tree(scope));
    }

    /// <summary>
    /// Server-sent events: <c>event: ledger</c> with the ledger's call count and spend whenever they change (and once
    /// at the start), checked every <see cref="CageDashboardOptions.RefreshInterval"/>; a comment line keeps idle
    /// connections open through proxies.
    /// </summary>
    private async Task EventsAsync(HttpContext http)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        // Ends with the page, or when the host stops (a long-lived stream must not hold up its shutdown).
        var stopping = http.RequestServices.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        var cancellationToken = linked.Token;
        (long Calls, decimal Usd)? last = null;
        var idle = 0;
        try
        {
            await response.WriteAsync("retry: 2000\n\n", cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                var stamp = await Queries.StampAsync(cancellationToken).ConfigureAwait(false);
                if (stamp != last)
                {
                    last = stamp;
                    idle = 0;
                    var data = string.Create(CultureInfo.InvariantCulture, $"{{\"calls\":{stamp.Calls},\"usd\":{JsonOutput.Normalize(stamp.Usd)}}}");
                    await response.WriteAsync($"event: ledger\ndata: {data}\n\n", cancellationToken).ConfigureAwait(false);
                }
                else if (++idle * options.RefreshInterval >= TimeSpan.FromSeconds(15))
                {
                    idle = 0;
                    await response.WriteAsync(": idle\n\n", cancellationToken).ConfigureAwait(false);
                }

                await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(options.RefreshInterval, time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The page went away.
        }
    }

    private static async Task<IResult> Run(Func<Task<string>> body)
    {
        try
        {
            return Results.Text(await body().ConfigureAwait(false), JsonType);
        }
        catch (Exception ex) when (ex is BadRequestException or AttributionException or FormatException)
        {
            return Error(StatusCodes.Status400BadRequest, ex.Message);
        }
        catch (NotFoundException ex)
        {
            return Error(StatusCodes.Status404NotFound, ex.Message);
        }
    }

    private static IResult Error(int status, string message) => Results.Text(JsonOutput.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("error", message);
        w.WriteEndObject();
    }), JsonType, statusCode: status);

    private static string? Text(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var values) && values.Count > 0 && !string.IsNullOrWhiteSpace(values[^1]) ? values[^1]!.Trim() : null;

    private static bool Flag(HttpRequest request, string name) => Text(request, name) switch
    {
        null or "false" or "0" => false,
        "true" or "1" => true,
        var other => throw new BadRequestException($"{name} '{other}': use true or false"),
    };

    private static string[]? Tools(HttpRequest request)
    {
        if (Text(request, "tools") is not { } text)
        {
            return null;
        }

        var tools = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return tools.Length > 0 ? tools : throw new BadRequestException("tools: name at least one tool, e.g. tools=graphify,fux");
    }

    private static ReportDimension Dimension(HttpRequest request, string name, string fallback)
    {
        var text = Text(request, name) ?? fallback;
        return CageViews.Dimensions.TryGetValue(text, out var dimension)
            ? dimension
            : throw new BadRequestException($"{name} '{text}': use one of {string.Join(", ", CageViews.Dimensions.Keys)}");
    }

    private TimeWindow Window(HttpRequest request, string since, string? until)
    {
        try
        {
            return TimeWindow.Parse(Text(request, since), until is null ? null : Text(request, until), time);
        }
        catch (FormatException ex)
        {
            throw new BadRequestException($"{since}/{until}: {ex.Message}");
        }
    }

    /// <summary>A relative span (<c>7d</c>) as a duration, as <c>cage forecast --since</c> takes it.</summary>
    private TimeSpan Span(HttpRequest request, string name, string fallback)
    {
        var text = Text(request, name) ?? fallback;
        if (!char.IsAsciiDigit(text[0]) || !char.IsAsciiLetter(text[^1]))
        {
            throw new BadRequestException($"{name} '{text}' is not a span: use 30m, 12h, 7d or 2w");
        }

        var window = TimeWindow.Parse(text, null, time);
        return time.GetUtcNow() - window.Since!.Value;
    }

    private static int Limit(HttpRequest request)
    {
        var text = Text(request, "limit");
        if (text is null)
        {
            return 50;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= 1000
            ? limit
            : throw new BadRequestException($"limit '{text}': give a whole number from 1 to 1000");
    }

    private sealed class BadRequestException(string message) : Exception(message);

    private sealed class NotFoundException(string message) : Exception(message);
}
