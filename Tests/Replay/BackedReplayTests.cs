using System;
using System.IO;
using System.Linq;
using NUnit.Framework;
using Replay;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// Issue 15's proof of exactness: every committed trace replayed with real host memory behind the engine
/// (<c>--backed</c>: each <c>touch</c> a real write through Translate, or through Fault and Translate; each trace file
/// a host memfd) prints, byte for byte, its folder's <c>.expected</c>, as the unbacked replay does.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class BackedReplayTests
{
    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.AllCases))]
    public void BackedTraceMatchesTheKernelOfItsFolder(string trace) => TraceCorpus.AssertReplayPrintsExpected(trace, backed: true);

    /// <summary>
    /// A backed run closes what it opened: over the corpus traces that map files (memfds, forks sharing them), the
    /// process ends with the descriptors it started with and no memfd mapped. Alone, so that no other test opens or
    /// closes descriptors meanwhile; after one run first, so that what the runtime opens once is already open.
    /// </summary>
    [Test]
    [NonParallelizable]
    public void BackedRunsCloseEveryHostFileTheyOpen()
    {
        string[] traces = [.. TraceCorpus.AllCases().Select(c => (string)c.Arguments[0]!).Where(MapsAFile)];
        Assert.That(traces, Has.Length.GreaterThan(2000), "the corpus's file traces");
        TraceCorpus.AssertReplayPrintsExpected(traces[0], backed: true);
        int descriptors = OpenDescriptors();
        int memfdMappings = MemfdMappings();
        foreach (string trace in traces)
        {
            TraceCorpus.AssertReplayPrintsExpected(trace, backed: true);
        }

        Assert.That(OpenDescriptors(), Is.EqualTo(descriptors), $"open descriptors after {traces.Length} backed runs");
        Assert.That(MemfdMappings(), Is.EqualTo(memfdMappings), $"host mappings of a memfd after {traces.Length} backed runs");
    }

    [Test]
    public void GuestRangeOptions_KeepEveryOptionButTheLayout()
    {
        AddressSpaceOptions kernel = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
        AddressSpaceOptions backed = BackedTarget.InGuestRange(kernel);
        Assert.That(backed.ZeroPage, Is.EqualTo(kernel.ZeroPage).And.False);
        Assert.That(backed.MremapMultipleVmas, Is.EqualTo(kernel.MremapMultipleVmas).And.True);
        Assert.That(backed.AnonVmaNames, Is.EqualTo(kernel.AnonVmaNames).And.False);
        Assert.That(backed.MaybeGuardFlag, Is.True);
        Assert.That(backed.MmapMinAddr, Is.EqualTo(BackedTarget.Low));
        Assert.That(backed.TaskSize, Is.EqualTo(BackedTarget.High));
        Assert.That(TraceRunner.WindowBase - backed.MmapMinAddr, Is.EqualTo(TraceRunner.GuardPages * 4096));
    }

    private static bool MapsAFile(string trace) =>
        File.ReadLines(Path.Combine(TraceCorpus.Root, trace)).Any(line => line.Contains(" file=", StringComparison.Ordinal));

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;

    private static int MemfdMappings() => File.ReadLines("/proc/self/maps").Count(line => line.Contains("/memfd:", StringComparison.Ordinal));
}
