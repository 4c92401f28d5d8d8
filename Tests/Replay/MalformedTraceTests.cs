using System;
using System.IO;
using System.Linq;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>A malformed trace stops the replay before anything runs: exit code 2, the line named on standard error.</summary>
[TestFixture]
public class MalformedTraceTests
{
    [TestCase("mmap 0 4 rw\nfrobnicate 0 4\nmaps\n", 2, "unknown operation 'frobnicate'")]
    [TestCase("mmap 0 4 rw\n\n# comment\nmmap 0 4 rq\n", 4, "bad PROT 'rq'")]
    [TestCase("mmap 0 4 rww\n", 1, "bad PROT 'rww'")]
    [TestCase("munmap 0x 4\n", 1, "bad number '0x'")]
    [TestCase("munmap -1 4\n", 1, "bad number '-1'")]
    [TestCase("munmap 18446744073709551616 1\n", 1, "bad number")]
    [TestCase("mmap 1048575 2 rw\n", 1, "range outside the window")]
    [TestCase("mremap 0 4 8 1048574\n", 1, "range outside the window")]
    [TestCase("mmap 0 4 rw file=f:262142\n", 1, "file range beyond the 1 GiB file")]
    [TestCase("mmap 0 4 rw file=:0\n", 1, "bad file=NAME:PGOFF")]
    [TestCase("mmap 0 4 rw file=f:0 file=g:0\n", 1, "duplicate file= flag")]
    [TestCase("mmap 0 4 rw growsdown file=f:0\n", 1, "growsdown is for anonymous mappings only")]
    [TestCase("mmap 0 4 rw sideways\n", 1, "unknown mmap flag 'sideways'")]
    [TestCase("madvise 0 4 collapse\n", 1, "unknown advice 'collapse'")]
    [TestCase("maps now\n", 1, "maps takes no arguments")]
    [TestCase("touch 0\n", 1, "usage: touch ADDR LEN")]
    [TestCase("maps\nmprotect 0 4\n", 2, "usage: mprotect ADDR LEN PROT")]
    public void MalformedLineStopsTheReplayNamingTheLine(string trace, int line, string problem)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = TraceRunner.Run(new StringReader(trace), output, new AddressSpaceOptions(), error);
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error.ToString(), Does.Contain($"line {line}: {problem}"));
        Assert.That(output.ToString(), Is.Empty, "nothing runs before the whole trace is validated");
    }

    [Test]
    public void ProgramExitsWithTwoAndNamesTheLine()
    {
        string path = Path.GetTempFileName();
        using var output = new StringWriter();
        using var error = new StringWriter();
        try
        {
            File.WriteAllText(path, "# vmatrace v1\nmmap 0 4 rw\nmunmap 0 4 extra\n");
            Assert.That(Program.Run([path], output, error), Is.EqualTo(2));
        }
        finally
        {
            File.Delete(path);
        }

        Assert.That(error.ToString(), Does.Contain("line 3: usage: munmap ADDR LEN"));
    }

    [Test]
    public void SixtyFifthDistinctFileIsMalformed()
    {
        string trace = string.Concat(Enumerable.Range(0, TraceParser.MaxFiles + 1).Select(i => $"mmap 0 1 r file=f{i % TraceParser.MaxFiles}:0\nmmap 0 1 r file=f{i}:0\n"));
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.That(TraceRunner.Run(new StringReader(trace), output, new AddressSpaceOptions(), error), Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error.ToString(), Does.Contain($"line {2 * (TraceParser.MaxFiles + 1)}: too many distinct files (at most 64)"));
        using var fine = new StringWriter();
        Assert.That(TraceRunner.Run(new StringReader(trace[..trace.LastIndexOf("mmap", StringComparison.Ordinal)]), fine, new AddressSpaceOptions(), error), Is.Zero);
    }

    [Test]
    public void FailedOperationIsNotMalformed()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = TraceRunner.Run(new StringReader("munmap 0 0\nmaps\n"), output, new AddressSpaceOptions(), error);
        Assert.That(status, Is.EqualTo(TraceRunner.Success));
        Assert.That(output.ToString(), Is.EqualTo("error munmap errno=EINVAL\nmaps\nend\n"));
        Assert.That(error.ToString(), Is.Empty);
    }

    [Test]
    public void UnknownProfileIsAUsageError()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.That(Program.Run(["--profile", "v2.4", "-"], output, error), Is.EqualTo(1));

        Assert.That(error.ToString(), Does.Contain("v2.4"));
    }
}
