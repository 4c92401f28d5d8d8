using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
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
    /// process ends with the run's kind of descriptors (memfds, trace files, the spool's temporary files) it started
    /// with, and as many host mappings of a memfd. Alone, so that no other test opens or closes them meanwhile (the
    /// runs themselves share the cores, as the corpus test does). The runtime's own memfd (<c>doublemapper</c>, its
    /// executable memory) and the descriptors it opens lazily for itself do not count.
    /// </summary>
    [Test]
    [NonParallelizable]
    public void BackedRunsCloseEveryHostFileTheyOpen()
    {
        string[] traces = [.. TraceCorpus.AllCases().Select(c => (string)c.Arguments[0]!).Where(MapsAFile)];
        Assert.That(traces, Has.Length.GreaterThan(2000), "the corpus's file traces");
        string[] descriptors = RunDescriptors();
        int memfdMappings = MemfdMappings();
        Parallel.ForEach(traces, trace => TraceCorpus.AssertReplayPrintsExpected(trace, backed: true));
        Assert.That(RunDescriptors(), Is.EqualTo(descriptors), $"descriptors open after {traces.Length} backed runs");
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

    /// <summary>Whether a descriptor's or a mapping's target is a memfd of a backed run, not the runtime's own.</summary>
    private static bool IsRunMemfd(string target) =>
        target.Contains("/memfd:", StringComparison.Ordinal) && !target.Contains("/memfd:doublemapper", StringComparison.Ordinal);

    /// <summary>The targets of the open descriptors a backed run may open (memfds, corpus files, temporary files), sorted.</summary>
    private static string[] RunDescriptors() =>
    [
        .. Directory.GetFiles("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "")
            .Where(target => IsRunMemfd(target) || target.StartsWith(TraceCorpus.Root, StringComparison.Ordinal)
                || target.StartsWith(Path.GetTempPath(), StringComparison.Ordinal))
            .Order(StringComparer.Ordinal),
    ];

    private static int MemfdMappings() => File.ReadLines("/proc/self/maps").Count(IsRunMemfd);
}
