using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using VmaEngine.Vma;

namespace Replay.Trace;

/// <summary>
/// Reads a vmatrace v1 trace (see <c>docs/vmatrace-format.md</c>) line by line and validates every line: syntax,
/// operations, flags and advices, ranges inside the window, file names and file ranges.
/// </summary>
public static class TraceParser
{
    /// <summary>Pages in every trace file (1 GiB).</summary>
    public const ulong FilePages = 262_144;

    /// <summary>The most distinct file NAMEs in one trace (the oracle's limit).</summary>
    public const int MaxFiles = 64;

    /// <summary>The longest file NAME.</summary>
    private const int MaxFileNameLength = 32;

    private static readonly string[] s_keywords = ["mmap", "munmap", "mprotect", "madvise", "mlock", "munlock", "name", "touch", "mremap", "maps", "seal", "mlockall", "munlockall", "fork"];

    private static readonly Dictionary<string, Advice> s_advices = new(StringComparer.Ordinal)
    {
        ["dontfork"] = Advice.DontFork,
        ["dofork"] = Advice.DoFork,
        ["wipeonfork"] = Advice.WipeOnFork,
        ["keeponfork"] = Advice.KeepOnFork,
        ["dontdump"] = Advice.DontDump,
        ["dodump"] = Advice.DoDump,
        ["hugepage"] = Advice.HugePage,
        ["nohugepage"] = Advice.NoHugePage,
        ["random"] = Advice.Random,
        ["sequential"] = Advice.Sequential,
        ["normal"] = Advice.Normal,
        ["mergeable"] = Advice.Mergeable,
        ["unmergeable"] = Advice.Unmergeable,
        ["dontneed"] = Advice.DontNeed,
        ["free"] = Advice.Free,
        ["remove"] = Advice.Remove,
        ["willneed"] = Advice.WillNeed,
        ["cold"] = Advice.Cold,
        ["pageout"] = Advice.PageOut,
        ["populate_read"] = Advice.PopulateRead,
        ["populate_write"] = Advice.PopulateWrite,
    };

    private static readonly Dictionary<string, MapFlags> s_mmapFlags = new(StringComparer.Ordinal)
    {
        ["shared"] = MapFlags.Shared,
        ["private"] = MapFlags.None,
        ["noreserve"] = MapFlags.NoReserve,
        ["growsdown"] = MapFlags.GrowsDown,
        ["locked"] = MapFlags.Locked,
        ["populate"] = MapFlags.Populate,
        ["stack"] = MapFlags.Stack,
        ["noreplace"] = MapFlags.FixedNoReplace,
    };

    private static readonly Dictionary<string, MlockallFlags> s_mlockallFlags = new(StringComparer.Ordinal)
    {
        ["current"] = MlockallFlags.Current,
        ["future"] = MlockallFlags.Future,
        ["onfault"] = MlockallFlags.OnFault,
    };

    /// <summary>The trace keyword of an operation.</summary>
    public static string Keyword(TraceOpKind kind) => s_keywords[(int)kind];

    /// <summary>
    /// The operations of a trace, parsed one line at a time as they are enumerated, through a
    /// <see cref="TraceLineReader"/> (so an over-long line is never held whole): at most one line and the set of
    /// file NAMEs (<see cref="MaxFiles"/> at most) are held, whatever the length of the trace. Enumerating throws
    /// <see cref="TraceFormatException"/> at the first malformed line, after yielding the operations before it.
    /// </summary>
    public static IEnumerable<TraceOperation> ReadOperations(TextReader reader, ulong windowPages)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        var lines = new TraceLineReader(reader);
        string? line;
        while ((line = lines.ReadLine()) != null)
        {
            TraceOperation? op = ParseLine(line, lines.LineNumber, windowPages);
            if (op?.FileName is string file && files.Add(file) && files.Count > MaxFiles)
            {
                throw new TraceFormatException(lines.LineNumber, $"too many distinct files (at most {MaxFiles})");
            }

            if (op != null)
            {
                yield return op;
            }
        }
    }

    /// <summary>
    /// Reads the whole trace and checks every line as <see cref="ReadOperations"/> does, in as little memory; returns
    /// the number of operations.
    /// </summary>
    /// <exception cref="TraceFormatException">A line is malformed.</exception>
    public static long Validate(TextReader reader, ulong windowPages) => ReadOperations(reader, windowPages).LongCount();

    /// <summary>
    /// Parses one line as <see cref="TraceLineReader"/> returns it (ASCII, no <c>\n</c>); null for a blank or
    /// comment-only line.
    /// </summary>
    public static TraceOperation? ParseLine(string line, int lineNumber, ulong windowPages)
    {
        var reader = new LineReader(lineNumber, windowPages);
        string[] tokens = Tokenize(line);
        if (tokens.Length == 0)
        {
            return null;
        }

        int kindIndex = Array.IndexOf(s_keywords, tokens[0]);
        if (kindIndex < 0)
        {
            throw reader.Fail("unknown operation", tokens[0]);
        }

        var kind = (TraceOpKind)kindIndex;
        return kind switch
        {
            TraceOpKind.Maps or TraceOpKind.Munlockall => reader.Arity(tokens, 1, 1, $"{tokens[0]} takes no arguments")
                .Op(kind, 0, 0),
            TraceOpKind.Mlockall => ParseMlockall(reader.Arity(tokens, 2, int.MaxValue, "usage: mlockall current|future|onfault ..."), tokens),
            TraceOpKind.Mmap => ParseMmap(reader.Arity(tokens, 4, int.MaxValue, "usage: mmap ADDR LEN PROT [FLAG ...]"), tokens),
            TraceOpKind.Munmap or TraceOpKind.Munlock or TraceOpKind.Touch or TraceOpKind.Seal =>
                reader.Arity(tokens, 3, 3, $"usage: {tokens[0]} ADDR LEN").Range(kind, tokens),
            TraceOpKind.Mlock => reader.Arity(tokens, 3, 4, "usage: mlock ADDR LEN [onfault]").Range(kind, tokens) with
            {
                MlockFlags = tokens.Length == 3 ? MlockFlags.None
                    : tokens[3] == "onfault" ? MlockFlags.OnFault : throw reader.Fail("usage: mlock ADDR LEN [onfault]", null),
            },
            TraceOpKind.Mprotect => reader.Arity(tokens, 4, 4, "usage: mprotect ADDR LEN PROT").Range(kind, tokens) with
            {
                Prot = reader.Prot(tokens[3]),
            },
            TraceOpKind.Madvise => reader.Arity(tokens, 4, 4, "usage: madvise ADDR LEN ADVICE").Range(kind, tokens) with
            {
                Advice = s_advices.TryGetValue(tokens[3], out Advice advice) ? advice : throw reader.Fail("unknown advice", tokens[3]),
            },
            TraceOpKind.Name => reader.Arity(tokens, 4, 4, "usage: name ADDR LEN NAME|-").Range(kind, tokens) with
            {
                AnonName = tokens[3] == "-" ? null : tokens[3],
            },
            TraceOpKind.Fork => reader.Arity(tokens, 1, 1, "fork takes no arguments")
                .Op(kind, 0, 0),
            TraceOpKind.Mremap => ParseMremap(reader.Arity(tokens, 4, 6, "usage: mremap OLDADDR OLDLEN NEWLEN [NEWADDR [dontunmap]]"), tokens),
            _ => throw new InvalidOperationException($"unhandled operation {kind}"),
        };
    }

    private static TraceOperation ParseMmap(LineReader reader, string[] tokens)
    {
        TraceOperation op = reader.Range(TraceOpKind.Mmap, tokens);
        Prot prot = reader.Prot(tokens[3]);
        MapFlags flags = MapFlags.None;
        string? file = null;
        ulong pgoff = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 4; i < tokens.Length; i++)
        {
            string flag = tokens[i];
            if (flag.StartsWith("file=", StringComparison.Ordinal))
            {
                if (file != null)
                {
                    throw reader.Fail("duplicate file= flag", flag);
                }

                (file, pgoff) = reader.File(flag, op.Length);
                continue;
            }

            if (!seen.Add(flag))
            {
                throw reader.Fail("duplicate mmap flag", flag);
            }

            flags |= s_mmapFlags.TryGetValue(flag, out MapFlags bit) ? bit : throw reader.Fail("unknown mmap flag", flag);
        }

        if ((flags & MapFlags.GrowsDown) != 0 && file != null)
        {
            throw reader.Fail("growsdown is for anonymous mappings only", null);
        }

        return op with { Prot = prot, MapFlags = flags, FileName = file, FilePageOffset = pgoff };
    }

    private static TraceOperation ParseMlockall(LineReader reader, string[] tokens)
    {
        MlockallFlags flags = MlockallFlags.None;
        for (int i = 1; i < tokens.Length; i++)
        {
            flags |= s_mlockallFlags.TryGetValue(tokens[i], out MlockallFlags bit) ? bit : throw reader.Fail("unknown mlockall flag", tokens[i]);
        }

        return reader.Op(TraceOpKind.Mlockall, 0, 0) with { MlockallFlags = flags };
    }

    private static TraceOperation ParseMremap(LineReader reader, string[] tokens)
    {
        if (tokens.Length == 6 && tokens[5] != "dontunmap")
        {
            throw reader.Fail("usage: mremap OLDADDR OLDLEN NEWLEN [NEWADDR [dontunmap]]", null);
        }

        TraceOperation op = reader.Range(TraceOpKind.Mremap, tokens);
        ulong newLength = reader.Number(tokens[3]);
        if (tokens.Length >= 5)
        {
            ulong newAddress = reader.Number(tokens[4]);
            reader.CheckWindow(newAddress, newLength);
            MremapFlags extra = tokens.Length == 6 ? MremapFlags.DontUnmap : MremapFlags.None;
            return op with { NewLength = newLength, NewAddress = newAddress, MremapFlags = extra };
        }

        reader.CheckWindow(op.Address, newLength);
        return op with { NewLength = newLength };
    }

    /// <summary>
    /// Splits a line at blank space (spaces and tabs, and <c>\r</c>, <c>\v</c>, <c>\f</c>), dropping a comment that
    /// starts with <c>#</c>, even inside a token.
    /// </summary>
    private static string[] Tokenize(string line)
    {
        int hash = line.IndexOf('#', StringComparison.Ordinal);
        ReadOnlySpan<char> content = hash >= 0 ? line.AsSpan(0, hash) : line;
        return content.ToString().Split([' ', '\t', '\r', '\v', '\f'], StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The checks of one line, bound to its number and the window.</summary>
    private readonly struct LineReader(int lineNumber, ulong windowPages)
    {
        public LineReader Arity(string[] tokens, int min, int max, string usage) =>
            tokens.Length >= min && tokens.Length <= max ? this : throw Fail(usage, null);

        public TraceOperation Op(TraceOpKind kind, ulong address, ulong length) => new(kind, lineNumber, address, length);

        /// <summary>ADDR and LEN from tokens 1 and 2, checked against the window.</summary>
        public TraceOperation Range(TraceOpKind kind, string[] tokens)
        {
            ulong address = Number(tokens[1]);
            ulong length = Number(tokens[2]);
            CheckWindow(address, length);
            return Op(kind, address, length);
        }

        public void CheckWindow(ulong address, ulong length)
        {
            if (address > windowPages || length > windowPages - address)
            {
                throw Fail("range outside the window", null);
            }
        }

        /// <summary>An unsigned number: decimal (leading zeros allowed) or hexadecimal with 0x or 0X.</summary>
        public ulong Number(string token)
        {
            ReadOnlySpan<char> digits = token;
            int radix = 10;
            if (digits.Length > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
            {
                digits = digits[2..];
                radix = 16;
            }

            ulong value = 0;
            foreach (char c in digits)
            {
                int digit = c switch
                {
                    >= '0' and <= '9' => c - '0',
                    >= 'a' and <= 'f' when radix == 16 => c - 'a' + 10,
                    >= 'A' and <= 'F' when radix == 16 => c - 'A' + 10,
                    _ => -1,
                };
                if (digit < 0 || value > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
                {
                    throw Fail("bad number", token);
                }

                value = value * (ulong)radix + (ulong)digit;
            }

            return digits.Length > 0 ? value : throw Fail("bad number", token);
        }

        /// <summary>PROT: r, w and x at most once each, in any order, with '-' placeholders; never empty.</summary>
        public Prot Prot(string token)
        {
            VmaEngine.Vma.Prot prot = VmaEngine.Vma.Prot.None;
            foreach (char c in token)
            {
                VmaEngine.Vma.Prot bit = c switch
                {
                    'r' => VmaEngine.Vma.Prot.Read,
                    'w' => VmaEngine.Vma.Prot.Write,
                    'x' => VmaEngine.Vma.Prot.Exec,
                    '-' => VmaEngine.Vma.Prot.None,
                    _ => throw Fail("bad PROT", token),
                };
                if ((prot & bit) != 0)
                {
                    throw Fail("bad PROT", token);
                }

                prot |= bit;
            }

            return token.Length > 0 ? prot : throw Fail("bad PROT", token);
        }

        /// <summary><c>file=NAME:PGOFF</c>: NAME of 1 to 32 of [A-Za-z0-9_.-], not "-", and the range inside the file.</summary>
        public (string Name, ulong PageOffset) File(string flag, ulong length)
        {
            int colon = flag.LastIndexOf(':');
            string name = colon > 5 ? flag[5..colon] : "";
            if (colon < 0 || !IsValidFileName(name))
            {
                throw Fail("bad file=NAME:PGOFF", flag);
            }

            ulong pgoff = Number(flag[(colon + 1)..]);
            if (pgoff > FilePages || length > FilePages - pgoff)
            {
                throw Fail("file range beyond the 1 GiB file", flag);
            }

            return (name, pgoff);
        }

        public TraceFormatException Fail(string problem, string? token) =>
            new(lineNumber, token == null ? problem : $"{problem} {TraceText.Quote(token)}");

        private static bool IsValidFileName(string name)
        {
            if (name.Length is 0 or > MaxFileNameLength || name == "-")
            {
                return false;
            }

            foreach (char c in name)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
