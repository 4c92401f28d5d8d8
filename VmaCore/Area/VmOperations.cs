using System.Runtime.InteropServices;

namespace VmaEngine.Vma;

/// <summary>
/// The operations of a mapping (<c>struct vm_operations_struct</c>), reduced to the hooks that change VMA
/// decisions. The kernel's function pointers are modelled as flags. A VMA with no operations is anonymous.
/// </summary>
internal unsafe struct VmOperations
{
    private static readonly VmOperations* s_file = Allocate(hasClose: false);

    /// <summary>The mapping has a <c>close</c> hook: a merge never removes such a VMA.</summary>
    public bool HasClose;

    /// <summary>
    /// The operations every file and shmem mapping gets from its <c>mmap</c> (the kernel's
    /// <c>generic_file_vm_ops</c> and <c>shmem_vm_ops</c> have no close hook). Lives for the process.
    /// </summary>
    internal static VmOperations* File => s_file;

    /// <summary>Operations living for the process, for drivers and tests.</summary>
    internal static VmOperations* Allocate(bool hasClose)
    {
        var ops = (VmOperations*)NativeMemory.AllocZeroed((nuint)sizeof(VmOperations));
        ops->HasClose = hasClose;
        return ops;
    }
}
