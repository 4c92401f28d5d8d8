namespace VmaEngine.Vma;

/// <summary>A userfaultfd context (<c>struct userfaultfd_ctx</c>): VMAs merge only with the same context.</summary>
internal struct VmUserfaultfdCtx
{
    /// <summary>The context's identity.</summary>
    public int Id;
}
