using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The authoritative <see cref="TranslationEntry"/> flags of a <see cref="TranslationTable"/>, by page run: sorted,
/// disjoint runs [Start, End) of equal flags, holes (flags zero) left out, equal neighbours coalesced, so the map
/// holds about one run per VMA whatever the VMAs' sizes. The table's page entries are a cache of it, filled on
/// demand; what the map says of a page is what the host mapping allows there.
/// </summary>
/// <remarks>
/// An immutable sorted set: each change costs O(log n) per run it touches, and a lookup O(log n). One writer at a
/// time; the table keeps readers out while it changes the map.
/// </remarks>
internal sealed class PageRunMap
{
    /// <summary>The bytes one run costs, roughly: the set's node (the run, two child pointers, height and count) and its object header.</summary>
    public const int BytesPerRun = 64;

    private ImmutableSortedSet<PageRun> _runs = ImmutableSortedSet.Create(PageRun.ByStart);

    /// <summary>The runs held.</summary>
    public int Count => _runs.Count;

    /// <summary>The flags of the page at <paramref name="address"/>; zero in a hole.</summary>
    public ulong FlagsAt(ulong address)
    {
        int index = FloorIndex(address);
        if (index < 0)
        {
            return 0;
        }

        PageRun run = _runs[index];
        return address < run.End ? run.Flags : 0;
    }

    /// <summary>Whether every page of [<paramref name="start"/>, <paramref name="end"/>) has exactly <paramref name="flags"/> (zero: a hole).</summary>
    public bool AllEqual(ulong start, ulong end, ulong flags)
    {
        int index = System.Math.Max(FloorIndex(start), 0);
        ulong cursor = start;
        while (cursor < end)
        {
            if (index >= _runs.Count)
            {
                return flags == 0;
            }

            PageRun run = _runs[index];
            if (run.End <= cursor)
            {
                index++;
            }
            else if (run.Start > cursor)
            {
                if (flags != 0)
                {
                    return false;
                }

                cursor = run.Start;
            }
            else if (run.Flags != flags)
            {
                return false;
            }
            else
            {
                cursor = run.End;
                index++;
            }
        }

        return true;
    }

    /// <summary>Gives every page of [<paramref name="start"/>, <paramref name="end"/>) <paramref name="flags"/> (zero: a hole).</summary>
    public void Assign(ulong start, ulong end, ulong flags)
    {
        if (start >= end)
        {
            return;
        }

        ImmutableSortedSet<PageRun>.Builder builder = _runs.ToBuilder();
        foreach (PageRun run in Overlapping(start, end))
        {
            builder.Remove(run);
            AddPart(builder, run.Start, start, run.Flags);
            AddPart(builder, end, run.End, run.Flags);
        }

        if (flags != 0)
        {
            int before = FloorIndexIn(builder, start - 1);
            PageRun left = before >= 0 ? builder[before] : default;
            if (left.End == start && left.Flags == flags)
            {
                builder.Remove(left);
                start = left.Start;
            }

            int after = FloorIndexIn(builder, end);
            PageRun right = after >= 0 ? builder[after] : default;
            if (right.Start == end && right.Flags == flags)
            {
                builder.Remove(right);
                end = right.End;
            }

            builder.Add(new PageRun(start, end, flags));
        }

        _runs = builder.ToImmutable();
        Debug.Assert(IsCoherent(), "runs overlap or are empty");
    }

    /// <summary>Clears, in every run of [<paramref name="start"/>, <paramref name="end"/>), the access bits not in <paramref name="keep"/>.</summary>
    public void Narrow(ulong start, ulong end, ulong keep)
    {
        foreach (PageRun run in Overlapping(start, end))
        {
            ulong narrowed = run.Flags & (keep | ~TranslationEntry.AccessMask);
            if (narrowed != run.Flags)
            {
                Assign(System.Math.Max(run.Start, start), System.Math.Min(run.End, end), narrowed);
            }
        }
    }

    /// <summary>The runs that share a page with [<paramref name="start"/>, <paramref name="end"/>), in address order (a copy).</summary>
    private List<PageRun> Overlapping(ulong start, ulong end)
    {
        var found = new List<PageRun>();
        int index = FloorIndex(start);
        for (index = index < 0 ? 0 : index; index < _runs.Count && _runs[index].Start < end; index++)
        {
            if (_runs[index].End > start)
            {
                found.Add(_runs[index]);
            }
        }

        return found;
    }

    /// <summary>The index of the last run starting at or below <paramref name="address"/>, or -1.</summary>
    private int FloorIndex(ulong address)
    {
        int index = _runs.IndexOf(new PageRun(address, address, 0));
        return index >= 0 ? index : ~index - 1;
    }

    /// <summary><see cref="FloorIndex"/> in a builder.</summary>
    private static int FloorIndexIn(ImmutableSortedSet<PageRun>.Builder builder, ulong address)
    {
        int low = 0;
        int high = builder.Count - 1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            if (builder[middle].Start <= address)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return high;
    }

    /// <summary>Adds the run [<paramref name="start"/>, <paramref name="end"/>) unless it is empty.</summary>
    private static void AddPart(ImmutableSortedSet<PageRun>.Builder builder, ulong start, ulong end, ulong flags)
    {
        if (start < end)
        {
            builder.Add(new PageRun(start, end, flags));
        }
    }

    /// <summary>Whether the runs are non-empty, disjoint and flagged.</summary>
    private bool IsCoherent()
    {
        ulong previousEnd = 0;
        foreach (PageRun run in _runs)
        {
            if (run.Start >= run.End || run.Start < previousEnd || run.Flags == 0)
            {
                return false;
            }

            previousEnd = run.End;
        }

        return true;
    }
}
