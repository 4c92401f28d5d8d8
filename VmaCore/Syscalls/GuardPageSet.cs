using System.Collections.Generic;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The guard markers of an address space (MADV_GUARD_INSTALL): the page addresses whose page-table entries hold a
/// guard marker, so that any fault there fails. They live in the page tables, not in the VMAs: they stay through
/// mprotect, MADV_DONTNEED and merges, move with mremap, and go with MADV_GUARD_REMOVE or when the range is unmapped.
/// </summary>
/// <remarks>
/// Writers hold mmap_lock; faults read it under a VMA lock only, so the set has its own lock (the page-table lock
/// of the kernel). <see cref="IsEmpty"/> lets the fault path skip it when no marker exists.
/// </remarks>
internal sealed class GuardPageSet
{
    private readonly SortedSet<ulong> _pages = [];
    private readonly Lock _lock = new();
    private volatile int _count;

    /// <summary>Whether no page holds a marker.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>Installs markers on every page of [start, end).</summary>
    public void Add(ulong start, ulong end)
    {
        lock (_lock)
        {
            for (ulong page = start; page < end; page += MmConstants.PageSize)
            {
                _pages.Add(page);
            }

            _count = _pages.Count;
        }
    }

    /// <summary>Removes the markers of [start, end) (page tables zapped or MADV_GUARD_REMOVE).</summary>
    public void Remove(ulong start, ulong end)
    {
        if (IsEmpty || start >= end)
        {
            return;
        }

        lock (_lock)
        {
            _pages.RemoveWhere(page => page >= start && page < end);
            _count = _pages.Count;
        }
    }

    /// <summary>The first marked page in [start, limit), or <paramref name="limit"/> when there is none.</summary>
    public ulong FirstIn(ulong start, ulong limit)
    {
        if (IsEmpty || start >= limit)
        {
            return limit;
        }

        lock (_lock)
        {
            SortedSet<ulong> view = _pages.GetViewBetween(start, limit - 1);
            return view.Count == 0 ? limit : view.Min;
        }
    }

    /// <summary>Moves the markers of [from, from + length) to the same offsets from <paramref name="to"/> (move_page_tables).</summary>
    public void Move(ulong from, ulong length, ulong to)
    {
        if (IsEmpty)
        {
            return;
        }

        lock (_lock)
        {
            var moved = new List<ulong>(_pages.GetViewBetween(from, from + length - 1));
            foreach (ulong page in moved)
            {
                _pages.Remove(page);
            }

            foreach (ulong page in moved)
            {
                _pages.Add(page - from + to);
            }

            _count = _pages.Count;
        }
    }
}
