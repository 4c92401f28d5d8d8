using System.Collections.Generic;
using System.IO;
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

    /// <summary>The block of the trace window (<see cref="TraceRunner.WindowBase"/>, <see cref="TraceRunner.WindowPages"/>).</summary>
    public static void Print(AddressSpace space, TextWriter output) =>
        Print(space, output, TraceRunner.WindowBase, TraceRunner.WindowBase + (TraceRunner.WindowPages << MmConstants.PageShift));

    /// <summary>
    /// The block of the VMAs that overlap [<paramref name="windowBase"/>, <paramref name="windowEnd"/>), with pages
    /// counted from <paramref name="windowBase"/> (the syscall fuzzer prints zones with base 0: absolute pages).
    /// </summary>
    public static void Print(AddressSpace space, TextWriter output, ulong windowBase, ulong windowEnd)
    {
        var text = new StringBuilder("maps\n");
        foreach (VmaInfo vma in space.Snapshot())
        {
            if (vma.End <= windowBase || vma.Start >= windowEnd)
            {
                continue;
            }

            AppendLine(text, vma, windowBase);
        }

        text.Append("end\n");
        output.Write(text.ToString());
    }

    private static void AppendLine(StringBuilder text, in VmaInfo vma, ulong windowBase)
    {
        text.Append((vma.Start - windowBase) >> MmConstants.PageShift).Append('-');
        text.Append((vma.End - windowBase) >> MmConstants.PageShift).Append(' ');
        text.Append((vma.Flags & VmFlags.Read) != 0 ? 'r' : '-');
        text.Append((vma.Flags & VmFlags.Write) != 0 ? 'w' : '-');
        text.Append((vma.Flags & VmFlags.Exec) != 0 ? 'x' : '-');
        text.Append((vma.Flags & VmFlags.MayShare) != 0 ? 's' : 'p').Append(' ');
        if (vma.Backing == VmaBacking.Anonymous)
        {
            text.Append('-');
        }
        else
        {
            text.Append(vma.Pgoff);
        }

        text.Append(' ').Append(Name(vma)).Append(' ');
        int before = text.Length;
        foreach ((string mnemonic, VmFlags flag) in s_kept)
        {
            if ((vma.Flags & flag) != 0)
            {
                text.Append(text.Length > before ? "," : "").Append(mnemonic);
            }
        }

        if (text.Length == before)
        {
            text.Append('-');
        }

        text.Append('\n');
    }

    private static string Name(in VmaInfo vma) => vma.Backing switch
    {
        VmaBacking.File => vma.FileName!,
        VmaBacking.SharedAnonymous => vma.AnonName != null ? $"[anon_shmem:{vma.AnonName}]" : "[anon_shared]",
        _ => vma.AnonName != null ? $"[anon:{vma.AnonName}]" : "-",
    };

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
