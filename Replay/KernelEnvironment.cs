using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Replay.Trace;
using VmaEngine.Vma;

namespace Replay;

/// <summary>
/// The facts about a machine that <c>oracle -E</c> prints (kernel release and architecture, zero page, anonymous
/// VMA names, THP mode, <c>max_map_count</c>, <c>overcommit_memory</c>), and the <see cref="AddressSpaceOptions"/>
/// that make the engine print what the oracle prints on that machine (<see cref="ToOptions"/>).
/// </summary>
/// <remarks>
/// The text is exactly <c>oracle -E</c>'s output: one <c>key value</c> line per fact, single spaces, each key once, in
/// any order. Every key is required except <c>thp</c>, which the oracle leaves out on a kernel without THP (THP never
/// changes a layout). A file the engine could not model (another architecture, a kernel older than v6.15,
/// <c>overcommit_memory 2</c>) is rejected like a malformed one, so no replay runs under the wrong options.
/// </remarks>
/// <param name="Release">The kernel release (<c>uname -r</c>), for example <c>6.18.44-fc-v782</c>.</param>
/// <param name="Architecture">The machine (<c>uname -m</c>); only <c>x86_64</c> is accepted.</param>
/// <param name="Version">The major and minor version at the start of <paramref name="Release"/>.</param>
/// <param name="ZeroPage">Whether a read fault of private anonymous memory maps the zero page.</param>
/// <param name="AnonVmaNames">Whether <c>PR_SET_VMA_ANON_NAME</c> works (<c>CONFIG_ANON_VMA_NAME</c>).</param>
/// <param name="Thp">The transparent hugepage mode (<c>always</c>, <c>madvise</c>, <c>never</c>), or null.</param>
/// <param name="MaxMapCount"><c>vm.max_map_count</c>.</param>
/// <param name="OvercommitMemory"><c>vm.overcommit_memory</c> (0 or 1).</param>
public sealed record KernelEnvironment(
    string Release,
    string Architecture,
    Version Version,
    bool ZeroPage,
    bool AnonVmaNames,
    string? Thp,
    int MaxMapCount,
    int OvercommitMemory)
{
    /// <summary>The oldest kernel the engine models.</summary>
    public static readonly Version OldestModelled = new(6, 15);

    /// <summary>The first kernel with the anonymous-merge fix (<see cref="AddressSpaceOptions.AllowMergeOfFaultedWithUnfaulted"/>).</summary>
    public static readonly Version MergeOfFaultedWithUnfaulted = new(6, 16);

    /// <summary>The first kernel whose mremap moves several VMAs (<see cref="AddressSpaceOptions.MremapMultipleVmas"/>).</summary>
    public static readonly Version MremapOfMultipleVmas = new(6, 17);

    /// <summary>The first kernel that marks VMAs holding guard regions (<see cref="AddressSpaceOptions.MaybeGuardFlag"/>).</summary>
    public static readonly Version MaybeGuardFlagVersion = new(6, 18);

    /// <summary>
    /// The first kernel whose MREMAP_DONTUNMAP leaves the old range accounted
    /// (<see cref="AddressSpaceOptions.DontUnmapKeepsAccount"/>).
    /// </summary>
    public static readonly Version DontUnmapKeepsAccountVersion = new(6, 18);

    /// <summary>
    /// The first kernel series that never locks MAP_DROPPABLE mappings (<see cref="AddressSpaceOptions.DroppableNeverLocked"/>;
    /// a 2026 stable fix, so early 6.18.y releases still lock them).
    /// </summary>
    public static readonly Version DroppableNeverLockedVersion = new(6, 18);

    private const string KernelKey = "kernel";
    private const string ZeroPageKey = "zero_page";
    private const string AnonVmaNameKey = "anon_vma_name";
    private const string ThpKey = "thp";
    private const string MaxMapCountKey = "max_map_count";
    private const string OvercommitKey = "overcommit_memory";

    private static readonly string[] s_requiredKeys = [KernelKey, ZeroPageKey, AnonVmaNameKey, MaxMapCountKey, OvercommitKey];

    /// <summary>Reads and checks an <c>oracle -E</c> file.</summary>
    /// <exception cref="FormatException">The file is malformed or describes a machine the engine does not model.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static KernelEnvironment Load(string path)
    {
        using TextReader reader = TraceLineReader.OpenBytes(File.OpenRead(path));
        return Parse(reader, path);
    }

    /// <summary>
    /// Parses <c>oracle -E</c> output; <paramref name="source"/> names the input in error messages. The text is read
    /// as a trace is (<see cref="TraceLineReader"/>: ASCII, short lines), so hostile input costs nothing.
    /// </summary>
    /// <exception cref="FormatException">The text is malformed or describes a machine the engine does not model.</exception>
    public static KernelEnvironment Parse(TextReader reader, string source)
    {
        var values = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var lines = new TraceLineReader(reader);
        try
        {
            string? line;
            while ((line = lines.ReadLine()) != null)
            {
                string[] words = line.Split(' ');
                if (words.Length < 2 || Array.Exists(words, word => word.Length == 0))
                {
                    throw Malformed(source, lines.LineNumber, $"not a 'key value' line: {TraceText.Quote(line)}");
                }

                if (Array.IndexOf(s_requiredKeys, words[0]) < 0 && words[0] != ThpKey)
                {
                    throw Malformed(source, lines.LineNumber, $"unknown key {TraceText.Quote(words[0])}");
                }

                if (!values.TryAdd(words[0], words[1..]))
                {
                    throw Malformed(source, lines.LineNumber, $"duplicate key {TraceText.Quote(words[0])}");
                }
            }
        }
        catch (TraceFormatException e)
        {
            throw new FormatException($"{source}: {e.Message}", e);
        }

        string? missing = Array.Find(s_requiredKeys, key => !values.ContainsKey(key));
        if (missing != null)
        {
            throw new FormatException($"{source}: no '{missing}' line; expected the output of 'oracle -E'");
        }

        var facts = new FactReader(source, values);
        (string release, string architecture) = facts.Kernel();
        return new KernelEnvironment(
            release,
            architecture,
            facts.Version(release),
            facts.YesNo(ZeroPageKey),
            facts.YesNo(AnonVmaNameKey),
            values.ContainsKey(ThpKey) ? facts.OneOf(ThpKey, "always", "madvise", "never") : null,
            facts.Count(MaxMapCountKey),
            int.Parse(facts.OneOf(OvercommitKey, "0", "1"), CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The options that model this machine: the kernel version decides the behaviours that changed after v6.15
    /// (<see cref="AddressSpaceOptions.AllowMergeOfFaultedWithUnfaulted"/> from 6.16,
    /// <see cref="AddressSpaceOptions.MremapMultipleVmas"/> from 6.17, <see cref="AddressSpaceOptions.MaybeGuardFlag"/>,
    /// <see cref="AddressSpaceOptions.DontUnmapKeepsAccount"/> and <see cref="AddressSpaceOptions.DroppableNeverLocked"/>
    /// from 6.18); <see cref="ZeroPage"/>,
    /// <see cref="AnonVmaNames"/> and <see cref="MaxMapCount"/> carry over.
    /// </summary>
    /// <remarks>
    /// <see cref="AddressSpaceOptions.SoftDirty"/> is off: <c>oracle -E</c> does not report
    /// <c>CONFIG_MEM_SOFT_DIRTY</c>, every oracle machine seen so far has it off (as the <c>oracle-host</c> profile
    /// says), and it cannot change a replay anyway, since <c>sd</c> is outside the printed flag set and VM_SOFTDIRTY
    /// never decides a merge. <see cref="AddressSpaceOptions.MemoryFailure"/> is off for the same reason: the oracle does
    /// not report <c>CONFIG_MEMORY_FAILURE</c>, and every oracle machine seen so far answers MADV_HWPOISON with EINVAL.
    /// <see cref="AddressSpaceOptions.GiganticHugePages"/> is off: <c>oracle -E</c> does not report the CPU's
    /// <c>pdpe1gb</c>, and every oracle machine seen so far is a VM without it (MAP_HUGE_1GB is EINVAL there).
    /// THP and overcommit modes 0 and 1 change no layout the engine models.
    /// </remarks>
    public AddressSpaceOptions ToOptions() => new()
    {
        AllowMergeOfFaultedWithUnfaulted = Version >= MergeOfFaultedWithUnfaulted,
        MremapMultipleVmas = Version >= MremapOfMultipleVmas,
        MaybeGuardFlag = Version >= MaybeGuardFlagVersion,
        DontUnmapKeepsAccount = Version >= DontUnmapKeepsAccountVersion,
        DroppableNeverLocked = Version >= DroppableNeverLockedVersion,
        GiganticHugePages = false,
        MemoryFailure = false,
        ZeroPage = ZeroPage,
        AnonVmaNames = AnonVmaNames,
        MaxMapCount = MaxMapCount,
        SoftDirty = false,
    };

    private static FormatException Malformed(string source, int line, string problem) => new($"{source}: line {line}: {problem}");

    /// <summary>The checks of the values of one parsed file.</summary>
    private readonly struct FactReader(string source, Dictionary<string, string[]> values)
    {
        /// <summary><c>kernel RELEASE ARCH</c>, with ARCH x86_64.</summary>
        public (string Release, string Architecture) Kernel()
        {
            string[] words = values[KernelKey];
            if (words.Length != 2)
            {
                throw Fail(KernelKey, "expected 'kernel RELEASE ARCH'");
            }

            return words[1] == "x86_64" ? (words[0], words[1])
                : throw Fail(KernelKey, $"architecture {TraceText.Quote(words[1])} is not modelled (x86_64 only)");
        }

        /// <summary>The MAJOR.MINOR at the start of a release, at least <see cref="OldestModelled"/>.</summary>
        public Version Version(string release)
        {
            string[] parts = release.Split('.', 3);
            if (parts.Length < 2 || !IsNumber(parts[0]) || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int major)
                || !int.TryParse(parts[1].AsSpan(0, CountLeadingDigits(parts[1])), CultureInfo.InvariantCulture, out int minor))
            {
                throw Fail(KernelKey, $"release {TraceText.Quote(release)} does not start with MAJOR.MINOR");
            }

            var version = new Version(major, minor);
            return version >= OldestModelled ? version
                : throw Fail(KernelKey, $"Linux {version} is older than v{OldestModelled}, the oldest kernel modelled");
        }

        public bool YesNo(string key) => OneOf(key, "yes", "no") == "yes";

        /// <summary>The single value of <paramref name="key"/>, one of <paramref name="allowed"/>.</summary>
        public string OneOf(string key, params string[] allowed)
        {
            string[] words = values[key];
            return words.Length == 1 && Array.IndexOf(allowed, words[0]) >= 0 ? words[0]
                : throw Fail(key, $"expected one of {string.Join(", ", allowed)}");
        }

        /// <summary>A positive decimal count that fits an int.</summary>
        public int Count(string key)
        {
            string[] words = values[key];
            return words.Length == 1 && IsNumber(words[0]) && int.TryParse(words[0], CultureInfo.InvariantCulture, out int count) && count > 0
                ? count
                : throw Fail(key, "expected a positive decimal number");
        }

        /// <summary>Whether <paramref name="text"/> is only decimal digits, at least one.</summary>
        private static bool IsNumber(string text) => text.Length > 0 && CountLeadingDigits(text) == text.Length;

        /// <summary>How many decimal digits <paramref name="text"/> starts with.</summary>
        private static int CountLeadingDigits(string text)
        {
            int digits = 0;
            while (digits < text.Length && char.IsAsciiDigit(text[digits]))
            {
                digits++;
            }

            return digits;
        }

        private FormatException Fail(string key, string problem) =>
            new($"{source}: {key} {TraceText.Quote(string.Join(' ', values[key]))}: {problem}");
    }
}
