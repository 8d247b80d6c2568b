using BenchmarkDotNet.Running;
using CageNet.Benchmarks;

// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- scale [--calls N] [--dir PATH]
// dotnet run -c Release --project benchmarks/Cage.Benchmarks -- [BenchmarkDotNet arguments, e.g. --filter *Meter*]
if (args.Length > 0 && args[0] == "scale")
{
    return await LedgerScale.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(MeterBenchmarks).Assembly).Run(args);
return 0;
