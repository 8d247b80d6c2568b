using CageNet.Ledger;

namespace CageNet.AspNetCore.Tests;

/// <summary>
/// The ledger the dashboard tests read: <c>cage demo</c>'s worked example (one call of task fix-handover-bug, three
/// receipts, the 72% matrix) plus two weeks of calls without a task over four models, routes and agents, one of them a model named
/// <see cref="Canary"/> (an XSS canary: it must show as text).
/// </summary>
internal static class DashboardLedger
{
    public const string Canary = "<script>alert(1)</script>";

    public const string CanaryRoute = "<img src=x onerror=alert(2)>";

    private static readonly (string Provider, string Model)[] Models = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4o-mini"), ("evil", Canary)];
    private static readonly string[] Routes = ["chat", "search", "summarize", CanaryRoute];
    private static readonly string[] Agents = ["claude-code", "codex", "support-bot"];
    private static readonly string[] Users = ["alice", "bob"];

    /// <summary>The day the generated calls end (the worked example's day).</summary>
    public static readonly DateTimeOffset End = new(2026, 6, 20, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Creates the workspace in <paramref name="folder"/>: runs the real <c>cage demo</c>, then appends the calls.</summary>
    public static async Task<string> CreateAsync(string folder)
    {
        await CageProcess.OutputAsync(folder, "demo");
        var path = Path.Combine(folder, ".cage", "ledger.db");
        var calls = new List<CallRecord>();
        for (var i = 0; i < 14 * 12; i++)
        {
            var (provider, model) = Models[i % Models.Length];
            var at = End.AddHours(-2 * i - 1);
            calls.Add(Call($"c_dash{i:D6}", at, provider, model, Routes[(i / 2) % Routes.Length], Agents[i % Agents.Length], Users[i % Users.Length],
                0.0125m * (1 + (i % 7)) + (model == "gpt-4o-mini" ? 0.0003m : 0.04m)));
        }

        await AppendAsync(path, calls);
        return path;
    }

    /// <summary>A call with its cost as the provider reported it (a <see langword="null"/> cost makes it unpriced), of <paramref name="task"/> if given.</summary>
    public static CallRecord Call(string id, DateTimeOffset at, string provider, string model, string? route, string agent, string user, decimal? cost, string? task = null) => new()
    {
        Id = id,
        Task = task,
        Timestamp = at,
        Session = "s-" + user,
        Agent = agent,
        Route = route,
        User = user,
        Provider = provider,
        Model = model,
        Usage = new TokenUsage(Input: 1_000 + (long)((cost ?? 0m) * 100_000), Output: 200),
        CostUsd = cost,
        CostSource = cost is null ? CostSource.Unpriced : CostSource.Provider,
        UsageStatus = UsageStatus.Reported,
        LatencyMs = 420,
    };

    /// <summary>Writes calls into the ledger file through a connection of this process (as another metering process would).</summary>
    public static async Task AppendAsync(string path, IReadOnlyList<CallRecord> calls)
    {
        var ledger = SqliteLedger.Open(path);
        await using (ledger)
        {
            await ledger.AppendAsync(new LedgerBatch(calls, []));
        }
    }
}
