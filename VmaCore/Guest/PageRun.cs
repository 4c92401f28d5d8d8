using System.Collections.Generic;

namespace VmaEngine.Vma.Guest;

/// <summary>One run of a <see cref="PageRunMap"/>: the guest pages [Start, End), all with the same table flags.</summary>
/// <param name="Start">The first guest address.</param>
/// <param name="End">The end guest address.</param>
/// <param name="Flags">The <see cref="TranslationEntry"/> flags of each page, with <see cref="TranslationEntry.Present"/>.</param>
internal readonly record struct PageRun(ulong Start, ulong End, ulong Flags)
{
    /// <summary>Orders runs by their first address (the map's runs are disjoint, so that is a total order).</summary>
    public static IComparer<PageRun> ByStart { get; } = Comparer<PageRun>.Create(static (a, b) => a.Start.CompareTo(b.Start));
}
