using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The page-granular translation table of a <see cref="GuestMemory"/>: a two-level radix table over the guest range
/// [low, high), in the style of Ryujinx's page table and the radix tables of hardware MMUs. A directory of one
/// pointer per 2 MiB of guest range (reserved demand-zero host memory, so untouched parts cost nothing) points to
/// leaves of 512 <see cref="TranslationEntry"/> values, one 4 KiB leaf per 2 MiB that ever held a mapping
/// (0.2% of that memory).
/// </summary>
/// <remarks>
/// Protocol: one writer at a time (the <see cref="GuestMemory"/> lock); readers take no lock. Entries are 64-bit
/// words written with <see cref="Volatile.Write(ref ulong, ulong)"/>, so a reader sees an entry before or after a
/// change, never torn. A leaf, once installed, stays until <see cref="Dispose"/>, so a reader never loads from
/// freed memory. The writer narrows entries before the host takes access away and widens them after the host gave
/// it, so an entry never allows more than the host mapping does at that moment; a host address a reader already
/// holds is, like a TLB entry, only good until the next operation on its page.
/// </remarks>
internal sealed unsafe class TranslationTable : IDisposable
{
    /// <summary>log2 of the entries in one leaf.</summary>
    public const int LeafShift = 9;

    /// <summary>The entries in one leaf (one host page of entries).</summary>
    public const int LeafEntries = 1 << LeafShift;

    /// <summary>The bytes of one leaf.</summary>
    public const int LeafBytes = LeafEntries * sizeof(ulong);

    /// <summary>The first guest address the table covers.</summary>
    private readonly ulong _low;

    /// <summary>The bytes of guest range the table covers.</summary>
    private readonly ulong _size;

    /// <summary>The host address of guest address <see cref="_low"/>.</summary>
    private readonly nint _hostBase;

    /// <summary>One leaf pointer per 2 MiB of guest range, null where no leaf was needed yet.</summary>
    private readonly nint* _directory;

    /// <summary>The bytes reserved for <see cref="_directory"/> (a multiple of the page size).</summary>
    private readonly nuint _directoryBytes;

    /// <summary>The leaves installed.</summary>
    private int _leafCount;

    /// <summary>How many leaves each directory page points to: a page with none was never touched.</summary>
    private readonly int[] _leavesPerDirectoryPage;

    private bool _disposed;

    /// <summary>An empty table (every entry zero) for [<paramref name="low"/>, +<paramref name="size"/>) at <paramref name="hostBase"/>.</summary>
    public TranslationTable(ulong low, ulong size, nint hostBase)
    {
        Debug.Assert((low & MmConstants.PageMask) == low && (size & MmConstants.PageMask) == size, "unaligned guest range");
        _low = low;
        _size = size;
        _hostBase = hostBase;
        ulong leaves = (size >> MmConstants.PageShift) + LeafEntries - 1 >> LeafShift;
        nuint pageSize = OsPages.PageSize;
        _directoryBytes = (nuint)(((leaves * (ulong)sizeof(nint)) + pageSize - 1) & ~(ulong)(pageSize - 1));
        nint directory = HostMapping.Reserve(_directoryBytes);
        HostMapping.Protect(directory, _directoryBytes, HostProtection.Read | HostProtection.Write);
        _directory = (nint*)directory;
        _leavesPerDirectoryPage = new int[_directoryBytes / pageSize];
    }

    /// <summary>The host memory the table holds now: its leaves and the directory pages that point to one.</summary>
    public ulong MemoryBytes
    {
        get
        {
            int touchedPages = 0;
            foreach (int count in _leavesPerDirectoryPage)
            {
                touchedPages += count != 0 ? 1 : 0;
            }

            return ((ulong)_leafCount * LeafBytes) + ((ulong)touchedPages * OsPages.PageSize);
        }
    }

    /// <summary>
    /// The host address of <paramref name="guestAddress"/> when its page allows <paramref name="access"/> without a
    /// fault (<see cref="TranslateStatus.Ok"/>), else zero and why not. Lock free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TranslateStatus Translate(ulong guestAddress, FaultAccess access, out nint hostAddress)
    {
        ulong offset = guestAddress - _low;
        ulong entry = offset < _size ? LoadEntry(offset) : 0;
        if ((entry & TranslationEntry.BitOf(access)) != 0)
        {
            hostAddress = (nint)((entry & ~TranslationEntry.FlagsMask) | (guestAddress & TranslationEntry.FlagsMask));
            return TranslateStatus.Ok;
        }

        hostAddress = 0;
        return TranslationEntry.Refusal(entry, access);
    }

    /// <summary>The entry of the page of guest address <paramref name="guestAddress"/>; zero outside the range.</summary>
    public ulong EntryAt(ulong guestAddress)
    {
        ulong offset = guestAddress - _low;
        return offset < _size ? LoadEntry(offset) : 0;
    }

    /// <summary>
    /// Sets every entry of the guest pages [<paramref name="start"/>, <paramref name="end"/>) to the page's host
    /// address with <paramref name="flags"/> (zero <paramref name="flags"/> and not <paramref name="present"/>: nothing mapped).
    /// Writer only.
    /// </summary>
    public void Fill(ulong start, ulong end, ulong flags, bool present)
    {
        for (ulong address = start; address < end; address += MmConstants.PageSize)
        {
            ulong offset = address - _low;
            ulong entry = present ? TranslationEntry.Make(HostPageOf(offset), flags) : 0;
            ref ulong slot = ref SlotFor(offset, allocate: present);
            if (!Unsafe.IsNullRef(ref slot))
            {
                Volatile.Write(ref slot, entry);
            }
        }
    }

    /// <summary>
    /// Narrows every entry of [<paramref name="start"/>, <paramref name="end"/>) to the access bits it shares with
    /// <paramref name="flags"/>, before the host takes access away. Writer only.
    /// </summary>
    public void Narrow(ulong start, ulong end, ulong flags)
    {
        ulong keep = ~TranslationEntry.AccessMask | flags;
        for (ulong address = start; address < end; address += MmConstants.PageSize)
        {
            ref ulong slot = ref SlotFor(address - _low, allocate: false);
            if (!Unsafe.IsNullRef(ref slot))
            {
                Volatile.Write(ref slot, slot & keep);
            }
        }
    }

    /// <summary>Whether every page of [<paramref name="start"/>, <paramref name="end"/>) has exactly <paramref name="entryFlags"/> (zero: unmapped).</summary>
    public bool AllFlagsEqual(ulong start, ulong end, ulong entryFlags)
    {
        for (ulong address = start; address < end; address += MmConstants.PageSize)
        {
            ulong entry = EntryAt(address);
            ulong flags = entry == 0 ? 0 : (entry & TranslationEntry.FlagsMask);
            if (flags != entryFlags)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Frees the leaves and the directory.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        int pointersPerPage = (int)(OsPages.PageSize / (nuint)sizeof(nint));
        for (int page = 0; page < _leavesPerDirectoryPage.Length; page++)
        {
            for (int i = 0; _leavesPerDirectoryPage[page] != 0 && i < pointersPerPage; i++)
            {
                NativeMemory.AlignedFree((void*)_directory[(page * pointersPerPage) + i]);
            }
        }

        HostMapping.Release((nint)_directory, _directoryBytes);
    }

    /// <summary>The host address of the page at <paramref name="offset"/> bytes into the guest range.</summary>
    private nint HostPageOf(ulong offset) => _hostBase + (nint)(offset & MmConstants.PageMask);

    /// <summary>The entry at <paramref name="offset"/> bytes into the range: a shift, two loads and a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LoadEntry(ulong offset)
    {
        ulong* leaf = (ulong*)Volatile.Read(ref _directory[offset >> (MmConstants.PageShift + LeafShift)]);
        return leaf == null ? 0 : Volatile.Read(ref leaf[(offset >> MmConstants.PageShift) & (LeafEntries - 1)]);
    }

    /// <summary>The slot of the page at <paramref name="offset"/>, installing its leaf when <paramref name="allocate"/>; a null reference when it has none.</summary>
    private ref ulong SlotFor(ulong offset, bool allocate)
    {
        ulong leafIndex = offset >> (MmConstants.PageShift + LeafShift);
        ulong* leaf = (ulong*)_directory[leafIndex];
        if (leaf == null)
        {
            if (!allocate)
            {
                return ref Unsafe.NullRef<ulong>();
            }

            leaf = (ulong*)NativeMemory.AlignedAlloc(LeafBytes, LeafBytes);
            NativeMemory.Clear(leaf, LeafBytes);
            Volatile.Write(ref _directory[leafIndex], (nint)leaf);
            _leafCount++;
            _leavesPerDirectoryPage[(int)(leafIndex * (ulong)sizeof(nint) / OsPages.PageSize)]++;
        }

        return ref leaf[(offset >> MmConstants.PageShift) & (LeafEntries - 1)];
    }
}
