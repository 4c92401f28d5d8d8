using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// One page run of a range <see cref="GuestMemory"/> mirrors: [Start, End) is a hole or part of one VMA, and lies
/// wholly inside or wholly outside the range the operation changed.
/// </summary>
/// <param name="Start">The first guest address.</param>
/// <param name="End">The end guest address.</param>
/// <param name="EntryFlags">The <see cref="TranslationEntry"/> flags of each page, with <see cref="TranslationEntry.Present"/>; zero for a hole.</param>
/// <param name="Host">The host protection of the run.</param>
/// <param name="Changed">Whether the run lies in the range the operation changed.</param>
internal readonly record struct MirrorRun(ulong Start, ulong End, ulong EntryFlags, HostProtection Host, bool Changed)
{
    /// <summary>Whether a VMA covers the run.</summary>
    public bool Present => EntryFlags != 0;
}
