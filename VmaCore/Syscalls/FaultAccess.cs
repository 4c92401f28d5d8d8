namespace VmaEngine.Vma;

/// <summary>The kind of access that faulted, as a host's page-fault handler decodes it.</summary>
public enum FaultAccess
{
    /// <summary>A load.</summary>
    Read,

    /// <summary>A store.</summary>
    Write,

    /// <summary>An instruction fetch: needs VM_EXEC (the page tables' NX bit enforces it on x86-64).</summary>
    Execute,
}
