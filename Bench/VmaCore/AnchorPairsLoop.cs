using System;
using System.Diagnostics;
using System.Globalization;

namespace Bench.VmaCore;

/// <summary>
/// A plain loop over one of <see cref="KernelAnchorBenchmarks"/>' operations, for profilers (<c>perf record</c> with
/// <c>DOTNET_PerfMapEnabled=1</c>) and quick before/after checks, without BenchmarkDotNet's child processes:
/// <c>dotnet run -c Release --project Bench -- --anchor-loop OPERATION VMAS SECONDS</c>, OPERATION one of
/// <c>b</c> (map next to a VMA + munmap), <c>c</c> (mprotect split + merge), <c>d</c> (munmap middle + re-map),
/// <c>a1</c>, <c>a2</c> (lookups). After a second of warmup, prints the median and the minimum time per operation
/// over rounds of a few batches. <c>--anchor-count OPERATION VMAS BATCHES</c> runs exactly BATCHES batches after the
/// setup, untimed, for instruction counts under a simulator (<c>valgrind --tool=callgrind</c>, with
/// <c>DOTNET_TieredCompilation=0</c> so that no code is recompiled meanwhile): the difference between two counts
/// divided by the difference in pairs is the instructions per pair, setup and runtime start cancelling out.
/// </summary>
internal static class AnchorPairsLoop
{
    /// <summary>Batches per timed round.</summary>
    private const int RoundBatches = 4;

    /// <summary>How long the operation runs untimed before the rounds.</summary>
    private static readonly TimeSpan WarmupTime = TimeSpan.FromSeconds(1);

    /// <summary>Runs the loop with the arguments that follow <c>--anchor-loop</c>.</summary>
    public static void Run(string operation, string vmas, string seconds)
    {
        var benchmarks = new KernelAnchorBenchmarks { Vmas = int.Parse(vmas, CultureInfo.InvariantCulture) };
        Action batch = BatchOf(operation, benchmarks);
        benchmarks.SetUp();

        // Untimed first: tiered compilation installs the final code only after call counting and a background compile.
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < WarmupTime)
        {
            batch();
        }

        var rounds = new System.Collections.Generic.List<double>();
        var total = Stopwatch.StartNew();
        TimeSpan duration = TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture));
        while (total.Elapsed < duration)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < RoundBatches; i++)
            {
                batch();
            }

            rounds.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / ((double)RoundBatches * KernelAnchorBenchmarks.Batch));
        }

        benchmarks.CleanUp();
        rounds.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{operation} at {benchmarks.Vmas} VMAs: {rounds.Count} rounds, median {rounds[rounds.Count / 2]:F1} ns, min {rounds[0]:F1} ns per operation"));
    }

    /// <summary>Runs exactly <paramref name="batches"/> batches of the operation, untimed (the arguments of <c>--anchor-count</c>).</summary>
    public static void Count(string operation, string vmas, string batches)
    {
        var benchmarks = new KernelAnchorBenchmarks { Vmas = int.Parse(vmas, CultureInfo.InvariantCulture) };
        Action batch = BatchOf(operation, benchmarks);
        benchmarks.SetUp();
        int count = int.Parse(batches, CultureInfo.InvariantCulture);
        for (int i = 0; i < count; i++)
        {
            batch();
        }

        benchmarks.CleanUp();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{operation} at {benchmarks.Vmas} VMAs: {count} batches of {KernelAnchorBenchmarks.Batch} operations"));
    }

    /// <summary>The batch method of an operation's name.</summary>
    private static Action BatchOf(string operation, KernelAnchorBenchmarks benchmarks) => operation switch
    {
        "a1" => () => benchmarks.VmaLookup(),
        "a2" => () => benchmarks.FindVma(),
        "b" => benchmarks.MapMergePrevMunmap,
        "c" => benchmarks.MprotectSplitMerge,
        "d" => benchmarks.MunmapMiddleRemap,
        _ => throw new ArgumentException($"unknown operation '{operation}' (a1, a2, b, c or d)", nameof(operation)),
    };
}
