using System.IO;
using NUnit.Framework;
using Replay;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// Differential tests: every committed trace replayed in-process must print, byte for byte, what the kernel printed
/// for it (the oracle's output on its machine, under the <c>oracle-host</c> profile), or what stock v6.15 prints
/// (the derived expectations in <c>v6.15/</c>, under the default profile).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class ReplayTraceTests
{
    private static readonly AddressSpaceOptions s_oracleHost = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
    private static readonly AddressSpaceOptions s_v615 = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileV615);

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Cases), new object[] { "handwritten" })]
    public void HandwrittenTraceMatchesTheKernel(string trace) => AssertReplayMatches(trace, s_oracleHost);

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Cases), new object[] { "random" })]
    public void RandomTraceMatchesTheKernel(string trace) => AssertReplayMatches(trace, s_oracleHost);

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Cases), new object[] { "handwritten-fork" })]
    public void HandwrittenForkTraceMatchesTheKernel(string trace) => AssertReplayMatches(trace, CorpusEnvironment.OptionsFor("handwritten-fork"));

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Cases), new object[] { "random-fork" })]
    public void RandomForkTraceMatchesTheKernel(string trace) => AssertReplayMatches(trace, CorpusEnvironment.OptionsFor("random-fork"));

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Cases), new object[] { "v6.15" })]
    public void ProfileTraceMatchesStockV615(string trace) => AssertReplayMatches(trace, s_v615);

    private static void AssertReplayMatches(string trace, AddressSpaceOptions options)
    {
        string path = Path.Combine(TraceCorpus.Root, trace);
        string expected = File.ReadAllText(Path.ChangeExtension(path, ".expected"));
        using var input = new StreamReader(path);
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        int status = TraceRunner.Run(input, output, options, error);
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error.ToString());
        Assert.That(output.ToString(), Is.EqualTo(expected), trace);
    }
}
