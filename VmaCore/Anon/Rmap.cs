using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The anon_vma side of Linux v6.15 <c>mm/rmap.c</c>: linking VMAs to anon_vmas through chains, cloning a VMA's
/// links to another VMA (split, copy, merge), and unlinking them, with the kernel's counts and freeing rules.
/// </summary>
/// <remarks>
/// <para>Counting protocol: an anon_vma is born with <see cref="AnonVma.RefCount"/> 1 and <see cref="AnonVma.NumChildren"/>
/// 1 (its link to itself as root). Every chain linked to it adds to <see cref="AnonVma.ChainCount"/>; every VMA whose
/// <see cref="VmArea.AnonVma"/> is it adds to <see cref="AnonVma.NumActiveVmas"/>. When unlinking empties its chain
/// count, its parent loses a child and its reference is dropped, which frees it.</para>
/// <para>Callers hold mmap_lock for write (merge, split, unmap, fork) or the mm's page-table lock
/// (<c>AnonVmaPrepare</c>), which keep the VMA's own chain list stable. Since fork shares a hierarchy between
/// address spaces, the anon_vmas' counts are changed under the hierarchy's <see cref="AnonVmaRootLock"/> and
/// reference counts atomically, as the kernel does under the root's rwsem.</para>
/// </remarks>
internal static unsafe partial class Rmap
{
    /// <summary>Reads <see cref="VmArea.AnonVma"/> once (<c>READ_ONCE</c>), for readers racing with a first fault.</summary>
    public static AnonVma* ReadAnonVma(VmArea* vma) => (AnonVma*)Volatile.Read(ref *(nint*)&vma->AnonVma);

    /// <summary>Publishes <see cref="VmArea.AnonVma"/> (<c>WRITE_ONCE</c>).</summary>
    public static void WriteAnonVma(VmArea* vma, AnonVma* anonVma) => Volatile.Write(ref *(nint*)&vma->AnonVma, (nint)anonVma);

    /// <summary>Whether the VMA's chain list holds exactly one link (<c>list_is_singular(&amp;vma->anon_vma_chain)</c>).</summary>
    public static bool HasSingularChain(VmArea* vma) => ListHead.IsSingular(&vma->AnonVmaChain);

    /// <summary>
    /// Whether the VMA inherited anon_vmas from a parent process, that is it has an anon_vma and more than one link
    /// (<c>vma_had_uncowed_parents</c>, Linux 6.16). Null is not.
    /// </summary>
    public static bool HadUncowedParents(VmArea* vma) => vma != null && vma->AnonVma != null && !HasSingularChain(vma);

    /// <summary><c>anon_vma_chain_link</c>: links <paramref name="vma"/> to <paramref name="anonVma"/> through <paramref name="avc"/>.</summary>
    public static void ChainLink(VmArea* vma, AnonVmaChain* avc, AnonVma* anonVma)
    {
        avc->Vma = vma;
        avc->AnonVma = anonVma;
        ListHead.Add(&avc->SameVma, &vma->AnonVmaChain);
        anonVma->ChainCount++;
    }

    /// <summary>
    /// <c>anon_vma_clone</c>: links <paramref name="dst"/> to every anon_vma <paramref name="src"/> is linked to, and
    /// counts <paramref name="dst"/> as an active VMA of its anon_vma. One chain allocation per link; on failure
    /// <paramref name="dst"/> is left with no links and no anon_vma, and ENOMEM is returned.
    /// </summary>
    public static Errno AnonVmaClone(VmArea* dst, VmArea* src, FaultInjection faults)
    {
        ListHead* head = &src->AnonVmaChain;
        if (ListHead.IsEmpty(head))
        {
            return Errno.None;
        }

        // Every anon_vma of a chain has the same root.
        AnonVma* root = AnonVmaRootLock.Lock(AnonVmaChain.FromSameVma(head->Next)->AnonVma);

        // Oldest link first, so that dst's list ends up in src's order.
        for (ListHead* node = head->Prev; node != head; node = node->Prev)
        {
            AnonVmaChain* avc = AnonVmaCache.AllocChain(faults);
            if (avc == null)
            {
                AnonVmaRootLock.Unlock(root);
                dst->AnonVma = null;
                UnlinkAnonVmas(dst);
                return Errno.ENOMEM;
            }

            AnonVma* anonVma = AnonVmaChain.FromSameVma(node)->AnonVma;
            ChainLink(dst, avc, anonVma);

            // A fork child may take over an anon_vma that no VMA uses any more and that has at most one child; a
            // root is never taken (it counts itself as a child and has at least one more).
            if (dst->AnonVma == null && src->AnonVma != null && anonVma->NumChildren < 2 && anonVma->NumActiveVmas == 0)
            {
                dst->AnonVma = anonVma;
            }
        }

        if (dst->AnonVma != null)
        {
            dst->AnonVma->NumActiveVmas++;
        }

        AnonVmaRootLock.Unlock(root);
        return Errno.None;
    }

    /// <summary>
    /// <c>unlink_anon_vmas</c>: drops every link of <paramref name="vma"/> and clears its anon_vma. An anon_vma left
    /// with no links loses its place in its parent and its reference, which frees it (root last).
    /// </summary>
    public static void UnlinkAnonVmas(VmArea* vma)
    {
        ListHead* head = &vma->AnonVmaChain;
        AnonVma* any = !ListHead.IsEmpty(head) ? AnonVmaChain.FromSameVma(head->Next)->AnonVma : vma->AnonVma;
        if (any == null)
        {
            return;
        }

        AnonVma* root = AnonVmaRootLock.Lock(any);
        for (ListHead* node = head->Next, next = node->Next; node != head; node = next, next = node->Next)
        {
            AnonVmaChain* avc = AnonVmaChain.FromSameVma(node);
            AnonVma* anonVma = avc->AnonVma;
            Debug.Assert(anonVma->ChainCount > 0, "unlinking a chain from an anon_vma with none");
            if (--anonVma->ChainCount == 0)
            {
                // Emptied: keep the link for the second pass, which frees the anon_vma.
                anonVma->Parent->NumChildren--;
                continue;
            }

            ListHead.Delete(node);
            AnonVmaCache.FreeChain(avc);
        }

        if (vma->AnonVma != null)
        {
            Debug.Assert(vma->AnonVma->NumActiveVmas > 0, "num_active_vmas underflow");
            vma->AnonVma->NumActiveVmas--;
            WriteAnonVma(vma, null);
        }

        AnonVmaRootLock.Unlock(root);

        // The emptied anon_vmas are reachable from no VMA any more: free them without the lock, which lives in the
        // root they may free.
        for (ListHead* node = head->Next, next = node->Next; node != head; node = next, next = node->Next)
        {
            AnonVmaChain* avc = AnonVmaChain.FromSameVma(node);
            Debug.Assert(avc->AnonVma->NumChildren == 0, "freeing an anon_vma that still has children");
            Debug.Assert(avc->AnonVma->NumActiveVmas == 0, "freeing an anon_vma that VMAs still use");
            PutAnonVma(avc->AnonVma);
            ListHead.Delete(node);
            AnonVmaCache.FreeChain(avc);
        }
    }

    /// <summary><c>put_anon_vma</c>: drops a reference; the last one frees the anon_vma, then its root's reference.</summary>
    public static void PutAnonVma(AnonVma* anonVma)
    {
        int left = Interlocked.Decrement(ref anonVma->RefCount);
        Debug.Assert(left >= 0, "anon_vma refcount underflow");
        if (left != 0)
        {
            return;
        }

        AnonVma* root = anonVma->Root;
        AnonVmaCache.FreeAnonVma(anonVma);
        if (root != anonVma && Interlocked.Decrement(ref root->RefCount) == 0)
        {
            AnonVmaCache.FreeAnonVma(root);
        }
    }
}
