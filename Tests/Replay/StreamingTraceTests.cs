using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// Replay streams: a trace is validated whole and then run, one line at a time, so its memory use does not grow with
/// the trace's length; standard input, read once, is kept in a temporary file in between (<see cref="TraceSpool"/>).
/// </summary>
[TestFixture]
public class StreamingTraceTests
{
    /// <summary>Lines of the generated trace: enough that holding every parsed operation would take ~250 MB.</summary>
    private const int GeneratedLines = 2_000_000;

    /// <summary>
    /// The bound on the replay process's peak resident set. A streaming replay of the trace stays near the runtime's
    /// own ~40 MB; one that kept every operation would need several times this bound.
    /// </summary>
    private const long PeakResidentBound = 120L << 20;

    /// <summary>The GC heap limit of the replay process, so that the figure does not depend on the machine's gen0 budget.</summary>
    private const string HeapHardLimit = "0x6000000";

    [Test]
    public void MillionsOfLinesOnStandardInputKeepMemoryBounded()
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Replay.dll"));
        info.ArgumentList.Add("-");
        info.Environment["DOTNET_GCHeapHardLimit"] = HeapHardLimit;

        using Process process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Task feed = Task.Run(() => WriteGeneratedTrace(process.StandardInput));
        long peak = 0;
        while (!process.WaitForExit(20))
        {
            peak = Math.Max(peak, PeakResident(process));
        }

        feed.Wait();
        string text = output.Result;
        Assert.That(process.ExitCode, Is.Zero, errors.Result);
        Assert.That(text, Is.EqualTo("maps\n0-4 rw-p - - ac,me,mr,mw,rd,wr\nend\n"), errors.Result);
        Assert.That(peak, Is.GreaterThan(0), "the peak resident set was read while the replay ran");
        Assert.That(peak, Is.LessThan(PeakResidentBound), $"peak resident set {peak >> 20} MiB for {GeneratedLines} lines");
    }

    [Test]
    public void MalformedLastLineOfAStreamRunsNothing()
    {
        string trace = "mmap 0 4 rw\nmaps\n" + string.Concat(System.Linq.Enumerable.Repeat("munmap 8 1\n", 10_000)) + "munmap 8\n";
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.That(TraceRunner.Run(new StringReader(trace), output, new AddressSpaceOptions(), error), Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error.ToString(), Does.Contain("line 10003: usage: munmap ADDR LEN"));
        Assert.That(output.ToString(), Is.Empty, "the oracle validates the whole trace before it runs anything");
    }

    [Test]
    public void TraceGivenTwiceIsValidatedFromTheFirstReaderAndRunFromTheSecond()
    {
        var opened = new List<string> { "mmap 0 4 rw\nmaps\n", "mmap 0 8 r\nmaps\n" };
        int calls = 0;
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = TraceRunner.Run(() => new StringReader(opened[calls++]), output, new AddressSpaceOptions(), error);
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error.ToString());
        Assert.That(calls, Is.EqualTo(2));
        Assert.That(output.ToString(), Is.EqualTo("maps\n0-8 r--p - - me,mr,mw,rd\nend\n"));
    }

    [Test]
    public void TraceThatTurnsMalformedBetweenThePassesStopsAtTheLine()
    {
        var opened = new List<string> { "maps\nmaps\n", "maps\nmaps now\n" };
        int calls = 0;
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = TraceRunner.Run(() => new StringReader(opened[calls++]), output, new AddressSpaceOptions(), error);
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error.ToString(), Does.Contain("line 2: maps takes no arguments"));
        Assert.That(output.ToString(), Is.EqualTo("maps\nend\n"), "the lines before it ran");
    }

    [Test]
    public void SpoolGivesBackWhatWasReadOnce()
    {
        const string trace = "# vmatrace v1\r\nmmap 0 4 rw\n\nmaps";
        using var source = new StringReader(trace);
        var spool = new TraceSpool(source);
        using (TextReader first = spool.Open())
        {
            Assert.That(first.ReadToEnd(), Is.EqualTo(trace));
        }

        using (TextReader second = spool.Open())
        {
            Assert.That(second.ReadToEnd(), Is.EqualTo(trace));
        }

        Assert.That(spool.Open, Throws.InvalidOperationException);
        spool.Dispose();
        Assert.That(spool.Dispose, Throws.Nothing, "disposing twice");
    }

    /// <summary>
    /// <see cref="GeneratedLines"/> lines: one mapping, then unmaps of pages beside it (each a system call that
    /// succeeds and changes nothing) with a map and unmap now and then, and a last <c>maps</c>.
    /// </summary>
    private static void WriteGeneratedTrace(StreamWriter input)
    {
        input.NewLine = "\n";
        input.Write("# vmatrace v1\nmmap 0 4 rw\n");
        for (int line = 2; line < GeneratedLines; line++)
        {
            input.Write(line % 1000 == 0 ? "mmap 16 4 r\n" : line % 1000 == 1 ? "munmap 16 4\n" : "munmap 8 1\n");
        }

        input.Write("maps\n");
        input.Close();
    }

    /// <summary>The process's peak resident set so far (<c>VmHWM</c>), or 0 once it has exited.</summary>
    private static long PeakResident(Process process)
    {
        try
        {
            process.Refresh();
            return process.PeakWorkingSet64;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }
}
