using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma;

/// <summary>
/// What <c>/proc/pid/maps</c> and the <c>VmFlags:</c> line of <c>/proc/pid/smaps</c> show (Linux v6.15
/// <c>fs/proc/task_mmu.c</c>: <c>show_map_vma</c>, <c>get_vma_name</c>, <c>show_smap_vma_flags</c>), and a
/// structured snapshot of the VMAs for hosts and tests. Both read under mmap_lock for read.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>The column where a maps line's name starts (<c>25 + sizeof(void *) * 6 - 1</c>, then one space).</summary>
    private const int MapsNameColumn = 72;

    /// <summary>The smaps mnemonic of each <c>vm_flags</c> bit, by bit number (null: not shown).</summary>
    private static readonly string?[] s_mnemonics = BuildMnemonics();

    /// <summary>A copy of every VMA, in address order, taken atomically under mmap_lock for read.</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public IReadOnlyList<VmaInfo> Snapshot()
    {
        ThrowIfDisposed();
        var list = new List<VmaInfo>(MapCount);
        MmapLock.ReadLock();
        try
        {
            ulong address = 0;
            VmArea* vma;
            while ((vma = Tree.FindAtOrAfter(address, ulong.MaxValue, out _, out ulong end)) != null)
            {
                list.Add(vma->ToInfo());
                address = end;
            }
        }
        finally
        {
            MmapLock.ReadUnlock();
        }

        return list;
    }

    /// <summary>
    /// The <c>/proc/pid/maps</c> line of every VMA, each followed by its smaps <c>VmFlags:</c> line
    /// (<see cref="MapsFormat.MapsWithVmFlags"/>; <see cref="FormatMaps(MapsFormat)"/> with
    /// <see cref="MapsFormat.Maps"/> gives the maps lines alone).
    /// </summary>
    public string FormatMaps() => FormatMaps(MapsFormat.MapsWithVmFlags);

    /// <summary>
    /// The layout as <c>/proc/pid/maps</c> prints it (<see cref="MapsFormat.Maps"/>), or with each VMA's smaps
    /// <c>VmFlags:</c> line after its maps line (<see cref="MapsFormat.MapsWithVmFlags"/>), exactly as the kernel
    /// formats them: hex addresses, the permission letters, the byte offset of file mappings, device and inode, then
    /// the padded name (the file, <c>/dev/zero (deleted)</c>, <c>[heap]</c>, <c>[anon:NAME]</c> or
    /// <c>[anon_shmem:NAME]</c>); the VmFlags mnemonics in bit order, each followed by a space.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="format"/> is not a <see cref="MapsFormat"/> value.</exception>
    public string FormatMaps(MapsFormat format)
    {
        ThrowIfDisposed();
        if (format is not (MapsFormat.Maps or MapsFormat.MapsWithVmFlags))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "FormatMaps: not a MapsFormat value");
        }

        var text = new StringBuilder();
        ulong startBrk = Options.StartBrk;
        ulong brk;
        MmapLock.ReadLock();
        try
        {
            brk = startBrk + _brkOffset;
            ulong address = 0;
            VmArea* vma;
            while ((vma = Tree.FindAtOrAfter(address, ulong.MaxValue, out _, out ulong end)) != null)
            {
                AppendMapsLine(text, vma, startBrk, brk);
                if (format == MapsFormat.MapsWithVmFlags)
                {
                    AppendVmFlagsLine(text, vma->VmFlags);
                }

                address = end;
            }
        }
        finally
        {
            MmapLock.ReadUnlock();
        }

        return text.ToString();
    }

    /// <summary><c>show_map_vma</c>: one maps line.</summary>
    private static void AppendMapsLine(StringBuilder text, VmArea* vma, ulong startBrk, ulong brk)
    {
        int lineStart = text.Length;
        VmFlags flags = vma->VmFlags;
        VmFile* file = vma->VmFile;
        CultureInfo invariant = CultureInfo.InvariantCulture;
        text.Append(invariant, $"{vma->VmStart:x8}-{vma->VmEnd:x8} ");
        text.Append((flags & VmFlags.Read) != 0 ? 'r' : '-');
        text.Append((flags & VmFlags.Write) != 0 ? 'w' : '-');
        text.Append((flags & VmFlags.Exec) != 0 ? 'x' : '-');
        text.Append((flags & VmFlags.MayShare) != 0 ? 's' : 'p');
        ulong offset = file == null ? 0 : vma->VmPgoff << MmConstants.PageShift;
        string device = file == null ? "00:00" : "00:01";
        int inode = file == null ? 0 : file->Id;
        text.Append(invariant, $" {offset:x8} {device} {inode} ");
        string? name = VmaName(vma, startBrk, brk);
        if (name != null)
        {
            int pad = MapsNameColumn - (text.Length - lineStart);
            text.Append(' ', pad > 0 ? pad : 0).Append(' ').Append(name);
        }

        text.Append('\n');
    }

    /// <summary><c>get_vma_name</c>: what the maps line names the VMA, or null.</summary>
    private static string? VmaName(VmArea* vma, ulong startBrk, ulong brk)
    {
        string? anonName = AnonNameTable.TextOf(vma->AnonVmaName);
        VmFile* file = vma->VmFile;
        if (file != null)
        {
            if (anonName != null)
            {
                return $"[anon_shmem:{anonName}]";
            }

            return FileNames.NameOf(file) ?? FileNames.SharedAnonymousPath;
        }

        if (vma->VmStart < brk && vma->VmEnd > startBrk)
        {
            return "[heap]";
        }

        return anonName != null ? $"[anon:{anonName}]" : null;
    }

    /// <summary><c>show_smap_vma_flags</c>: the mnemonics of the set bits in bit order, each followed by a space.</summary>
    private static void AppendVmFlagsLine(StringBuilder text, VmFlags flags)
    {
        text.Append("VmFlags: ");
        for (int bit = 0; bit < s_mnemonics.Length; bit++)
        {
            string? mnemonic = s_mnemonics[bit];
            if (mnemonic != null && ((ulong)flags & (1UL << bit)) != 0)
            {
                text.Append(mnemonic).Append(' ');
            }
        }

        text.Append('\n');
    }

    /// <summary>The smaps mnemonic table of x86-64 (the configuration-dependent <c>sd</c> is shown when set).</summary>
    private static string?[] BuildMnemonics()
    {
        var table = new string?[64];
        (VmFlags Flag, string Mnemonic)[] entries =
        [
            (VmFlags.Read, "rd"), (VmFlags.Write, "wr"), (VmFlags.Exec, "ex"), (VmFlags.Shared, "sh"),
            (VmFlags.MayRead, "mr"), (VmFlags.MayWrite, "mw"), (VmFlags.MayExec, "me"), (VmFlags.MayShare, "ms"),
            (VmFlags.GrowsDown, "gd"), (VmFlags.UffdMissing, "um"), (VmFlags.PfnMap, "pf"), (VmFlags.UffdWp, "uw"),
            (VmFlags.Locked, "lo"), (VmFlags.Io, "io"), (VmFlags.SeqRead, "sr"), (VmFlags.RandRead, "rr"),
            (VmFlags.DontCopy, "dc"), (VmFlags.DontExpand, "de"), (VmFlags.LockOnFault, "lf"), (VmFlags.Account, "ac"),
            (VmFlags.NoReserve, "nr"), (VmFlags.HugeTlb, "ht"), (VmFlags.Sync, "sf"), (VmFlags.Arch1, "ar"),
            (VmFlags.WipeOnFork, "wf"), (VmFlags.DontDump, "dd"), (VmFlags.SoftDirty, "sd"), (VmFlags.MixedMap, "mm"),
            (VmFlags.HugePage, "hg"), (VmFlags.NoHugePage, "nh"), (VmFlags.Mergeable, "mg"),
        ];
        foreach ((VmFlags flag, string mnemonic) in entries)
        {
            table[System.Numerics.BitOperations.Log2((ulong)flag)] = mnemonic;
        }

        return table;
    }
}
