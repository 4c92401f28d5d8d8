namespace VmaCore;

/// <summary>A backing file (<c>struct file</c>): its identity, size and references.</summary>
public struct VmFile
{
    /// <summary>The identity of the file; mappings of the same file compare equal here.</summary>
    public int Id;

    /// <summary>References held on the file (<c>f_count</c>).</summary>
    public int RefCount;

    /// <summary>The file size in pages.</summary>
    public ulong SizePages;
}
