// An ASP.NET Core minimal host that registers Cage through DI, meters a (simulated) LLM call per request, enforces a
// per-user daily budget before the call is sent, and exposes spend and budget status.
// Run: dotnet run --project samples/Cage.Samples.AspNet --urls http://127.0.0.1:5080
using CageNet;
using CageNet.Attribution;
using CageNet.Budgets;
using CageNet.Configuration;
using CageNet.Ledger;

var builder = WebApplication.CreateBuilder(args);

// Options come from the "Cage" section of appsettings.json (the same schema as the CLI's .cage/cage.json).
builder.Services
    .AddCage(builder.Configuration.GetSection(CageOptions.SectionName))
    .AddSqliteLedger(o => o.Path = builder.Configuration["Cage:LedgerPath"])
    .AddBudgets() // the tree in Cage:Budgets: a per-user daily cap ("users/{user}"), one counter per user
    .AddAttribution(); // IAttributionService: what each tool saved, queried in-process

var app = builder.Build();

// Meter one model round-trip per request, attributed to the calling user, and reserve budget for it first: a user at
// their cap is refused before the provider is called (429 with stop_reason "budget_exceeded").
app.MapPost("/chat", async (string user, string? task, int? compressed, ICageMeter meter, BudgetGuard budgets) =>
{
    using var m = meter.Meter("chat", task: task, user: user, agent: "aspnet-sample");
    if (!budgets.TryReserve(m, estimatedUsd: 0m, estimatedTokens: 0, out _, out var refusal))
    {
        return Results.Json(new
        {
            stop_reason = refusal.StopReason,
            node = refusal.Node,
            spent = refusal.Spent,
            cap = refusal.Cap,
            resets_at = refusal.ResetsAt,
            message = refusal.Message,
        }, statusCode: StatusCodes.Status429TooManyRequests);
    }

    await Task.Delay(10); // the real provider call goes here
    // Usage settles the reservation with the priced cost (the same call is never counted twice).
    m.Usage("openai", "gpt-4o-mini", input: 1200, output: 250, requestId: "req_" + Guid.NewGuid().ToString("N"));

    // A context compressor in front of the model files a receipt for what it spared this call.
    if (compressed is > 0)
    {
        m.RecordReceipt("compressor", rawAlternative: 1200 + compressed.Value, actual: 1200, method: SavingsMethod.Measured);
    }

    return Results.Ok(new { call = m.CallId });
});

// The caller's budget, node by node: /budget?user=alice
app.MapGet("/budget", (string user, BudgetGuard budgets) =>
{
    var status = budgets.GetStatus(new BudgetScope(User: user));
    return Results.Ok(new
    {
        proceed = status.Proceed,
        nodes = status.Nodes.Select(n => new
        {
            node = n.Path,
            spent = n.Usd.Spent,
            cap = n.Usd.Cap,
            remaining = n.Usd.Remaining,
            percent = n.Usd.Percent,
            resets_at = n.ResetsAt,
        }),
    });
});

// What each tool saved on one task, priced at the model of the call each receipt points to: /savings?task=t1
app.MapGet("/savings", async (string task, IAttributionService attribution, ICageMeter meter, CancellationToken cancellationToken) =>
{
    await meter.FlushAsync(cancellationToken);
    var result = await attribution.AttributeAsync(task, shapley: false, cancellationToken);
    return Results.Ok(new
    {
        task,
        tools = result!.Tools.Select(t => new { tool = t.Tool, unit = t.Unit.ToWire(), saved = t.Saved, saved_usd = t.SavedUsd, method = t.Method.ToWire() }),
        total_saved_usd = result.TotalSavedUsd,
    });
});

// Spend by any dimension, over an optional window: /spend?by=user&since=7d
app.MapGet("/spend", async (string? by, string? since, string? until, ILedgerReader ledger, ICageMeter meter, TimeProvider time, CancellationToken cancellationToken) =>
{
    if (!Enum.TryParse<ReportDimension>(by ?? "route", ignoreCase: true, out var dimension))
    {
        return Results.BadRequest(new { error = $"unknown dimension '{by}'" });
    }

    TimeWindow window;
    try
    {
        window = TimeWindow.Parse(since, until, time);
    }
    catch (FormatException ex)
    {
        return Results.BadRequest(new { error = ex.Message });
    }

    await meter.FlushAsync(cancellationToken);
    var report = await ledger.ReportAsync(new ReportQuery(dimension, window), cancellationToken);
    return Results.Ok(new
    {
        dim = dimension.ToString().ToLowerInvariant(),
        groups = report.Groups.ToDictionary(g => g.Key, g => new { calls = g.Totals.Calls, tokens_in = g.Totals.TokensIn, tokens_out = g.Totals.TokensOut, usd = g.Totals.CostUsd }),
        total = new { calls = report.Total.Calls, usd = report.Total.CostUsd, unpriced_calls = report.Total.UnpricedCalls },
    });
});

app.Run();
