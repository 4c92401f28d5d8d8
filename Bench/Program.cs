using System;
using System.Collections.Generic;
using Bench.Results;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;

namespace Bench;

/// <summary>
/// Runs the benchmarks. Without arguments: every benchmark, non-interactively, with a quick job. With arguments:
/// the standard BenchmarkDotNet command line (<c>--filter</c>, <c>--job</c>, ...). Either way it ends with the joined
/// summary of what ran and writes its CSV and charts beside the exported reports (<see cref="ResultsReport"/>).
/// <c>--charts SUMMARY.CSV</c> runs nothing: it prints that summary again and redraws its charts beside it. With
/// <c>--per-guest</c> alone: the memory and lifetime measurements of <see cref="VmaCore.PerGuestMeasurement"/> instead
/// of benchmarks; with <c>--anchor-loop</c> or <c>--anchor-count</c>, the plain loop of <see cref="VmaCore.AnchorPairsLoop"/>.
/// <c>--without meters|free-check [--launches N]</c> followed by a <c>--filter</c> runs the chosen benchmarks twice in one run, as
/// two short jobs: on the libraries as they are, and on a build of them without the meters' event sites or without
/// the slab's ownership check on the Free fast path (<see cref="WithoutJobs"/>).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["--per-guest"])
        {
            VmaCore.PerGuestMeasurement.Run();
            return;
        }

        if (args is ["--anchor-loop", string operation, string vmas, string seconds])
        {
            VmaCore.AnchorPairsLoop.Run(operation, vmas, seconds);
            return;
        }

        if (args is ["--anchor-count", string countedOperation, string countedVmas, string batches])
        {
            VmaCore.AnchorPairsLoop.Count(countedOperation, countedVmas, batches);
            return;
        }

        if (args is ["--charts", string saved])
        {
            ResultsReport.Redraw(saved);
            return;
        }

        // Ten minutes for the generated project's build instead of two: on a loaded machine the default times out.
        IConfig config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median).WithBuildTimeout(TimeSpan.FromMinutes(10));
        if (args is ["--without", string feature, .. string[] rest])
        {
            int launches = 1;
            if (rest is ["--launches", string count, .. string[] afterCount])
            {
                launches = int.Parse(count, System.Globalization.CultureInfo.InvariantCulture);
                rest = afterCount;
            }

            // One build after the other: both builds write the libraries' own output folders.
            config = config.WithOption(ConfigOptions.DisableParallelBuild, true);
            foreach (Job job in WithoutJobs(feature, launches))
            {
                config = config.AddJob(job);
            }

            args = rest;
        }

        BenchmarkSwitcher switcher = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly);
        IReadOnlyList<Summary> summaries;
        if (args.Length == 0)
        {
            // ShortRun's 3 iterations, with 100 ms iterations instead of 500 ms: the whole suite (about 80 cases,
            // some building 1M VMAs) then runs in a few minutes on two cores. Eight warmups instead of three: tiered
            // compilation installs a method's final code only after call counting, a 100 ms delay and a background
            // compile, and with 300 ms of warmup some cases were still measured on intermediate code (the RCU read
            // lock+unlock at 3 ns instead of 1.4).
            IConfig quick = config
                .AddJob(Job.ShortRun.WithIterationTime(TimeInterval.FromMilliseconds(100)).WithWarmupCount(8).WithId("Quick"))
                .WithOption(ConfigOptions.JoinSummary, false);
            summaries = [.. switcher.RunAll(quick)];
        }
        else
        {
            summaries = [.. switcher.Run(args, config)];
        }

        ResultsReport.Write(summaries);
    }

    /// <summary>
    /// The two jobs of <c>--without FEATURE</c>: the libraries as they are (<c>With</c>), and built with the measurement
    /// switch that compiles FEATURE out (<c>Without</c>; see Directory.Build.props). Both are short jobs, and
    /// BenchmarkDotNet runs each benchmark under both, one right after the other, in <paramref name="launches"/>
    /// processes each (<c>--launches N</c>): a process's code and data placement moves a nanosecond-scale case by
    /// more than the difference being measured, so a median over several processes is the fair comparison.
    /// </summary>
    private static Job[] WithoutJobs(string feature, int launches)
    {
        string property = feature switch
        {
            "meters" => "VmaEngineWithoutMeters",
            "free-check" => "VmaEngineWithoutFreeCheck",
            _ => throw new ArgumentException($"--without takes 'meters' or 'free-check', not '{feature}'.", nameof(feature)),
        };
        return
        [
            Job.ShortRun.WithLaunchCount(launches).WithId("With"),
            Job.ShortRun.WithLaunchCount(launches).WithArguments([new MsBuildArgument($"/p:{property}=true")]).WithId("Without"),
        ];
    }
}
