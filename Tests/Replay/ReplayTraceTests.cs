using NUnit.Framework;

namespace Tests.Replay;

/// <summary>
/// Differential tests: every committed trace replayed in-process must print, byte for byte, its folder's
/// <c>.expected</c>: what a kernel oracle printed for it, under the options derived from the <c>env.txt</c> of the
/// machine it ran on, or what stock v6.15 prints (the derived expectations in <c>v6.15/</c>, whose
/// <c>profile.txt</c> names the default profile).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class ReplayTraceTests
{
    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.AllCases))]
    public void TraceMatchesTheKernelOfItsFolder(string trace) => TraceCorpus.AssertReplayPrintsExpected(trace, backed: false);

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Folders))]
    public void FolderNamesTheKernelOfItsOutputs(string folder) =>
        Assert.That(() => TraceCorpus.OptionsOf(folder), Throws.Nothing);
}
