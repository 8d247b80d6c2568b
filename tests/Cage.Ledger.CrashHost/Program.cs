using System.Globalization;
using CageNet;
using CageNet.Ledger;
using CageNet.Ledger.CrashHost;

if (args.Length > 0 && args[0] == "budget")
{
    return await BudgetMode.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "pgbudget")
{
    return await PostgresBudgetMode.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "pgguard")
{
    return await PostgresGuardMode.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "estimator")
{
    return await EstimatorMode.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "meter")
{
    return await MeterMode.RunAsync(args[1..]);
}

// Usage: Cage.Ledger.CrashHost <ledger.db> <count> [batch-size]
// Appends calls c_crash_00000000 … c_crash_{count-1} in batches through SqliteLedger.AppendAsync. After each
// batch commits it prints the index of the batch's last record (the highest acknowledged index), flushed, so a
// test can kill the process at any moment and know exactly which records were acknowledged. Prints "done" at
// the end. Ids and timestamps are deterministic: running it again over the same range must add nothing.
if (args.Length < 2
    || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
    || count < 0)
{
    Console.Error.WriteLine("usage: Cage.Ledger.CrashHost <ledger.db> <count> [batch-size]");
    return 2;
}

var batchSize = args.Length > 2 ? int.Parse(args[2], NumberStyles.None, CultureInfo.InvariantCulture) : 1000;
var origin = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
var output = Console.Out;

await using var ledger = SqliteLedger.Open(args[0]);
var batch = new List<CallRecord>(batchSize);
for (var start = 0; start < count; start += batchSize)
{
    batch.Clear();
    var end = Math.Min(count, start + batchSize);
    for (var n = start; n < end; n++)
    {
        batch.Add(new CallRecord
        {
            Id = string.Create(CultureInfo.InvariantCulture, $"c_crash_{n:D8}"),
            Timestamp = origin.AddMilliseconds(n),
            Session = string.Create(CultureInfo.InvariantCulture, $"crash-{n / 1000}"),
            Task = "crash-test",
            Route = "crash",
            Provider = "anthropic",
            Model = "claude-opus-4-8",
            Usage = new TokenUsage(Input: 1000 + (n % 100), Output: 100),
            CostUsd = 0.0045m,
            CostSource = CostSource.Catalog,
            PriceKey = "anthropic/claude-opus-4-8",
        });
    }

    await ledger.AppendAsync(new LedgerBatch(batch.ToArray(), []));
    output.WriteLine((end - 1).ToString(CultureInfo.InvariantCulture));
    output.Flush();
}

output.WriteLine("done");
output.Flush();
return 0;
