namespace VmaEngine.Vma;

/// <summary>
/// The <c>shared</c> member of vm_area_struct: the node that links a file-backed VMA into its file's interval
/// tree (an rb node of three words) and the subtree's last page. 32 bytes.
/// </summary>
internal unsafe struct VmaShared
{
    /// <summary>The rb node's parent pointer and colour bit.</summary>
    public nuint RbParentColor;

    /// <summary>The rb node's right child.</summary>
    public VmaShared* RbRight;

    /// <summary>The rb node's left child.</summary>
    public VmaShared* RbLeft;

    /// <summary><c>rb_subtree_last</c>: the largest last page in this subtree of the interval tree.</summary>
    public ulong RbSubtreeLast;
}
