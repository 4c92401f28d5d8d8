using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// The VMA walk that mprotect and mlock share (Linux v6.15 <c>do_mprotect_pkey</c> and <c>apply_vma_lock_flags</c>):
/// each VMA meeting the range is fixed up in turn, and the walk stops with ENOMEM at the first hole, keeping the
/// changes made before it.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// Applies <paramref name="fixup"/> to the part of every VMA inside [start, end), from <paramref name="vma"/> (the
    /// VMA containing <paramref name="start"/>) upwards. The fixup receives the previous VMA (null at the bottom) and
    /// leaves in it the VMA now covering the part it changed, which may have merged or split. Returns the first error,
    /// or ENOMEM when a hole interrupts the range.
    /// </summary>
    private Errno FixupRange(VmArea* vma, ulong start, ulong end,
        delegate*<AddressSpace, VmArea*, ref VmArea*, ulong, ulong, VmFlags, Errno> fixup, VmFlags argument)
    {
        // Lookups start from the leaf of the last store (mmap_lock is held for write), which is usually right there.
        LeafHint hint = Tree.StoreHint;
        VmArea* prev = start > vma->VmStart ? vma : Tree.FindBefore(start, 0, ref hint, out _, out _);
        ulong pieceStart = start;
        ulong reached = vma->VmStart;
        while (vma != null)
        {
            if (vma->VmStart != reached)
            {
                return Errno.ENOMEM;
            }

            Errno error = fixup(this, vma, ref prev, pieceStart, vma->VmEnd < end ? vma->VmEnd : end, argument);
            if (error != Errno.None)
            {
                return error;
            }

            reached = prev->VmEnd;
            pieceStart = reached;
            hint = Tree.StoreHint;
            vma = reached < end ? Tree.FindAtOrAfter(reached, end, ref hint, out _, out _) : null;
        }

        return reached < end ? Errno.ENOMEM : Errno.None;
    }
}
