using System.Threading;
using VmaEngine.Slab;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// Tearing a whole tree down (the maple tree's <c>__mt_destroy</c> in RCU mode, lib/maple_tree.c, v6.15): the root is
/// unpublished, and one RCU callback walks the detached nodes and frees them all once no reader can be inside them
/// (<c>mt_free_walk</c>), instead of a deferred free per node.
/// </summary>
internal sealed unsafe partial class VmaTree
{
    /// <summary>
    /// Tears the tree down (<c>__mt_destroy</c> in RCU mode): unpublishes the root and frees every node after a grace
    /// period, with one callback for the whole tree, and the preallocated ones at once. The tree is empty afterwards.
    /// </summary>
    /// <remarks>
    /// A reader that loaded the root before it was unpublished may still walk any node of the old tree until its
    /// read-side section ends; the callback runs after that, so the nodes stay intact while anyone can reach them.
    /// An address space's disposal (a fork child's exit) then costs the writer one queued callback instead of one
    /// per node; the walk runs on the RCU callback thread.
    /// </remarks>
    public void Dispose()
    {
        lock (_trimGate)
        {
            _disposed = true;
        }

        nint root = _root;
        _version++;
        _leftValid = false;
        Volatile.Write(ref _root, 0);
        if (root != 0)
        {
            Rcu.Call(DetachedTreeFree.Instance, root);
        }

        _height = 0;
        _count = 0;
        ReleasePreallocated();
    }

    /// <summary>Frees every node of the detached subtree at <paramref name="tagged"/> to the node cache, children first.</summary>
    private static void FreeSubtree(nint tagged)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        if (!VmaTreeNode.IsLeafPointer(tagged))
        {
            for (int c = 0; c <= node->End; c++)
            {
                FreeSubtree((nint)node->Child[c]);
            }
        }

        s_nodeCache.Free(node);
    }

    /// <summary>The RCU callback of <see cref="Dispose"/>: its argument is the tagged root of the detached tree (<c>mt_free_walk</c>).</summary>
    private sealed class DetachedTreeFree : IRcuCallback
    {
        /// <summary>The one instance, so that queueing allocates nothing.</summary>
        public static readonly DetachedTreeFree Instance = new();

        /// <inheritdoc/>
        public void Invoke(nint argument) => FreeSubtree(argument);
    }
}
