using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// One node of the <see cref="VmaTree"/>: the counterpart of the maple tree's <c>struct maple_node</c>
/// (include/linux/maple_tree.h, lib/maple_tree.c): 256 bytes, unmanaged, in one of two layouts that share the pivot
/// array at offset 0 and the metadata at offset 248.
/// </summary>
/// <remarks>
/// <code>
///  leaf (maple_leaf_64)                     inner (maple_arange_64)
///  0    pivot[0..14]   15 x 8 = 120 bytes    0    pivot[0..8]   9 x 8 =  72 bytes
///  120  slot[0..15]    16 x 8 = 128 bytes    72   child[0..9]  10 x 8 =  80 bytes
///                                            152  gap[0..9]    10 x 8 =  80 bytes
///  248  End, IsLeaf                          248  End, IsLeaf
/// </code>
/// A node covering [min, max] (bounds it inherits from its parent) holds <see cref="End"/> + 1 slots; slot i covers
/// (pivot[i-1], pivot[i]], the first from min and the last up to max. Pivots past the last used one are
/// <see cref="ulong.MaxValue"/>, so the slot of an index is the number of pivots below it, which a reader counts with
/// vector compares and no branch. Leaf slots hold a <c>VmArea*</c> or 0 for a gap (the maple tree stores free
/// ranges as NULL entries); inner slots hold child pointers tagged with <see cref="LeafTag"/> when the child is a
/// leaf (the maple tree's encoded node, <c>maple_enode</c>), and gap[i] is the largest free range inside child i.
/// A published node is immutable except for single slot pointers (replaced with a release store), the pivot
/// between two slots whose boundary a slot store moves (after the entry) and gaps, which only the writer side reads.
/// Unlike <c>maple_node</c>, a node has no parent pointer: the writer records the walk from the root
/// (<see cref="TreePath"/>) and readers never go up, so copying a node never rewrites its children.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct VmaTreeNode
{
    /// <summary>The node size in bytes; also its alignment in the slab (<c>sizeof(struct maple_node)</c>).</summary>
    public const int Size = 256;

    /// <summary>Slots of a leaf (<c>MAPLE_RANGE64_SLOTS</c>).</summary>
    public const int LeafSlots = 16;

    /// <summary>The fewest slots a leaf other than the root holds (<c>mt_min_slots[maple_leaf_64]</c>).</summary>
    public const int LeafMinSlots = (LeafSlots / 2) - 2;

    /// <summary>Child slots of an inner node (<c>MAPLE_ARANGE64_SLOTS</c>).</summary>
    public const int InnerSlots = 10;

    /// <summary>The fewest children an inner node other than the root holds (<c>mt_min_slots[maple_arange_64]</c>).</summary>
    public const int InnerMinSlots = (InnerSlots / 2) - 1;

    /// <summary>The low pointer bit that marks a child (or the root) as a leaf; nodes are 256-byte aligned.</summary>
    public const nint LeafTag = 1;

    /// <summary>
    /// The inclusive upper bounds of the slots but the last; unused ones are <see cref="ulong.MaxValue"/>. An inner
    /// node uses the first <see cref="InnerSlots"/> - 1.
    /// </summary>
    [FieldOffset(0)]
    public fixed ulong Pivot[LeafSlots - 1];

    /// <summary>The leaf layout's entries: a <c>VmArea*</c>, or 0 for a free range.</summary>
    [FieldOffset(120)]
    public fixed ulong LeafSlot[LeafSlots];

    /// <summary>The inner layout's children, as tagged node pointers.</summary>
    [FieldOffset(72)]
    public fixed ulong Child[InnerSlots];

    /// <summary>The inner layout's gaps: the size of the largest free range inside each child (writer side only).</summary>
    [FieldOffset(152)]
    public fixed ulong Gap[InnerSlots];

    /// <summary>The index of the last used slot (<c>ma_data_end</c>).</summary>
    [FieldOffset(248)]
    public byte End;

    /// <summary>Whether the node has the leaf layout (also told by the tag of the pointer to it).</summary>
    [FieldOffset(249)]
    public bool IsLeaf;

    /// <summary>The slot count of a layout.</summary>
    public static int SlotCount(bool leaf) => leaf ? LeafSlots : InnerSlots;

    /// <summary>The minimum slot count of a non-root node of a layout.</summary>
    public static int MinSlotCount(bool leaf) => leaf ? LeafMinSlots : InnerMinSlots;

    /// <summary>Whether a tagged pointer points to a leaf (<c>ma_is_leaf(mte_node_type())</c>).</summary>
    public static bool IsLeafPointer(nint tagged) => (tagged & LeafTag) != 0;

    /// <summary>The node a tagged pointer points to (<c>mte_to_node</c>).</summary>
    public static VmaTreeNode* FromTagged(nint tagged) => (VmaTreeNode*)(tagged & ~LeafTag);

    /// <summary>The tagged pointer to a node (<c>mt_mk_node</c>).</summary>
    public static nint ToTagged(VmaTreeNode* node) => (nint)node | (node->IsLeaf ? LeafTag : 0);

    /// <summary>The slot array of a node's layout.</summary>
    public static ulong* Slots(VmaTreeNode* node) => node->IsLeaf ? node->LeafSlot : node->Child;

    /// <summary>The first index slot <paramref name="i"/> covers, in a node whose range starts at <paramref name="min"/>.</summary>
    public static ulong SlotMin(VmaTreeNode* node, int i, ulong min) => i > 0 ? node->Pivot[i - 1] + 1 : min;

    /// <summary>The last index slot <paramref name="i"/> covers, in a node whose range ends at <paramref name="max"/>.</summary>
    public static ulong SlotMax(VmaTreeNode* node, int i, ulong max) => i < node->End ? node->Pivot[i] : max;

    /// <summary>
    /// <see cref="SlotMin"/> for lockless readers: the pivot is read with acquire, so that the entry read after it is
    /// at least as new (a slot store writes the entry before it moves the pivot).
    /// </summary>
    public static ulong SlotMinAcquire(VmaTreeNode* node, int i, ulong min) => i > 0 ? Volatile.Read(ref node->Pivot[i - 1]) + 1 : min;

    /// <summary><see cref="SlotMax"/> for lockless readers (see <see cref="SlotMinAcquire"/>).</summary>
    public static ulong SlotMaxAcquire(VmaTreeNode* node, int i, ulong max) => i < node->End ? Volatile.Read(ref node->Pivot[i]) : max;

    /// <summary>The slot of a leaf that covers <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LeafOffset(VmaTreeNode* leaf, ulong index) => CountBelow(leaf->Pivot, index, LeafSlots - 1);

    /// <summary>The child of an inner node that covers <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int InnerOffset(VmaTreeNode* inner, ulong index) => CountBelow(inner->Pivot, index, InnerSlots - 1);

    /// <summary>The slot of either layout that covers <paramref name="index"/>.</summary>
    public static int Offset(VmaTreeNode* node, ulong index) => node->IsLeaf ? LeafOffset(node, index) : InnerOffset(node, index);

    /// <summary>
    /// How many of the first <paramref name="pivotCount"/> pivots are below <paramref name="index"/>: the slot that
    /// covers it, since used pivots increase and unused ones are <see cref="ulong.MaxValue"/>. Vector loads may read
    /// past the pivots into the slots (still inside the node); those lanes are masked off.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CountBelow(ulong* pivots, ulong index, int pivotCount)
    {
        ulong lanes = (1UL << pivotCount) - 1;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<ulong> key = Vector512.Create(index);
            ulong below = Vector512.LessThan(Vector512.Load(pivots), key).ExtractMostSignificantBits();
            below |= Vector512.LessThan(Vector512.Load(pivots + 8), key).ExtractMostSignificantBits() << 8;
            return BitOperations.PopCount(below & lanes);
        }

        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> key = Vector256.Create(index);
            ulong below = Vector256.LessThan(Vector256.Load(pivots), key).ExtractMostSignificantBits();
            below |= (ulong)Vector256.LessThan(Vector256.Load(pivots + 4), key).ExtractMostSignificantBits() << 4;
            below |= (ulong)Vector256.LessThan(Vector256.Load(pivots + 8), key).ExtractMostSignificantBits() << 8;
            if (pivotCount > 12)
            {
                below |= (ulong)Vector256.LessThan(Vector256.Load(pivots + 12), key).ExtractMostSignificantBits() << 12;
            }

            return BitOperations.PopCount(below & lanes);
        }

        int count = 0;
        for (int i = 0; i < pivotCount; i++)
        {
            count += pivots[i] < index ? 1 : 0;
        }

        return count;
    }
}
