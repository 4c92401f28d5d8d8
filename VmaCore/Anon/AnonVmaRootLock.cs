using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The lock of an anon_vma hierarchy (<c>anon_vma_lock_write</c> / <c>anon_vma_unlock_write</c>, Linux v6.15
/// <c>include/linux/rmap.h</c>): the root's <see cref="AnonVma.RootLock"/>. After fork a hierarchy is shared by the
/// parent and the child, whose mmap_locks are different, so linking, unlinking and the counts that decide anon_vma
/// reuse are serialised here. Held for a few stores only, so it spins; it nests inside every other lock and takes none.
/// </summary>
internal static unsafe class AnonVmaRootLock
{
    /// <summary>Takes the lock of <paramref name="anonVma"/>'s hierarchy and returns the root to pass to <see cref="Unlock"/>.</summary>
    public static AnonVma* Lock(AnonVma* anonVma)
    {
        AnonVma* root = anonVma->Root;
        if (Interlocked.CompareExchange(ref root->RootLock, 1, 0) != 0)
        {
            var spin = default(SpinWait);
            do
            {
                spin.SpinOnce();
            }
            while (Interlocked.CompareExchange(ref root->RootLock, 1, 0) != 0);
        }

        return root;
    }

    /// <summary>Releases the lock taken by <see cref="Lock"/> on <paramref name="root"/>.</summary>
    public static void Unlock(AnonVma* root)
    {
        Debug.Assert(root->RootLock == 1, "anon_vma_unlock_write of a hierarchy that is not locked");
        Volatile.Write(ref root->RootLock, 0);
    }
}
