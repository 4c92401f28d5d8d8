using System;
using System.Collections.Generic;
using System.Linq;
using VmaEngine.Vma;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// Snapshot comparison across address spaces: anon_vma identities are renumbered in order of first appearance, so
/// two layouts compare equal when they share anon_vmas the same way.
/// </summary>
internal static class Snapshots
{
    /// <summary>The snapshot with each anon_vma replaced by its ordinal (0: none).</summary>
    public static List<VmaInfo> Normalized(AddressSpace space)
    {
        var ids = new Dictionary<nuint, nuint>();
        return space.Snapshot().Select(v => v with
        {
            AnonVmaId = v.AnonVmaId == 0 ? 0 : ids.TryGetValue(v.AnonVmaId, out nuint id) ? id : ids[v.AnonVmaId] = (nuint)(ids.Count + 1),
            FileId = 0,
        }).ToList();
    }

    /// <summary>The objects the VMA cache has handed out and not taken back.</summary>
    public static long ActiveVmas() => VmAreaCache.Cache.Info.ActiveObjects;

    /// <summary>
    /// Whether two snapshots map the same pages the same way (flags without VM_SOFTDIRTY, backing, offset of each page,
    /// anon name, shared anon_vma pattern), whatever the VMA boundaries.
    /// </summary>
    public static bool SamePages(List<VmaInfo> a, List<VmaInfo> b, bool ignoreAnon = false) =>
        Pages(a, ignoreAnon).SequenceEqual(Pages(b, ignoreAnon));

    /// <summary>Whether every boundary of <paramref name="after"/> is one of <paramref name="before"/> or of <paramref name="extra"/>.</summary>
    public static bool BoundariesWithin(List<VmaInfo> after, List<VmaInfo> before, ulong[] extra)
    {
        var allowed = new HashSet<ulong>(before.SelectMany(v => new[] { v.Start, v.End }).Concat(extra));
        return after.All(v => allowed.Contains(v.Start) && allowed.Contains(v.End));
    }

    /// <summary>The snapshot with [start, end) unmapped.</summary>
    public static List<VmaInfo> Without(List<VmaInfo> snapshot, ulong start, ulong end)
    {
        var result = new List<VmaInfo>();
        foreach (VmaInfo v in snapshot)
        {
            if (v.Start < start)
            {
                result.Add(v with { End = Math.Min(v.End, start) });
            }

            if (v.End > end)
            {
                ulong s = Math.Max(v.Start, end);
                result.Add(v with { Start = s, Pgoff = v.Pgoff + ((s - v.Start) / MmConstants.PageSize) });
            }
        }

        return result;
    }

    /// <summary>
    /// <paramref name="moved"/> with the source VMAs that overlapped [start, end) back whole and without VM_ACCOUNT:
    /// what a move leaves when the source cannot be unmapped (the flag was cleared on the whole VMA first).
    /// </summary>
    public static List<VmaInfo> WithSource(List<VmaInfo> moved, List<VmaInfo> source, ulong start, ulong end)
    {
        List<VmaInfo> kept = source.Where(v => v.Start < end && v.End > start).Select(v => v with { Flags = v.Flags & ~VmFlags.Account }).ToList();
        List<VmaInfo> result = moved;
        foreach (VmaInfo v in kept)
        {
            result = Without(result, v.Start, v.End);
        }

        return result.Concat(kept).OrderBy(v => v.Start).ToList();
    }

    private static IEnumerable<(ulong Page, VmFlags Flags, VmaBacking Backing, ulong Pgoff, string? Name, nuint Anon)> Pages(List<VmaInfo> snapshot, bool ignoreAnon) =>
        snapshot.SelectMany(v => Enumerable.Range(0, (int)((v.End - v.Start) / MmConstants.PageSize)).Select(i =>
            (v.Start + ((ulong)i * MmConstants.PageSize), v.Flags & ~VmFlags.SoftDirty, v.Backing, v.Pgoff + (ulong)i, v.AnonName, ignoreAnon ? 0 : v.AnonVmaId)));

    /// <summary>Text of a normalized snapshot, for failure messages.</summary>
    public static string Text(IEnumerable<VmaInfo> snapshot) => string.Join(" | ", snapshot.Select(v => $"{Layout.Line(v)} av{v.AnonVmaId} pg{v.Pgoff}"));
}
