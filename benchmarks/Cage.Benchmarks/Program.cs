using BenchmarkDotNet.Running;
using CageNet.Benchmarks;

// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- scale [--calls N] [--dir PATH]
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- dashboard [--calls N] [--dir PATH]  (dashboard endpoints and first paint)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- meterloop [seconds]   (a plain loop for perf profiling)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- proxy [requests]  (cage proxy vs a direct connection)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- baselines [--calls N]  (each target as a ratio to a bare baseline)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- postgres [--calls N] [--connection CS] [--phases ingest,report,budgets,processes] [--seconds S]  (the PostgreSQL ledger and shared budgets)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- budgets [--calls N] [--dir PATH]  (budget guard start-up: rollup vs replay)
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- [BenchmarkDotNet arguments, e.g. --filter *Meter*]
if (args.Length > 0 && args[0] == "meterloop")
{
    return MeterLoop.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "proxy")
{
    return await ProxyLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "baselines")
{
    return await Baselines.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "postgres-worker")
{
    return await PostgresScale.WorkerAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "postgres")
{
    return await PostgresScale.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "dashboard")
{
    return await DashboardLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "budgets")
{
    return await BudgetStartup.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "scale")
{
    return await LedgerScale.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(MeterBenchmarks).Assembly).Run(args);
return 0;
