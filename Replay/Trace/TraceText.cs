using System;
using System.Text;

namespace Replay.Trace;

/// <summary>How messages quote text taken from a trace: short, and with no control characters left raw.</summary>
public static class TraceText
{
    /// <summary>The most characters of a token a message quotes; longer ones end in <c>...</c>.</summary>
    public const int MaxQuotedLength = 32;

    /// <summary>
    /// <paramref name="text"/> in single quotes, cut to its first <see cref="MaxQuotedLength"/> characters (then
    /// <c>...</c>), with every character outside printable ASCII written as <c>\xNN</c>.
    /// </summary>
    public static string Quote(ReadOnlySpan<char> text)
    {
        var quoted = new StringBuilder("'");
        foreach (char c in text.Length > MaxQuotedLength ? text[..MaxQuotedLength] : text)
        {
            if (c is >= ' ' and <= '~')
            {
                quoted.Append(c);
            }
            else
            {
                quoted.Append($"\\x{(int)c:x2}");
            }
        }

        quoted.Append('\'');
        return text.Length > MaxQuotedLength ? quoted.Append("...").ToString() : quoted.ToString();
    }
}
