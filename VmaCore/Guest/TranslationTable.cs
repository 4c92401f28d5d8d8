using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The page-granular translation table of a <see cref="GuestMemory"/>, filled on demand like a software TLB: a
/// <see cref="PageRunMap"/> says what each page allows (one run per VMA, whatever its size), and a two-level radix
/// table in the style of Ryujinx's page table caches it per page for <see cref="Translate"/>. A directory of one
/// pointer per 2 MiB of guest range (reserved demand-zero host memory, so untouched parts cost nothing) points to
/// leaves of 512 <see cref="TranslationEntry"/> values; a leaf exists only where a page was translated (0.2% of a
/// densely touched range). Counts of live leaves per directory page (1 GiB) and of live directory pages per group
/// (512 GiB) let a change walk only the leaves that hold entries, so no operation costs more than the pages touched
/// in its range plus the range's groups.
/// </summary>
/// <remarks>
/// <para>
/// Protocol: one writer at a time (the <see cref="GuestMemory"/> lock); <see cref="Translate"/> takes no lock and
/// <see cref="Install"/> none but a counter. Entries are 64-bit words written whole, so a reader sees an entry
/// before or after a change, never torn. A leaf, once installed, stays until <see cref="Dispose"/>, so a reader never
/// loads from freed memory. The writer narrows the map and the entries before the host takes access away and widens
/// them after the host gave it, so an entry never allows more than the host mapping does at that moment.
/// </para>
/// <para>
/// Each change of the map and the entries is one step that installers cannot interleave with: the writer raises
/// <see cref="_changing"/> and waits until no <see cref="Install"/> is running; an install that sees the flag raised
/// waits until it drops. An install therefore copies flags into an entry either wholly before a change (which then
/// rewrites the entry) or wholly after it. A host address a reader already holds is, like a TLB entry, only good
/// until the next operation on its page.
/// </para>
/// </remarks>
internal sealed unsafe class TranslationTable : IDisposable
{
    /// <summary>log2 of the entries in one leaf.</summary>
    public const int LeafShift = 9;

    /// <summary>The entries in one leaf (one host page of entries).</summary>
    public const int LeafEntries = 1 << LeafShift;

    /// <summary>The bytes of one leaf's entries.</summary>
    public const int LeafBytes = LeafEntries * sizeof(ulong);

    /// <summary>The bytes allocated per leaf: its entries, then a cache line holding the count of its live entries.</summary>
    public const int LeafAllocationBytes = LeafBytes + 64;

    /// <summary>log2 of the leaves one directory page points to, and of the directory pages in one group.</summary>
    private const int FanShift = 9;

    /// <summary>The bytes of one directory page, and of one page of <see cref="_pageCounts"/> (one group's counts).</summary>
    private const int TablePageBytes = 4096;

    /// <summary>The first guest address the table covers.</summary>
    private readonly ulong _low;

    /// <summary>The bytes of guest range the table covers.</summary>
    private readonly ulong _size;

    /// <summary>The host address of guest address <see cref="_low"/>.</summary>
    private readonly nint _hostBase;

    /// <summary>One leaf pointer per 2 MiB of guest range, null where no page was translated yet.</summary>
    private readonly nint* _directory;

    /// <summary>The bytes reserved for <see cref="_directory"/>.</summary>
    private readonly nuint _directoryBytes;

    /// <summary>Per directory page: its leaves, and those holding an entry (reserved demand-zero, one page per group).</summary>
    private readonly DirectoryPageCounts* _pageCounts;

    /// <summary>The bytes reserved for <see cref="_pageCounts"/>.</summary>
    private readonly nuint _pageCountsBytes;

    /// <summary>Per group of 512 directory pages: the pages with a leaf, and those with a live leaf.</summary>
    private readonly DirectoryPageCounts[] _groupCounts;

    /// <summary>What each page allows: the source of every entry.</summary>
    private readonly PageRunMap _runs = new();

    /// <summary>The <see cref="Install"/> calls running now.</summary>
    private int _installers;

    /// <summary>1 while the writer changes <see cref="_runs"/> and the entries.</summary>
    private int _changing;

    /// <summary>The leaves allocated.</summary>
    private int _leafCount;

    /// <summary>The directory pages that point to a leaf.</summary>
    private int _touchedDirectoryPages;

    /// <summary>The groups with such a directory page (each has touched one page of <see cref="_pageCounts"/>).</summary>
    private int _touchedGroups;

    private bool _disposed;

    /// <summary>An empty table for [<paramref name="low"/>, +<paramref name="size"/>) at <paramref name="hostBase"/>: nothing mapped.</summary>
    public TranslationTable(ulong low, ulong size, nint hostBase)
    {
        Debug.Assert((low & MmConstants.PageMask) == low && (size & MmConstants.PageMask) == size, "unaligned guest range");
        _low = low;
        _size = size;
        _hostBase = hostBase;
        ulong leaves = (size >> MmConstants.PageShift) + LeafEntries - 1 >> LeafShift;
        ulong directoryPages = (leaves + (1UL << FanShift) - 1) >> FanShift;
        ulong groups = (directoryPages + (1UL << FanShift) - 1) >> FanShift;
        _directoryBytes = ReserveSize(leaves * (ulong)sizeof(nint));
        _pageCountsBytes = ReserveSize(directoryPages * (ulong)sizeof(DirectoryPageCounts));
        _directory = (nint*)ReserveReadWrite(_directoryBytes);
        try
        {
            _pageCounts = (DirectoryPageCounts*)ReserveReadWrite(_pageCountsBytes);
        }
        catch
        {
            HostMapping.Release((nint)_directory, _directoryBytes);
            throw;
        }

        _groupCounts = new DirectoryPageCounts[groups];
    }

    /// <summary>
    /// The host memory the table holds now: its leaves, the directory and count pages that point to one, the group
    /// counts and the run map.
    /// </summary>
    public ulong MemoryBytes =>
        ((ulong)Volatile.Read(ref _leafCount) * LeafAllocationBytes)
        + ((ulong)(Volatile.Read(ref _touchedDirectoryPages) + Volatile.Read(ref _touchedGroups)) * TablePageBytes)
        + ((ulong)_groupCounts.Length * (ulong)sizeof(DirectoryPageCounts))
        + _runs.MemoryBytes;

    /// <summary>
    /// The host address of <paramref name="guestAddress"/> when its cached entry allows <paramref name="access"/>
    /// without a fault (<see cref="TranslateStatus.Ok"/>), else zero and why not; <see cref="TranslateStatus.Unmapped"/>
    /// when no entry is cached (see <see cref="Install"/>). Lock free.
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

    /// <summary>
    /// The slow path of a <see cref="Translate"/> that found no entry: the page's flags from the run map, cached in
    /// its entry when they allow <paramref name="access"/> and the page holds no guard marker. Unmapped for a hole or
    /// a guard page. Lock free (it waits only while the writer changes the table).
    /// </summary>
    /// <exception cref="OutOfMemoryException">A leaf could not be allocated; nothing changed.</exception>
    public TranslateStatus Install(ulong guestAddress, FaultAccess access, GuardPageSet guards, out nint hostAddress)
    {
        hostAddress = 0;
        ulong offset = guestAddress - _low;
        if (offset >= _size)
        {
            return TranslateStatus.Unmapped;
        }

        EnterInstall();
        try
        {
            ulong flags = _runs.FlagsAt(guestAddress);
            ulong page = guestAddress & MmConstants.PageMask;
            if (flags == 0 || guards.FirstIn(page, page + MmConstants.PageSize) == page)
            {
                return TranslateStatus.Unmapped;
            }

            ulong entry = TranslationEntry.Make(HostPageOf(offset), flags & ~TranslationEntry.Present);
            if ((entry & TranslationEntry.BitOf(access)) == 0)
            {
                return TranslationEntry.Refusal(entry, access);
            }

            Store(offset, entry);
            hostAddress = (nint)((entry & ~TranslationEntry.FlagsMask) | (guestAddress & TranslationEntry.FlagsMask));
            return TranslateStatus.Ok;
        }
        finally
        {
            Interlocked.Decrement(ref _installers);
        }
    }

    /// <summary>
    /// Gives every page of [<paramref name="start"/>, <paramref name="end"/>) <paramref name="flags"/> (without
    /// <see cref="TranslationEntry.Present"/>), or, when not <paramref name="present"/>, makes it a hole; cached
    /// entries of the range follow. Writer only.
    /// </summary>
    public void Fill(ulong start, ulong end, ulong flags, bool present)
    {
        ulong runFlags = present ? flags | TranslationEntry.Present : 0;
        BeginChange();
        _runs.Assign(start, end, runFlags);
        RewriteEntries(start, end, present ? ~TranslationEntry.FlagsMask : 0, runFlags);
        EndChange();
    }

    /// <summary>
    /// Narrows every page of [<paramref name="start"/>, <paramref name="end"/>) to the access bits it shares with
    /// <paramref name="flags"/>, before the host takes access away. Writer only.
    /// </summary>
    public void Narrow(ulong start, ulong end, ulong flags)
    {
        BeginChange();
        _runs.Narrow(start, end, flags);
        RewriteEntries(start, end, ~TranslationEntry.AccessMask | flags, 0);
        EndChange();
    }

    /// <summary>Drops the cached entries of [<paramref name="start"/>, <paramref name="end"/>) (a guard marker was installed there). Writer only.</summary>
    public void Invalidate(ulong start, ulong end)
    {
        BeginChange();
        RewriteEntries(start, end, 0, 0);
        EndChange();
    }

    /// <summary>The flags the run map gives the page at <paramref name="guestAddress"/> (zero: unmapped). Writer only.</summary>
    public ulong FlagsAt(ulong guestAddress) => _runs.FlagsAt(guestAddress);

    /// <summary>Whether every page of [<paramref name="start"/>, <paramref name="end"/>) has exactly <paramref name="entryFlags"/> (zero: unmapped). Writer only.</summary>
    public bool AllFlagsEqual(ulong start, ulong end, ulong entryFlags) => _runs.AllEqual(start, end, entryFlags);

    /// <summary>Frees the leaves, the directory and the counts. No reader may run any more.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ulong leaves = _directoryBytes / (ulong)sizeof(nint);
        for (ulong group = 0; group < (ulong)_groupCounts.Length; group++)
        {
            for (ulong dirPage = group << FanShift; _groupCounts[group].Installed != 0 && dirPage < (group + 1) << FanShift; dirPage++)
            {
                for (ulong leaf = dirPage << FanShift; _pageCounts[dirPage].Installed != 0 && leaf < Math.Min((dirPage + 1) << FanShift, leaves); leaf++)
                {
                    NativeMemory.AlignedFree((void*)_directory[leaf]);
                }
            }
        }

        HostMapping.Release((nint)_directory, _directoryBytes);
        HostMapping.Release((nint)_pageCounts, _pageCountsBytes);
    }

    /// <summary><paramref name="bytes"/> rounded up to the host page size (one page at least).</summary>
    private static nuint ReserveSize(ulong bytes)
    {
        ulong pageSize = OsPages.PageSize;
        return (nuint)Math.Max(pageSize, (bytes + pageSize - 1) & ~(pageSize - 1));
    }

    /// <summary>Reserves <paramref name="size"/> bytes of demand-zero read-write host memory.</summary>
    private static nint ReserveReadWrite(nuint size)
    {
        nint memory = HostMapping.Reserve(size);
        try
        {
            HostMapping.Protect(memory, size, HostProtection.Read | HostProtection.Write);
        }
        catch
        {
            HostMapping.Release(memory, size);
            throw;
        }

        return memory;
    }

    /// <summary>The count of live entries kept after a leaf's entries.</summary>
    private static ref int LiveEntries(ulong* leaf) => ref *(int*)(leaf + LeafEntries);

    /// <summary>The host address of the page at <paramref name="offset"/> bytes into the guest range.</summary>
    private nint HostPageOf(ulong offset) => _hostBase + (nint)(offset & MmConstants.PageMask);

    /// <summary>The entry at <paramref name="offset"/> bytes into the range: a shift, two loads and a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LoadEntry(ulong offset)
    {
        ulong* leaf = (ulong*)Volatile.Read(ref _directory[offset >> (MmConstants.PageShift + LeafShift)]);
        return leaf == null ? 0 : Volatile.Read(ref leaf[(offset >> MmConstants.PageShift) & (LeafEntries - 1)]);
    }

    /// <summary>Registers an install, waiting while the writer changes the table.</summary>
    private void EnterInstall()
    {
        var spin = default(SpinWait);
        while (true)
        {
            Interlocked.Increment(ref _installers);
            if (Volatile.Read(ref _changing) == 0)
            {
                return;
            }

            Interlocked.Decrement(ref _installers);
            while (Volatile.Read(ref _changing) != 0)
            {
                spin.SpinOnce();
            }
        }
    }

    /// <summary>Keeps new installs out and waits for the running ones to finish.</summary>
    private void BeginChange()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Interlocked.Exchange(ref _changing, 1);
        var spin = default(SpinWait);
        while (Volatile.Read(ref _installers) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>Lets installs run again.</summary>
    private void EndChange() => Volatile.Write(ref _changing, 0);

    /// <summary>Caches <paramref name="entry"/> for the page at <paramref name="offset"/>, installing its leaf if needed (installers only).</summary>
    private void Store(ulong offset, ulong entry)
    {
        ulong leafIndex = offset >> (MmConstants.PageShift + LeafShift);
        ulong* leaf = (ulong*)Volatile.Read(ref _directory[leafIndex]);
        if (leaf == null)
        {
            leaf = InstallLeaf(leafIndex);
        }

        ref ulong slot = ref leaf[(offset >> MmConstants.PageShift) & (LeafEntries - 1)];
        if (Interlocked.CompareExchange(ref slot, entry, 0) == 0 && Interlocked.Increment(ref LiveEntries(leaf)) == 1)
        {
            ulong dirPage = leafIndex >> FanShift;
            if (Interlocked.Increment(ref _pageCounts[dirPage].Live) == 1)
            {
                Interlocked.Increment(ref _groupCounts[dirPage >> FanShift].Live);
            }
        }
    }

    /// <summary>Allocates the leaf of <paramref name="leafIndex"/>, or returns the one another installer put there first.</summary>
    private ulong* InstallLeaf(ulong leafIndex)
    {
        var leaf = (ulong*)NativeMemory.AlignedAlloc(LeafAllocationBytes, 64);
        NativeMemory.Clear(leaf, LeafAllocationBytes);
        nint winner = Interlocked.CompareExchange(ref _directory[leafIndex], (nint)leaf, 0);
        if (winner != 0)
        {
            NativeMemory.AlignedFree(leaf);
            return (ulong*)winner;
        }

        Interlocked.Increment(ref _leafCount);
        ulong dirPage = leafIndex >> FanShift;
        if (Interlocked.Increment(ref _pageCounts[dirPage].Installed) == 1)
        {
            Interlocked.Increment(ref _touchedDirectoryPages);
            if (Interlocked.Increment(ref _groupCounts[dirPage >> FanShift].Installed) == 1)
            {
                Interlocked.Increment(ref _touchedGroups);
            }
        }

        return leaf;
    }

    /// <summary>
    /// Sets every cached entry e of [<paramref name="start"/>, <paramref name="end"/>) to
    /// (e &amp; <paramref name="keep"/>) | <paramref name="set"/> (zero drops it), visiting only groups, directory
    /// pages and leaves that hold an entry. Between <see cref="BeginChange"/> and <see cref="EndChange"/>.
    /// </summary>
    private void RewriteEntries(ulong start, ulong end, ulong keep, ulong set)
    {
        ulong page = (Math.Clamp(start, _low, _low + _size) - _low) >> MmConstants.PageShift;
        ulong endPage = (Math.Clamp(end, _low, _low + _size) - _low) >> MmConstants.PageShift;
        const int pagesPerDirectoryPage = LeafShift + FanShift;
        const int pagesPerGroup = pagesPerDirectoryPage + FanShift;
        while (page < endPage)
        {
            ulong leafIndex = page >> LeafShift;
            ulong dirPage = leafIndex >> FanShift;
            if (_groupCounts[dirPage >> FanShift].Live == 0)
            {
                page = ((page >> pagesPerGroup) + 1) << pagesPerGroup;
                continue;
            }

            if (_pageCounts[dirPage].Live == 0)
            {
                page = (dirPage + 1) << pagesPerDirectoryPage;
                continue;
            }

            ulong leafEnd = Math.Min((leafIndex + 1) << LeafShift, endPage);
            var leaf = (ulong*)_directory[leafIndex];
            if (leaf != null && LiveEntries(leaf) != 0)
            {
                RewriteLeaf(leaf, leafIndex, (int)(page & (LeafEntries - 1)), (int)(leafEnd - (leafIndex << LeafShift)), keep, set);
            }

            page = leafEnd;
        }
    }

    /// <summary>The part of <see cref="RewriteEntries"/> in one leaf: entries [<paramref name="from"/>, <paramref name="to"/>).</summary>
    private void RewriteLeaf(ulong* leaf, ulong leafIndex, int from, int to, ulong keep, ulong set)
    {
        int live = LiveEntries(leaf);
        for (int i = from; i < to; i++)
        {
            ulong entry = leaf[i];
            if (entry != 0)
            {
                ulong rewritten = (entry & keep) | set;
                Volatile.Write(ref leaf[i], rewritten);
                live -= rewritten == 0 ? 1 : 0;
            }
        }

        Debug.Assert(live >= 0, "a leaf's live count went negative");
        if (live == 0 && LiveEntries(leaf) != 0)
        {
            ulong dirPage = leafIndex >> FanShift;
            if (--_pageCounts[dirPage].Live == 0)
            {
                _groupCounts[dirPage >> FanShift].Live--;
            }
        }

        LiveEntries(leaf) = live;
    }

    /// <summary>Leaf counts of one directory page, or directory-page counts of one group.</summary>
    private struct DirectoryPageCounts
    {
        /// <summary>Leaves ever installed (of a group: directory pages with such a leaf).</summary>
        public int Installed;

        /// <summary>Leaves holding at least one entry now (of a group: directory pages with such a leaf).</summary>
        public int Live;
    }
}
