using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace Bench;

/// <summary>
/// Runs the benchmarks. Without arguments: every benchmark, non-interactively, with a quick job. With arguments:
/// the standard BenchmarkDotNet command line (<c>--filter</c>, <c>--job</c>, ...).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        BenchmarkSwitcher switcher = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly);
        if (args.Length == 0)
        {
            IConfig quick = DefaultConfig.Instance
                .AddJob(Job.ShortRun.WithId("Quick"))
                .AddColumn(StatisticColumn.Median)
                .WithOption(ConfigOptions.JoinSummary, false);
            switcher.RunAll(quick);
        }
        else
        {
            switcher.Run(args, DefaultConfig.Instance.AddColumn(StatisticColumn.Median));
        }
    }
}
