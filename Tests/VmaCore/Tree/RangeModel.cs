using System;
using System.Collections.Generic;

namespace Tests.VmaCore.Tree;

/// <summary>One range of the reference model: [Start, Last] (inclusive) holding entry Id (never a free range).</summary>
internal readonly record struct ModelRange(ulong Start, ulong Last, int Id);

/// <summary>
/// The reference the tree is checked against: a sorted list of non-overlapping ranges, plain and obviously right
/// (binary search to find, list insert and remove to change).
/// </summary>
internal sealed class RangeModel
{
    private readonly List<ModelRange> _ranges = new();

    public int Count => _ranges.Count;

    public IReadOnlyList<ModelRange> Ranges => _ranges;

    /// <summary>Stores entry <paramref name="id"/> (-1 erases) over [start, last], clipping what it overlaps.</summary>
    public void Store(ulong start, ulong last, int id)
    {
        int i = FirstEndingAtOrAfter(start);
        var kept = new List<ModelRange>(2);
        int removeFrom = i;
        while (i < _ranges.Count && _ranges[i].Start <= last)
        {
            ModelRange r = _ranges[i];
            if (r.Start < start)
            {
                kept.Add(r with { Last = start - 1 });
            }

            if (r.Last > last)
            {
                kept.Add(r with { Start = last + 1 });
            }

            i++;
        }

        _ranges.RemoveRange(removeFrom, i - removeFrom);
        if (id >= 0)
        {
            kept.Add(new ModelRange(start, last, id));
        }

        kept.Sort((a, b) => a.Start.CompareTo(b.Start));
        _ranges.InsertRange(removeFrom, kept);
    }

    /// <summary>The entry covering <paramref name="address"/>, or -1.</summary>
    public int Load(ulong address)
    {
        int i = FirstEndingAtOrAfter(address);
        return i < _ranges.Count && _ranges[i].Start <= address ? _ranges[i].Id : -1;
    }

    /// <summary>The first range ending after <paramref name="address"/> and starting before <paramref name="limit"/>.</summary>
    public ModelRange? FindAtOrAfter(ulong address, ulong limit)
    {
        int i = FirstEndingAtOrAfter(address);
        return i < _ranges.Count && _ranges[i].Start < limit ? _ranges[i] : null;
    }

    /// <summary>The last range starting before <paramref name="address"/> and ending after <paramref name="limit"/>.</summary>
    public ModelRange? FindBefore(ulong address, ulong limit)
    {
        if (address == 0)
        {
            return null;
        }

        int i = FirstEndingAtOrAfter(address - 1);
        if (i == _ranges.Count || _ranges[i].Start > address - 1)
        {
            i--;
        }

        return i >= 0 && _ranges[i].Last >= limit ? _ranges[i] : null;
    }

    /// <summary>The lowest start of [start, start + length) free inside [low, high), or null.</summary>
    public ulong? FindEmptyArea(ulong low, ulong high, ulong length)
    {
        if (low >= high || high - low < length)
        {
            return null;
        }

        ulong cursor = low;
        for (int i = FirstEndingAtOrAfter(low); ; i++)
        {
            ulong gapEnd = i < _ranges.Count ? Math.Min(_ranges[i].Start, high) : high;
            if (gapEnd > cursor && gapEnd - cursor >= length)
            {
                return cursor;
            }

            if (i >= _ranges.Count || _ranges[i].Last >= high - 1)
            {
                return null;
            }

            cursor = _ranges[i].Last + 1;
        }
    }

    /// <summary>The highest start of [start, start + length) free inside [low, high), or null.</summary>
    public ulong? FindEmptyAreaRev(ulong low, ulong high, ulong length)
    {
        if (low >= high || high - low < length)
        {
            return null;
        }

        // The last range starting below high; the gap above it ends at high.
        int i = FirstEndingAtOrAfter(high);
        if (i == _ranges.Count || _ranges[i].Start >= high)
        {
            i--;
        }

        for (ulong cursor = high; ; i--)
        {
            ulong gapStart = i >= 0 ? Math.Max(_ranges[i].Last + 1, low) : low;
            if (cursor > gapStart && cursor - gapStart >= length)
            {
                return cursor - length;
            }

            if (i < 0 || _ranges[i].Start <= low)
            {
                return null;
            }

            cursor = _ranges[i].Start;
        }
    }

    /// <summary>The index of the first range whose last index is at or after <paramref name="address"/>.</summary>
    private int FirstEndingAtOrAfter(ulong address)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].Last >= address)
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
