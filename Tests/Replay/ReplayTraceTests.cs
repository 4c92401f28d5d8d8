using System.Collections.Concurrent;
using System.IO;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

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
    private static readonly ConcurrentDictionary<string, AddressSpaceOptions> s_folderOptions = new();

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.AllCases))]
    public void TraceMatchesTheKernelOfItsFolder(string trace)
    {
        string folder = Path.GetDirectoryName(trace)!;
        AddressSpaceOptions options = s_folderOptions.GetOrAdd(folder, TraceCorpus.OptionsOf);
        string path = Path.Combine(TraceCorpus.Root, trace);
        string expected = File.ReadAllText(Path.ChangeExtension(path, ".expected"));
        using TextReader input = TraceLineReader.OpenBytes(File.OpenRead(path));
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        int status = TraceRunner.Run(input, output, options, error);
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error.ToString());
        Assert.That(output.ToString(), Is.EqualTo(expected), trace);
    }

    [TestCaseSource(typeof(TraceCorpus), nameof(TraceCorpus.Folders))]
    public void FolderNamesTheKernelOfItsOutputs(string folder) =>
        Assert.That(() => TraceCorpus.OptionsOf(folder), Throws.Nothing);
}
