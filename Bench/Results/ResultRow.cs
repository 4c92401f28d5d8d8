namespace Bench.Results;

/// <summary>
/// One measured case of the main job, as the joined summary and the charts use it: the benchmark class
/// (<paramref name="Suite"/>), its category, the method (its description), the number of VMAs it ran with (null
/// for benchmarks without that parameter), the median cost of one operation in nanoseconds, and whether it is the
/// peer (BenchmarkDotNet's baseline) the others of its category are compared with.
/// </summary>
public sealed record ResultRow(string Suite, string Category, string Method, long? Vmas, double MedianNs, bool IsBaseline)
{
    /// <summary>The cases compared with each other: same suite, category and number of VMAs.</summary>
    public (string Suite, string Category, long? Vmas) Group => (Suite, Category, Vmas);
}
