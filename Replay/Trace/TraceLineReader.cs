using System;
using System.IO;

namespace Replay.Trace;

/// <summary>
/// Splits a trace into lines as the format defines them, holding at most one line of
/// <see cref="MaxLineLength"/> characters: only <c>\n</c> ends a line (a <c>\r</c> stays in the line, where the
/// tokenizer treats it as blank space), and a line that is too long, or any character outside 7-bit ASCII (a UTF-8
/// byte-order mark included) or a NUL, is malformed.
/// </summary>
/// <remarks>
/// The reader expects one character per input byte: <see cref="OpenBytes"/> gives such a reader for a file or a
/// standard input stream, so every non-ASCII byte arrives as a character above U+007F. An over-long line is reported
/// as soon as its limit is passed: the rest of it is never read.
/// </remarks>
public sealed class TraceLineReader
{
    /// <summary>The longest line, in characters (bytes) without its <c>\n</c>.</summary>
    public const int MaxLineLength = 4096;

    private readonly TextReader _input;
    private readonly char[] _line = new char[MaxLineLength];
    private readonly char[] _chunk = new char[MaxLineLength];
    private int _chunkPosition;
    private int _chunkLength;

    /// <summary>Reads the lines of <paramref name="input"/>.</summary>
    public TraceLineReader(TextReader input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _input = input;
    }

    /// <summary>The 1-based number of the line last returned (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>
    /// A reader that decodes <paramref name="bytes"/> one byte to one character (Latin-1, no byte-order-mark
    /// detection), so that this class sees and rejects every non-ASCII byte.
    /// </summary>
    public static TextReader OpenBytes(Stream bytes) =>
        new StreamReader(bytes, System.Text.Encoding.Latin1, detectEncodingFromByteOrderMarks: false);

    /// <summary>
    /// The next line without its <c>\n</c>, or null at the end of the input (a last line without <c>\n</c> counts).
    /// </summary>
    /// <exception cref="TraceFormatException">The line is too long or holds a byte the format forbids.</exception>
    public string? ReadLine()
    {
        if (!FillChunk())
        {
            return null;
        }

        if (LineNumber == int.MaxValue)
        {
            throw new TraceFormatException(LineNumber, "too many lines");
        }

        LineNumber++;
        int length = 0;
        while (FillChunk())
        {
            char c = _chunk[_chunkPosition++];
            if (c == '\n')
            {
                break;
            }

            CheckCharacter(c, length);
            if (length == MaxLineLength)
            {
                throw new TraceFormatException(
                    LineNumber,
                    $"line longer than {MaxLineLength} bytes, starting {TraceText.Quote(_line.AsSpan(0, length))}");
            }

            _line[length++] = c;
        }

        return new string(_line, 0, length);
    }

    /// <summary>Whether a character is waiting in the chunk buffer, reading the next chunk when it is empty.</summary>
    private bool FillChunk()
    {
        if (_chunkPosition < _chunkLength)
        {
            return true;
        }

        _chunkLength = _input.Read(_chunk, 0, _chunk.Length);
        _chunkPosition = 0;
        return _chunkLength > 0;
    }

    private void CheckCharacter(char c, int column)
    {
        if (c == '\0')
        {
            throw new TraceFormatException(LineNumber, "NUL byte in trace");
        }

        if (c > '\x7f')
        {
            bool byteOrderMark = LineNumber == 1 && column == 0 && c is ('\u00ef' or '\ufeff');
            string what = c <= '\xff' ? $"byte 0x{(int)c:x2}" : $"character U+{(int)c:X4}";
            throw new TraceFormatException(
                LineNumber,
                byteOrderMark
                    ? "byte-order mark at the start of the trace (the format is ASCII)"
                    : $"non-ASCII {what} at column {column + 1} (the format is ASCII)");
        }
    }
}
