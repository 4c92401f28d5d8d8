using System;
using System.IO;
using System.Text;

namespace Replay.Trace;

/// <summary>
/// A trace that can be read only once (standard input, a pipe) kept for its second reading on disk, so that it can be
/// validated whole before it runs without being held in memory. The first <see cref="Open"/> gives a reader that
/// copies every character it hands out into a temporary file; the second reads that copy back. The file is deleted
/// when the spool is disposed.
/// </summary>
/// <remarks>
/// The copy is written one byte per character (Latin-1), as <see cref="TraceLineReader.OpenBytes"/> reads it back: a
/// trace that passed validation is 7-bit ASCII, so the copy holds the same bytes as the input.
/// </remarks>
public sealed class TraceSpool : IDisposable
{
    private readonly TextReader _source;
    private readonly FileStream _file;
    private readonly StreamWriter _copy;
    private int _opened;
    private bool _disposed;

    /// <summary>A spool of <paramref name="source"/>, which stays the caller's to dispose.</summary>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public TraceSpool(TextReader source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _file = new FileStream(
            Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16, FileOptions.DeleteOnClose);
        _copy = new StreamWriter(_file, Encoding.Latin1, bufferSize: 1 << 16, leaveOpen: true);
    }

    /// <summary>
    /// The first call: the source, copied to the spool as it is read. The second: the copy, from its start (what the
    /// first reader read, so read the first to its end). There is no third.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called a third time.</exception>
    public TextReader Open()
    {
        switch (++_opened)
        {
            case 1:
                return new CopyingReader(_source, _copy);
            case 2:
                _copy.Dispose();
                _file.Position = 0;
                return new StreamReader(_file, Encoding.Latin1, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
            default:
                throw new InvalidOperationException("A trace spool is read twice: once while copying, once from the copy.");
        }
    }

    /// <summary>Deletes the copy (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _copy.Dispose();
        _file.Dispose();
    }

    /// <summary>Reads <c>source</c> and writes every character read to <c>copy</c>; disposing it leaves both open.</summary>
    private sealed class CopyingReader(TextReader source, TextWriter copy) : TextReader
    {
        public override int Peek() => source.Peek();

        public override int Read()
        {
            int c = source.Read();
            if (c >= 0)
            {
                copy.Write((char)c);
            }

            return c;
        }

        public override int Read(char[] buffer, int index, int count)
        {
            int read = source.Read(buffer, index, count);
            copy.Write(buffer, index, read);
            return read;
        }

        public override int Read(Span<char> buffer)
        {
            int read = source.Read(buffer);
            copy.Write(buffer[..read]);
            return read;
        }
    }
}
