namespace VmaEngine.Vma;

/// <summary>Address arithmetic shared by the system calls.</summary>
public sealed partial class AddressSpace
{
    /// <summary><c>PAGE_ALIGN</c>: rounds up to a page boundary (wrapping to 0 near the top, as the kernel's does).</summary>
    private static ulong PageAlign(ulong value) => (value + MmConstants.PageSize - 1) & MmConstants.PageMask;
}
