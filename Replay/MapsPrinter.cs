using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using VmaEngine.Vma;

namespace Replay;

/// <summary>
/// Prints a <c>maps</c> block as the oracle does: <c>maps</c>, one <c>START-END PERMS PGOFF NAME FLAGS</c> line per
/// VMA inside the window (pages relative to the window's base), then <c>end</c>.
/// </summary>
internal static class MapsPrinter
{
    /// <summary>The VmFlags mnemonics the oracle keeps by default, sorted in ascending byte order.</summary>
    private static readonly (string Mnemonic, VmFlags Flag)[] s_kept = SortedKeptSet();

    /// <summary>The VMAs of <paramref name="space"/> that lie in the trace window, in address order.</summary>
    public static List<VmaInfo> InWindow(AddressSpace space) =>
        InRange(space, TraceRunner.WindowBase, TraceRunner.WindowBase + (TraceRunner.WindowPages << MmConstants.PageShift));

    /// <summary>The VMAs of <paramref name="space"/> that overlap [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public static List<VmaInfo> InRange(AddressSpace space, ulong start, ulong end) =>
        space.Snapshot().Where(vma => vma.End > start && vma.Start < end).ToList();

    /// <summary>
    /// Writes the <c>maps</c> block of the VMAs that overlap [<paramref name="windowBase"/>, <paramref name="windowEnd"/>),
    /// with pages counted from <paramref name="windowBase"/> (the syscall fuzzer prints zones with base 0: absolute pages).
    /// </summary>
    public static void Print(AddressSpace space, TextWriter output, ulong windowBase, ulong windowEnd) =>
        Print(InRange(space, windowBase, windowEnd), output, windowBase);

    /// <summary>Writes the <c>maps</c> block of <paramref name="vmas"/> (from <see cref="InWindow"/>).</summary>
    public static void Print(IReadOnlyList<VmaInfo> vmas, TextWriter output) => Print(vmas, output, TraceRunner.WindowBase);

    /// <summary>Writes the <c>maps</c> block of <paramref name="vmas"/>, pages counted from <paramref name="windowBase"/>.</summary>
    private static void Print(IReadOnlyList<VmaInfo> vmas, TextWriter output, ulong windowBase)
    {
        var text = new StringBuilder("maps\n");
        foreach (VmaInfo vma in vmas)
        {
            text.Append(Page(vma.Start, windowBase)).Append('-').Append(Page(vma.End, windowBase)).Append(' ').Append(Perms(vma)).Append(' ');
            text.Append(vma.Backing == VmaBacking.Anonymous ? "-" : vma.Pgoff.ToString(CultureInfo.InvariantCulture));
            text.Append(' ').Append(Name(vma)).Append(' ');
            List<string> mnemonics = Mnemonics(vma.Flags);
            text.Append(mnemonics.Count > 0 ? string.Join(',', mnemonics) : "-").Append('\n');
        }

        text.Append("end\n");
        output.Write(text.ToString());
    }

    /// <summary>PERMS: <c>r</c>, <c>w</c>, <c>x</c> or <c>-</c> each, then <c>s</c> (VM_MAYSHARE) or <c>p</c>.</summary>
    public static string Perms(in VmaInfo vma) => string.Create(4, vma.Flags, static (chars, flags) =>
    {
        chars[0] = (flags & VmFlags.Read) != 0 ? 'r' : '-';
        chars[1] = (flags & VmFlags.Write) != 0 ? 'w' : '-';
        chars[2] = (flags & VmFlags.Exec) != 0 ? 'x' : '-';
        chars[3] = (flags & VmFlags.MayShare) != 0 ? 's' : 'p';
    });

    /// <summary>NAME: the file, <c>[anon_shared]</c>, <c>[anon:X]</c>, <c>[anon_shmem:X]</c> or <c>-</c>.</summary>
    public static string Name(in VmaInfo vma) => vma.Backing switch
    {
        VmaBacking.File => vma.FileName!,
        VmaBacking.SharedAnonymous => vma.AnonName != null ? $"[anon_shmem:{vma.AnonName}]" : "[anon_shared]",
        _ => vma.AnonName != null ? $"[anon:{vma.AnonName}]" : "-",
    };

    /// <summary>The mnemonics of the kept set that <paramref name="flags"/> holds, in ascending byte order.</summary>
    public static List<string> Mnemonics(VmFlags flags) =>
        s_kept.Where(kept => (flags & kept.Flag) != 0).Select(kept => kept.Mnemonic).ToList();

    /// <summary>The window page of a byte address.</summary>
    public static ulong Page(ulong address) => Page(address, TraceRunner.WindowBase);

    private static ulong Page(ulong address, ulong windowBase) => (address - windowBase) >> MmConstants.PageShift;

    private static (string, VmFlags)[] SortedKeptSet()
    {
        var kept = new List<(string Mnemonic, VmFlags Flag)>
        {
            ("rd", VmFlags.Read), ("wr", VmFlags.Write), ("ex", VmFlags.Exec), ("sh", VmFlags.Shared),
            ("mr", VmFlags.MayRead), ("mw", VmFlags.MayWrite), ("me", VmFlags.MayExec), ("ms", VmFlags.MayShare),
            ("gd", VmFlags.GrowsDown), ("lo", VmFlags.Locked), ("dc", VmFlags.DontCopy), ("de", VmFlags.DontExpand),
            ("ac", VmFlags.Account), ("nr", VmFlags.NoReserve), ("ht", VmFlags.HugeTlb), ("nh", VmFlags.NoHugePage),
            ("hg", VmFlags.HugePage), ("dd", VmFlags.DontDump), ("wf", VmFlags.WipeOnFork), ("sr", VmFlags.SeqRead),
            ("rr", VmFlags.RandRead), ("lf", VmFlags.LockOnFault), ("mg", VmFlags.Mergeable), ("sl", VmFlags.Sealed),
        };
        kept.Sort((a, b) => string.CompareOrdinal(a.Mnemonic, b.Mnemonic));
        return kept.ToArray();
    }
}
