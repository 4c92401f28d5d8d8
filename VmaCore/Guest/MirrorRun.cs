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
/// <param name="FileId">The <see cref="VmFile.Id"/> of the object the VMA maps (a host file or memfd), 0 for private anonymous memory or a hole.</param>
/// <param name="FileOffset">The byte offset in that object of <paramref name="Start"/>.</param>
/// <param name="Shared">Whether the VMA maps its object shared (<c>VM_MAYSHARE</c>).</param>
internal readonly record struct MirrorRun(ulong Start, ulong End, ulong EntryFlags, HostProtection Host, bool Changed, int FileId, ulong FileOffset, bool Shared)
{
    /// <summary>Whether a VMA covers the run.</summary>
    public bool Present => EntryFlags != 0;

    /// <summary>The part [<paramref name="start"/>, <paramref name="end"/>) of this run, with <paramref name="changed"/>.</summary>
    public MirrorRun Slice(ulong start, ulong end, bool changed) =>
        this with { Start = start, End = end, Changed = changed, FileOffset = FileId == 0 ? 0 : FileOffset + (start - Start) };
}
