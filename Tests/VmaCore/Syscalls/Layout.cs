using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using VmaEngine.Vma;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// Test helpers: page addresses relative to a 1 GiB-aligned base, and a compact text of the layout in the oracle's
/// "vmatrace" form (<c>START-END PERMS PGOFF NAME FLAGS</c>, pages relative to the base, the default kept flags).
/// </summary>
internal static class Layout
{
    /// <summary>The base address: page 0 of every test (1 GiB aligned, well above mmap_min_addr).</summary>
    public const ulong Base = 0x10_0000_0000;

    /// <summary>The byte address of page <paramref name="page"/>.</summary>
    public static ulong P(ulong page) => Base + (page * MmConstants.PageSize);

    /// <summary>The byte length of <paramref name="pages"/> pages.</summary>
    public static ulong L(ulong pages) => pages * MmConstants.PageSize;

    private static readonly (VmFlags Flag, string Mnemonic)[] s_kept =
    [
        (VmFlags.Read, "rd"), (VmFlags.Write, "wr"), (VmFlags.Exec, "ex"), (VmFlags.Shared, "sh"),
        (VmFlags.MayRead, "mr"), (VmFlags.MayWrite, "mw"), (VmFlags.MayExec, "me"), (VmFlags.MayShare, "ms"),
        (VmFlags.GrowsDown, "gd"), (VmFlags.Locked, "lo"), (VmFlags.DontCopy, "dc"), (VmFlags.DontExpand, "de"),
        (VmFlags.Account, "ac"), (VmFlags.NoReserve, "nr"), (VmFlags.HugeTlb, "ht"), (VmFlags.NoHugePage, "nh"),
        (VmFlags.HugePage, "hg"), (VmFlags.DontDump, "dd"), (VmFlags.WipeOnFork, "wf"), (VmFlags.SeqRead, "sr"),
        (VmFlags.RandRead, "rr"), (VmFlags.LockOnFault, "lf"), (VmFlags.Mergeable, "mg"), (VmFlags.Sealed, "sl"),
        (VmFlags.Droppable, "dp"), (VmFlags.Sync, "sf"), (VmFlags.MaybeGuard, "gu"),
    ];

    /// <summary>One line per VMA, joined by " | ".</summary>
    public static string Of(AddressSpace space) => string.Join(" | ", space.Snapshot().Select(Line));

    /// <summary>The oracle-style line of one VMA.</summary>
    public static string Line(VmaInfo vma)
    {
        var perms = new StringBuilder(4);
        perms.Append((vma.Flags & VmFlags.Read) != 0 ? 'r' : '-');
        perms.Append((vma.Flags & VmFlags.Write) != 0 ? 'w' : '-');
        perms.Append((vma.Flags & VmFlags.Exec) != 0 ? 'x' : '-');
        perms.Append((vma.Flags & VmFlags.MayShare) != 0 ? 's' : 'p');
        string pgoff = vma.Backing == VmaBacking.Anonymous ? "-" : vma.Pgoff.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string name = vma.Backing switch
        {
            VmaBacking.File => vma.FileName!,
            VmaBacking.SharedAnonymous => vma.AnonName != null ? $"[anon_shmem:{vma.AnonName}]" : "[anon_shared]",
            _ => vma.AnonName != null ? $"[anon:{vma.AnonName}]" : "-",
        };
        IEnumerable<string> flags = s_kept.Where(k => (vma.Flags & k.Flag) != 0).Select(k => k.Mnemonic).Order(StringComparer.Ordinal);
        return $"{Page(vma.Start)}-{Page(vma.End)} {perms} {pgoff} {name} {string.Join(',', flags)}";
    }

    private static long Page(ulong address) => (long)(address - Base) / (long)MmConstants.PageSize;
}
