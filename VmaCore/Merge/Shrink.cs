using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>vma_shrink</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>vma_shrink</c>: shrinks <paramref name="vma"/> to [<paramref name="start"/>, <paramref name="end"/>) at
    /// <paramref name="pgoff"/>, which keeps one of its ends, and erases the rest from the tree. ENOMEM (the tree
    /// preallocation) changes nothing.
    /// <code>
    ///   |vma*********|   ->   |vma|   (or |vma| kept at the end)
    /// </code>
    /// </summary>
    internal Errno Shrink(ref VmaIterator vmi, VmArea* vma, ulong start, ulong end, ulong pgoff)
    {
        Debug.Assert(vma->VmStart == start || vma->VmEnd == end, "vma_shrink must keep one end");
        Debug.Assert(vma->VmStart <= start && end <= vma->VmEnd && start < end, "vma_shrink can only shrink");
        if (vma->VmStart < start)
        {
            vmi.Config(vma->VmStart, start);
        }
        else
        {
            vmi.Config(end, vma->VmEnd);
        }

        if (vmi.Prealloc() != Errno.None)
        {
            return Errno.ENOMEM;
        }

        VmaLock.StartWrite(vma);
        vmi.Clear();
        SetRange(vma, start, end, pgoff);
        return Errno.None;
    }
}
