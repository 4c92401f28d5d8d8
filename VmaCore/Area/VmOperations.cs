namespace VmaCore;

/// <summary>
/// The operations of a mapping (<c>struct vm_operations_struct</c>), reduced to the hooks that change VMA
/// decisions. The kernel's function pointers are modelled as flags.
/// </summary>
public struct VmOperations
{
    /// <summary>The mapping has a <c>close</c> hook: a merge never removes such a VMA.</summary>
    public bool HasClose;
}
