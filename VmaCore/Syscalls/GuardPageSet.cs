using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The guard markers of an address space (MADV_GUARD_INSTALL): the page addresses whose page-table entries hold a
/// guard marker, so that any fault there fails. They live in the page tables, not in the VMAs: they stay through
/// mprotect, MADV_DONTNEED and merges, move with mremap, and go with MADV_GUARD_REMOVE or when the range is unmapped.
/// </summary>
/// <remarks>
/// Writers hold mmap_lock; faults read it under a VMA lock only, so the set has its own lock (the page-table lock
/// of the kernel). <see cref="IsEmpty"/> lets the fault path skip it when no marker exists. The markers are kept
/// as sorted, disjoint, coalesced page ranges, so a guest that marks a huge range costs one entry, not one per page.
/// </remarks>
internal sealed class GuardPageSet
{
    /// <summary>The marked ranges [Start, End), page aligned, sorted, disjoint and never adjacent.</summary>
    private readonly List<(ulong Start, ulong End)> _ranges = [];
    private readonly Lock _lock = new();
    private volatile int _count;

    /// <summary>Whether no page holds a marker.</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>Installs markers on every page of [start, end).</summary>
    public void Add(ulong start, ulong end)
    {
        if (start >= end)
        {
            return;
        }

        lock (_lock)
        {
            AddLocked(start, end);
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
            RemoveLocked(start, end);
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
            int i = FirstEndingAfter(start);
            if (i == _ranges.Count || _ranges[i].Start >= limit)
            {
                return limit;
            }

            return Math.Max(_ranges[i].Start, start);
        }
    }

    /// <summary>
    /// The end of the run of marked pages that begins at <paramref name="start"/>, at most <paramref name="limit"/>;
    /// <paramref name="start"/> itself when that page holds no marker.
    /// </summary>
    public ulong EndOfMarkedRun(ulong start, ulong limit)
    {
        if (IsEmpty || start >= limit)
        {
            return start;
        }

        lock (_lock)
        {
            int i = FirstEndingAfter(start);
            return i < _ranges.Count && _ranges[i].Start <= start ? Math.Min(_ranges[i].End, limit) : start;
        }
    }

    /// <summary>Moves the markers of [from, from + length) to the same offsets from <paramref name="to"/> (move_page_tables).</summary>
    public void Move(ulong from, ulong length, ulong to)
    {
        if (IsEmpty || length == 0)
        {
            return;
        }

        lock (_lock)
        {
            ulong end = from + length;
            var moved = new List<(ulong Start, ulong End)>();
            for (int i = FirstEndingAfter(from); i < _ranges.Count && _ranges[i].Start < end; i++)
            {
                moved.Add((Math.Max(_ranges[i].Start, from), Math.Min(_ranges[i].End, end)));
            }

            RemoveLocked(from, end);
            foreach ((ulong start, ulong stop) in moved)
            {
                AddLocked(start - from + to, stop - from + to);
            }
        }
    }

    /// <summary>A copy of the marked ranges [Start, End), sorted.</summary>
    public (ulong Start, ulong End)[] ToArray()
    {
        lock (_lock)
        {
            return [.. _ranges];
        }
    }

    /// <summary>The index of the first range that ends after <paramref name="address"/> (binary search).</summary>
    private int FirstEndingAfter(ulong address)
    {
        int low = 0;
        int high = _ranges.Count;
        while (low < high)
        {
            int middle = (low + high) >> 1;
            if (_ranges[middle].End <= address)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    private void AddLocked(ulong start, ulong end)
    {
        // Absorb every range that overlaps or touches [start, end), then insert the union.
        int first = FirstEndingAfter(start == 0 ? 0 : start - 1);
        int last = first;
        while (last < _ranges.Count && _ranges[last].Start <= end)
        {
            start = Math.Min(start, _ranges[last].Start);
            end = Math.Max(end, _ranges[last].End);
            last++;
        }

        _ranges.RemoveRange(first, last - first);
        _ranges.Insert(first, (start, end));
        _count = _ranges.Count;
        Debug.Assert(IsSortedAndDisjoint(), "guard ranges must stay sorted, disjoint and coalesced");
    }

    private void RemoveLocked(ulong start, ulong end)
    {
        int first = FirstEndingAfter(start);
        int last = first;
        var kept = new List<(ulong Start, ulong End)>(2);
        while (last < _ranges.Count && _ranges[last].Start < end)
        {
            (ulong rangeStart, ulong rangeEnd) = _ranges[last];
            if (rangeStart < start)
            {
                kept.Add((rangeStart, start));
            }

            if (rangeEnd > end)
            {
                kept.Add((end, rangeEnd));
            }

            last++;
        }

        _ranges.RemoveRange(first, last - first);
        _ranges.InsertRange(first, kept);
        _count = _ranges.Count;
        Debug.Assert(IsSortedAndDisjoint(), "guard ranges must stay sorted, disjoint and coalesced");
    }

    private bool IsSortedAndDisjoint()
    {
        for (int i = 0; i < _ranges.Count; i++)
        {
            if (_ranges[i].Start >= _ranges[i].End || (i > 0 && _ranges[i - 1].End >= _ranges[i].Start))
            {
                return false;
            }
        }

        return true;
    }
}
