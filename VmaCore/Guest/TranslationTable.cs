using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The page-granular translation table of a <see cref="GuestMemory"/>, filled on demand like a software TLB: a
/// <see cref="PageRunMap"/> says what each page allows (one run per VMA, whatever its size), and a two-level radix
/// table in the style of Ryujinx's page table caches it per page for <see cref="Translate"/>. A directory of one
/// word per 2 MiB of guest range points to leaves of 512 <see cref="TranslationEntry"/> values (one host page each)
/// and counts the leaf's live entries in its low bits; a leaf exists only while a page it covers holds an entry
/// (0.2% of a densely touched range). Counts of live leaves per directory page (1 GiB) and of live directory pages
/// per group (512 GiB) let a change walk only the leaves that hold entries, so no operation costs more than the
/// pages touched in its range plus the range's groups.
/// </summary>
/// <remarks>
/// <para>
/// Protocol: one writer at a time (the <see cref="GuestMemory"/> lock); <see cref="Translate"/> takes no lock and
/// <see cref="Install"/> none but a counter. Entries are 64-bit words written whole, so a reader sees an entry
/// before or after a change, never torn. The writer narrows the map and the entries before the host takes access away and widens
/// them after the host gave it, so an entry never allows more than the host mapping does at that moment.
/// </para>
/// <para>
/// Each change of the map and the entries is one step that installers cannot interleave with: the writer raises
/// <see cref="_changing"/> and waits until no <see cref="Install"/> is running; an install that sees the flag raised
/// waits until it drops. An install therefore copies flags into an entry either wholly before a change (which then
/// rewrites the entry) or wholly after it. A host address a reader already holds is, like a TLB entry, only good
/// until the next operation on its page.
/// </para>
/// <para>
/// Freeing leaves under lock-free readers: the directory, the leaves and the counts live in host reservations of
/// demand-zero memory that stay mapped until <see cref="Dispose"/>, leaf i always at the same place
/// (<see cref="_leaves"/> + i pages). When a change removes the last entry of a leaf, the writer clears its
/// directory word and gives the leaf's page back to the host (<c>madvise(MADV_DONTNEED)</c>); so do directory and
/// count pages whose last leaf went. Memory a reader may still read is therefore never unmapped nor reused for
/// anything else: a reader that loaded the old directory word reads the leaf's page as zero (no entry: the slow
/// path) or, if an installer brought the leaf back meanwhile, a current entry of its own page. Readers pay
/// nothing for this (no read-side section, as an RCU grace period would need); the writer pays one host call per
/// run of freed pages. On a host whose page size is not 4 KiB, nothing is given back: leaves stay until
/// <see cref="Dispose"/>.
/// </para>
/// </remarks>
internal sealed unsafe class TranslationTable : IDisposable
{
    /// <summary>log2 of the entries in one leaf.</summary>
    public const int LeafShift = 9;

    /// <summary>The entries in one leaf (one host page of entries).</summary>
    public const int LeafEntries = 1 << LeafShift;

    /// <summary>The bytes of one leaf.</summary>
    public const int LeafBytes = LeafEntries * sizeof(ulong);

    /// <summary>The low bits of a directory word, which count the live entries of its leaf (leaves are page aligned).</summary>
    private const long LiveMask = LeafBytes - 1;

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

    /// <summary>
    /// One word per 2 MiB of guest range: the leaf's address ORed with the count of its live entries (under
    /// <see cref="LiveMask"/>), zero where no page holds an entry.
    /// </summary>
    private readonly long* _directory;

    /// <summary>The bytes reserved for <see cref="_directory"/>.</summary>
    private readonly nuint _directoryBytes;

    /// <summary>Per directory page: its leaves, and those holding an entry (reserved demand-zero, one page per group).</summary>
    private readonly DirectoryPageCounts* _pageCounts;

    /// <summary>The bytes reserved for <see cref="_pageCounts"/>.</summary>
    private readonly nuint _pageCountsBytes;

    /// <summary>Per group of 512 directory pages: the pages with a leaf, and those with a live leaf.</summary>
    private readonly DirectoryPageCounts[] _groupCounts;

    /// <summary>The leaves: leaf i is the host page at this address + i pages (reserved demand-zero).</summary>
    private readonly ulong* _leaves;

    /// <summary>The bytes reserved for <see cref="_leaves"/>.</summary>
    private readonly nuint _leavesBytes;

    /// <summary>Whether emptied leaves, directory and count pages go back to the host (the host page is 4 KiB).</summary>
    private readonly bool _givesPagesBack = OsPages.PageSize == TablePageBytes;

    /// <summary>The leaves the current change emptied, in address order (writer only, reused).</summary>
    private readonly List<ulong> _emptied = [];

    /// <summary>What each page allows: the source of every entry.</summary>
    private readonly PageRunMap _runs = new();

    /// <summary>The <see cref="Install"/> calls running now.</summary>
    private int _installers;

    /// <summary>1 while the writer changes <see cref="_runs"/> and the entries.</summary>
    private int _changing;

    /// <summary>The leaves installed.</summary>
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
        _directoryBytes = ReserveSize(leaves * sizeof(long));
        _pageCountsBytes = ReserveSize(directoryPages * (ulong)sizeof(DirectoryPageCounts));
        _leavesBytes = ReserveSize(leaves * LeafBytes);
        _directory = (long*)ReserveReadWrite(_directoryBytes);
        try
        {
            _pageCounts = (DirectoryPageCounts*)ReserveReadWrite(_pageCountsBytes);
            try
            {
                _leaves = (ulong*)ReserveReadWrite(_leavesBytes);
            }
            catch
            {
                HostMapping.Release((nint)_pageCounts, _pageCountsBytes);
                throw;
            }
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
        ((ulong)Volatile.Read(ref _leafCount) * LeafBytes)
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
    /// its entry when they allow <paramref name="access"/>. Unmapped for a hole or a guard page (the run map marks
    /// those with <see cref="TranslationEntry.Guard"/>). Lock free (it waits only while the writer changes the table).
    /// </summary>
    /// <exception cref="OutOfMemoryException">A leaf could not be allocated; nothing changed.</exception>
    public TranslateStatus Install(ulong guestAddress, FaultAccess access, out nint hostAddress)
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
            if (flags == 0 || (flags & TranslationEntry.Guard) != 0)
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
    /// entries of the range follow (those of guard pages and holes go). Writer only.
    /// </summary>
    public void Fill(ulong start, ulong end, ulong flags, bool present)
    {
        ulong runFlags = present ? flags | TranslationEntry.Present : 0;
        bool cacheable = present && (flags & TranslationEntry.Guard) == 0;
        BeginChange();
        _runs.Assign(start, end, runFlags);
        RewriteEntries(start, end, cacheable ? ~TranslationEntry.FlagsMask : 0, cacheable ? runFlags : 0);
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

    /// <summary>The flags the run map gives the page at <paramref name="guestAddress"/> (zero: unmapped). Writer only.</summary>
    public ulong FlagsAt(ulong guestAddress) => _runs.FlagsAt(guestAddress);

    /// <summary>Whether every page of [<paramref name="start"/>, <paramref name="end"/>) has exactly <paramref name="entryFlags"/> (zero: unmapped). Writer only.</summary>
    public bool AllFlagsEqual(ulong start, ulong end, ulong entryFlags) => _runs.AllEqual(start, end, entryFlags);

    /// <summary>Releases the leaves, the directory and the counts. No reader may run any more.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        HostMapping.Release((nint)_leaves, _leavesBytes);
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

    /// <summary>The host address of the page at <paramref name="offset"/> bytes into the guest range.</summary>
    private nint HostPageOf(ulong offset) => _hostBase + (nint)(offset & MmConstants.PageMask);

    /// <summary>The entry at <paramref name="offset"/> bytes into the range: a shift, two loads and two masks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LoadEntry(ulong offset)
    {
        var leaf = (ulong*)(Volatile.Read(ref _directory[offset >> (MmConstants.PageShift + LeafShift)]) & ~LiveMask);
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
        var leaf = (ulong*)(Volatile.Read(ref _directory[leafIndex]) & ~LiveMask);
        if (leaf == null)
        {
            leaf = InstallLeaf(leafIndex);
        }

        ref ulong slot = ref leaf[(offset >> MmConstants.PageShift) & (LeafEntries - 1)];
        if (Interlocked.CompareExchange(ref slot, entry, 0) == 0 && (Interlocked.Increment(ref _directory[leafIndex]) & LiveMask) == 1)
        {
            ulong dirPage = leafIndex >> FanShift;
            if (Interlocked.Increment(ref _pageCounts[dirPage].Live) == 1)
            {
                Interlocked.Increment(ref _groupCounts[dirPage >> FanShift].Live);
            }
        }
    }

    /// <summary>The place of leaf <paramref name="leafIndex"/> in <see cref="_leaves"/>.</summary>
    private ulong* LeafAt(ulong leafIndex) => _leaves + (leafIndex << LeafShift);

    /// <summary>Installs the leaf of <paramref name="leafIndex"/> (empty), or returns it if another installer did first.</summary>
    private ulong* InstallLeaf(ulong leafIndex)
    {
        ulong* leaf = LeafAt(leafIndex);
        long winner = Interlocked.CompareExchange(ref _directory[leafIndex], (long)leaf, 0);
        if (winner != 0)
        {
            Debug.Assert((ulong*)(winner & ~LiveMask) == leaf, "a directory word points to another leaf's place");
            return leaf;
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
            if ((_directory[leafIndex] & LiveMask) != 0)
            {
                RewriteLeaf(leafIndex, (int)(page & (LeafEntries - 1)), (int)(leafEnd - (leafIndex << LeafShift)), keep, set);
            }

            page = leafEnd;
        }

        if (_emptied.Count != 0)
        {
            GiveBackEmptiedLeaves();
        }
    }

    /// <summary>
    /// The part of <see cref="RewriteEntries"/> in one leaf: entries [<paramref name="from"/>, <paramref name="to"/>).
    /// A leaf left without entries is uninstalled (its directory word cleared) and queued in <see cref="_emptied"/>
    /// to go back to the host, where the host page is 4 KiB.
    /// </summary>
    private void RewriteLeaf(ulong leafIndex, int from, int to, ulong keep, ulong set)
    {
        long word = _directory[leafIndex];
        var leaf = (ulong*)(word & ~LiveMask);
        int live = (int)(word & LiveMask);
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
        if (live != 0)
        {
            Volatile.Write(ref _directory[leafIndex], (long)leaf + live);
            return;
        }

        ulong dirPage = leafIndex >> FanShift;
        if (--_pageCounts[dirPage].Live == 0)
        {
            _groupCounts[dirPage >> FanShift].Live--;
        }

        Volatile.Write(ref _directory[leafIndex], _givesPagesBack ? 0 : (long)leaf);
        if (_givesPagesBack)
        {
            _emptied.Add(leafIndex);
        }
    }

    /// <summary>
    /// Gives the host back the pages of the leaves in <see cref="_emptied"/> (one call per run of neighbouring
    /// leaves), then the directory pages left without a leaf and the count pages of groups left without one. Their
    /// directory words are already clear, so only readers that loaded a word before can still read a leaf: they
    /// find zeros. Between <see cref="BeginChange"/> and <see cref="EndChange"/>, so no installer runs.
    /// </summary>
    private void GiveBackEmptiedLeaves()
    {
        int first = 0;
        for (int i = 1; i <= _emptied.Count; i++)
        {
            if (i == _emptied.Count || _emptied[i] != _emptied[i - 1] + 1)
            {
                GiveBack(LeafAt(_emptied[first]), (nuint)(i - first) * LeafBytes);
                first = i;
            }
        }

        foreach (ulong leafIndex in _emptied)
        {
            _leafCount--;
            ulong dirPage = leafIndex >> FanShift;
            if (--_pageCounts[dirPage].Installed != 0)
            {
                continue;
            }

            GiveBack(_directory + (dirPage << FanShift), TablePageBytes);
            _touchedDirectoryPages--;
            ulong group = dirPage >> FanShift;
            if (--_groupCounts[group].Installed == 0)
            {
                GiveBack(_pageCounts + (group << FanShift), TablePageBytes);
                _touchedGroups--;
            }
        }

        _emptied.Clear();
    }

    /// <summary>
    /// Gives the host back the pages of [<paramref name="memory"/>, +<paramref name="bytes"/>), which hold only
    /// zeros: they read as zero again and cost nothing until written. If the host refuses (a host that locks its
    /// memory), the pages stay, still zero, and are reused as they are; only <see cref="MemoryBytes"/> misses them.
    /// </summary>
    private static void GiveBack(void* memory, nuint bytes)
    {
        try
        {
            HostMapping.DropPages((nint)memory, bytes);
        }
        catch (OsPagesException)
        {
            // Kept: see the summary.
        }
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
