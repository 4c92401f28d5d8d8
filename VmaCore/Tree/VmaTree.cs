using System;
using System.Diagnostics;
using System.Threading;

namespace VmaCore.Tree;

/// <summary>
/// The mm's VMA tree (<c>mm_mt</c>): a map from non-overlapping address ranges [start, end) to VMAs.
/// One writer (holding mmap_lock for write) modifies it; readers walk it without locks inside an RCU read-side
/// section. A modification is a <see cref="Preallocate"/> that may fail and changes nothing, followed by a
/// <see cref="Store"/> that cannot fail.
/// FIRST VERSION: a copy-on-write sorted array; the maple-tree-like B-tree replaces it (issue 4).
/// </summary>
internal sealed unsafe class VmaTree : IDisposable
{
    private struct Entry
    {
        public ulong Start;
        public ulong End;
        public VmArea* Vma;
    }

    private Entry[] _entries = [];
    private bool _preallocated;

    /// <summary>Test hook: the next this many preallocations fail with ENOMEM.</summary>
    public int FailNextPreallocations { get; set; }

    /// <summary>The number of stored ranges.</summary>
    public int Count => Volatile.Read(ref _entries).Length;

    /// <summary>The VMA whose range contains <paramref name="address"/>, or null (<c>mtree_load</c>).</summary>
    public VmArea* Load(ulong address)
    {
        Entry[] e = Volatile.Read(ref _entries);
        int i = FirstEndingAfter(e, address);
        return i < e.Length && e[i].Start <= address ? e[i].Vma : null;
    }

    /// <summary>The first VMA whose range ends after <paramref name="address"/> and starts before <paramref name="limit"/>, or null (<c>mt_find</c>).</summary>
    public VmArea* FindAtOrAfter(ulong address, ulong limit, out ulong start, out ulong end)
    {
        Entry[] e = Volatile.Read(ref _entries);
        int i = FirstEndingAfter(e, address);
        if (i < e.Length && e[i].Start < limit)
        {
            start = e[i].Start;
            end = e[i].End;
            return e[i].Vma;
        }

        start = end = 0;
        return null;
    }

    /// <summary>The last VMA whose range starts before <paramref name="address"/> and ends after <paramref name="limit"/>, or null (<c>mt_prev</c>).</summary>
    public VmArea* FindBefore(ulong address, ulong limit, out ulong start, out ulong end)
    {
        Entry[] e = Volatile.Read(ref _entries);
        int i = FirstEndingAfter(e, address);
        if (i < e.Length && e[i].Start < address)
        {
            i++;
        }

        i--;
        if (i >= 0 && e[i].End > limit)
        {
            start = e[i].Start;
            end = e[i].End;
            return e[i].Vma;
        }

        start = end = 0;
        return null;
    }

    /// <summary>Reserves what a store of [start, end) needs; false (ENOMEM) changes nothing.</summary>
    public bool Preallocate(ulong start, ulong end)
    {
        Debug.Assert(start < end, "empty range");
        if (FailNextPreallocations > 0)
        {
            FailNextPreallocations--;
            return false;
        }

        _preallocated = true;
        return true;
    }

    /// <summary>Stores <paramref name="vma"/> (null erases) over [start, end), clipping overlapped ranges. Cannot fail.</summary>
    public void Store(ulong start, ulong end, VmArea* vma)
    {
        Debug.Assert(_preallocated, "Store without Preallocate");
        _preallocated = false;
        Entry[] old = _entries;
        var list = new System.Collections.Generic.List<Entry>(old.Length + 2);
        foreach (Entry e in old)
        {
            if (e.End <= start || e.Start >= end)
            {
                list.Add(e);
                continue;
            }

            if (e.Start < start)
            {
                list.Add(new Entry { Start = e.Start, End = start, Vma = e.Vma });
            }

            if (e.End > end)
            {
                list.Add(new Entry { Start = end, End = e.End, Vma = e.Vma });
            }
        }

        if (vma != null)
        {
            list.Add(new Entry { Start = start, End = end, Vma = vma });
        }

        list.Sort((a, b) => a.Start.CompareTo(b.Start));
        Volatile.Write(ref _entries, list.ToArray());
    }

    /// <summary>The highest start of a free range of <paramref name="length"/> bytes inside [low, high) (<c>mas_empty_area_rev</c>).</summary>
    public bool FindEmptyAreaRev(ulong low, ulong high, ulong length, out ulong start)
    {
        Entry[] e = _entries;
        ulong top = high;
        for (int i = e.Length - 1; i >= -1; i--)
        {
            ulong gapStart = i >= 0 ? Math.Max(e[i].End, low) : low;
            ulong gapEnd = Math.Min(top, high);
            if (i >= 0 && e[i].Start >= high)
            {
                continue;
            }

            if (gapEnd > gapStart && gapEnd - gapStart >= length)
            {
                start = gapEnd - length;
                return true;
            }

            if (i >= 0)
            {
                top = e[i].Start;
                if (top <= low)
                {
                    break;
                }
            }
        }

        start = 0;
        return false;
    }

    /// <summary>The lowest start of a free range of <paramref name="length"/> bytes inside [low, high) (<c>mas_empty_area</c>).</summary>
    public bool FindEmptyArea(ulong low, ulong high, ulong length, out ulong start)
    {
        ulong cursor = low;
        foreach (Entry e in _entries)
        {
            if (e.End <= cursor)
            {
                continue;
            }

            if (e.Start >= cursor && e.Start - cursor >= length && cursor + length <= high)
            {
                start = cursor;
                return true;
            }

            cursor = Math.Max(cursor, e.End);
        }

        start = cursor;
        return high > cursor && high - cursor >= length;
    }

    public void Dispose() => _entries = [];

    private static int FirstEndingAfter(Entry[] e, ulong address)
    {
        int lo = 0, hi = e.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (e[mid].End > address)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }
}
