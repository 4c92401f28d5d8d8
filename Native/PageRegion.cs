using System;
using System.Runtime.InteropServices;

namespace VmaEngine.Native;

/// <summary>
/// A reserved range of address space, owned: it is released exactly once, by <see cref="IDisposable.Dispose"/>
/// or by the finalizer, also when an exception interrupts its owner. Disposing it twice is harmless.
/// Ranges inside it are named by a byte offset and a length, both multiples of the page size.
/// </summary>
public sealed unsafe class PageRegion : SafeHandle
{
    internal PageRegion(void* address, nuint size)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle((IntPtr)address);
        Size = size;
    }

    /// <summary>The first byte of the region; it is aligned as requested from <see cref="OsPages.Reserve"/>.</summary>
    public byte* BaseAddress => (byte*)handle;

    /// <summary>The size of the region in bytes.</summary>
    public nuint Size { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Makes the pages readable and writable; pages never written read as zero.</summary>
    public void Commit(nuint offset, nuint length) => OsPages.Commit(Range(offset, length), length);

    /// <summary>Returns the pages' memory to the system and makes them inaccessible; a later commit reads zeroes.</summary>
    public void Decommit(nuint offset, nuint length) => OsPages.Decommit(Range(offset, length), length);

    /// <summary>Changes the access the committed pages allow.</summary>
    public void Protect(nuint offset, nuint length, PageProtection protection) =>
        OsPages.Protect(Range(offset, length), length, protection);

    /// <summary>Drops the pages' contents (MADV_DONTNEED); they stay accessible and read as zero.</summary>
    public void AdviseDontNeed(nuint offset, nuint length) => OsPages.AdviseDontNeed(Range(offset, length), length);

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        OsPages.Release((void*)handle, Size);
        return true;
    }

    /// <summary>Checks a page range against the region and returns its first byte.</summary>
    private void* Range(nuint offset, nuint length)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        OsPages.ValidateSize(length, nameof(length));
        if (!OsPages.IsPageAligned(offset))
        {
            throw new ArgumentException($"The offset {offset} is not a multiple of the page size {OsPages.PageSize}.", nameof(offset));
        }

        if (offset >= Size || length > Size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"The range at offset {offset} runs past the end of the {Size}-byte region.");
        }

        return BaseAddress + offset;
    }
}
