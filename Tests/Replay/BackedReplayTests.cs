using System.Collections.Concurrent;
using System.IO;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// Issue 15's proof of exactness: every committed trace replayed with real host memory behind the engine
/// (<c>--backed</c>: each <c>touch</c> a real write through Translate, or through Fault and Translate) prints, byte
/// for byte, its folder's <c>.expected</c>, as the unbacked replay does. Traces that need what the backing does not
/// support yet (file mappings) stop with <see cref="TraceRunner.NotBacked"/> and are ignored, naming
/// the operation.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class BackedReplayTests
{
    private static readonly ConcurrentDictionary<string, AddressSpaceOptions> s_folderOptions = new();

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.AllCases))]
    public void BackedTraceMatchesTheKernelOfItsFolder(string trace)
    {
        string folder = Path.GetDirectoryName(trace)!;
        AddressSpaceOptions options = s_folderOptions.GetOrAdd(folder, TraceCorpus.OptionsOf);
        string path = Path.Combine(TraceCorpus.Root, trace);
        using TextReader input = TraceLineReader.OpenBytes(File.OpenRead(path));
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        int status = TraceRunner.Run(input, output, options, error, backed: true);
        if (status == TraceRunner.NotBacked)
        {
            Assert.Ignore(error.ToString().Trim());
        }

        Assert.That(status, Is.EqualTo(TraceRunner.Success), error.ToString());
        Assert.That(output.ToString(), Is.EqualTo(File.ReadAllText(Path.ChangeExtension(path, ".expected"))), trace);
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
}
