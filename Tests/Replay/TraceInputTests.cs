using System;
using System.Globalization;
using System.IO;
using System.Text;
using NUnit.Framework;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;

namespace Tests.Replay;

/// <summary>
/// Hostile trace input: over-long lines, byte-order marks, non-ASCII bytes and long tokens are malformed (exit 2,
/// the line named, only a short prefix quoted), <c>\r</c> is blank space, and the usage text is a whole line.
/// </summary>
[TestFixture]
public class TraceInputTests
{
    private const int ReadLimit = 1 << 20;

    [Test]
    public void OverLongLineIsMalformedAndOnlyItsStartIsQuoted()
    {
        string line = "mmap 0 4 rw " + new string('#', TraceLineReader.MaxLineLength);
        (int status, string output, string error) = Replay(Bytes($"maps\n{line}\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain($"line 2: line longer than {TraceLineReader.MaxLineLength} bytes, starting 'mmap 0 4 rw ####"));
        Assert.That(error, Has.Length.LessThan(200), "the message quotes only the start of the line");
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void LineOfExactlyTheLimitIsAccepted()
    {
        string line = "maps #" + new string('x', TraceLineReader.MaxLineLength - 6);
        (int status, string output, string error) = Replay(Bytes($"{line}\n{line}"));
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error);
        Assert.That(output, Is.EqualTo("maps\nend\nmaps\nend\n"));
    }

    [Test]
    public void GibibyteLineIsMalformedWithoutBeingReadWhole()
    {
        using var input = new HugeLineStream("mmap 0 4 rw\n"u8.ToArray(), 1L << 30, ReadLimit);
        (int status, _, string error) = Replay(input);
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain("line 2: line longer than"));
        Assert.That(input.Position, Is.LessThan(ReadLimit));
    }

    [Test]
    public void CarriageReturnIsBlankSpaceInsideALine()
    {
        (int status, string output, string error) = Replay(Bytes("mmap\r0 4\rrw\r\nmaps\r\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Success), error);
        Assert.That(output, Is.EqualTo("maps\n0-4 rw-p - - ac,me,mr,mw,rd,wr\nend\n"));
    }

    [Test]
    public void LoneCarriageReturnDoesNotEndALine()
    {
        (int status, _, string error) = Replay(Bytes("mmap 0 4 rw\r\n\rmaps\rbogus\nfrob\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain("line 2: maps takes no arguments"));
    }

    [Test]
    public void ByteOrderMarkIsMalformed()
    {
        (int status, _, string error) = Replay([0xEF, 0xBB, 0xBF, .. Bytes("maps\n")]);
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain("line 1: byte-order mark"));
    }

    [Test]
    public void NonAsciiByteIsMalformedEvenInAComment()
    {
        (int status, _, string error) = Replay(Encoding.UTF8.GetBytes("maps\nmaps # caf\u00e9\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain("line 2: non-ASCII byte 0xc3 at column 11"));
    }

    [Test]
    public void NonAsciiCharacterOfATextReaderIsMalformed()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int status = TraceRunner.Run(new StringReader("\ufeffmaps\n"), output, new AddressSpaceOptions(), error);
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error.ToString(), Does.Contain("line 1: byte-order mark"));
    }

    [TestCase("{0} 0 4", "unknown operation")]
    [TestCase("mmap 0 4 rw {0}", "unknown mmap flag")]
    [TestCase("munmap 0 {0}", "bad number")]
    public void LongBadTokenIsQuotedByItsPrefixOnly(string line, string problem)
    {
        string token = "q" + new string('z', 3000);
        (int status, _, string error) = Replay(Bytes(string.Format(CultureInfo.InvariantCulture, line, token) + "\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain($"line 1: {problem} '{token[..TraceText.MaxQuotedLength]}'..."));
        Assert.That(error, Has.Length.LessThan(200));
    }

    [Test]
    public void ControlCharactersInAQuotedTokenAreEscaped()
    {
        (int status, _, string error) = Replay(Bytes("fro\x1b[2Jb\n"));
        Assert.That(status, Is.EqualTo(TraceRunner.Malformed));
        Assert.That(error, Does.Contain(@"unknown operation 'fro\x1b[2Jb'"));
    }

    [Test]
    public void HelpEndsWithOneNewline()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.That(Program.Run(["--help"], output, error), Is.EqualTo(0));
        Assert.That(output.ToString(), Does.EndWith(".\n").And.Not.EndWith("\n\n"));
    }

    [Test]
    public void ProgramReadsTheTraceFileAsBytes()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Bytes("maps\n")]);
            using var output = new StringWriter();
            using var error = new StringWriter();
            Assert.That(Program.Run([path], output, error), Is.EqualTo(TraceRunner.Malformed));
            Assert.That(error.ToString(), Does.Contain("line 1: byte-order mark"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Bytes(string ascii) => Encoding.ASCII.GetBytes(ascii);

    private static (int Status, string Output, string Error) Replay(byte[] trace)
    {
        using var input = new MemoryStream(trace);
        return Replay(input);
    }

    private static (int Status, string Output, string Error) Replay(Stream trace)
    {
        using var output = new StringWriter { NewLine = "\n" };
        using var error = new StringWriter();
        using TextReader reader = TraceLineReader.OpenBytes(trace);
        int status = TraceRunner.Run(reader, output, new AddressSpaceOptions(), error);
        return (status, output.ToString(), error.ToString());
    }

    /// <summary>
    /// A read-only stream of <c>prefix</c> then <c>length</c> bytes of <c>x</c> with no line end, made as it is read;
    /// reading past <c>readLimit</c> bytes fails the test (the replay must stop at the line limit).
    /// </summary>
    private sealed class HugeLineStream(byte[] prefix, long length, long readLimit) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => prefix.Length + length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position >= readLimit)
            {
                Assert.Fail($"the replay read {_position} bytes of a trace whose second line never ends");
            }

            int n = (int)Math.Min(buffer.Length, Length - _position);
            for (int i = 0; i < n; i++, _position++)
            {
                buffer[i] = _position < prefix.Length ? prefix[_position] : (byte)'x';
            }

            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
