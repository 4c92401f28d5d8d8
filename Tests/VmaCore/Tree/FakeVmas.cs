using System;
using System.Runtime.InteropServices;
using VmaEngine.Vma;

namespace Tests.VmaCore.Tree;

/// <summary>
/// A block of zeroed <see cref="VmArea"/> structs in native memory, for tree-only tests: the tree stores the
/// pointers and never dereferences them. Id i is the i-th struct.
/// </summary>
internal sealed unsafe class FakeVmas : IDisposable
{
    private readonly VmArea* _block;

    public FakeVmas(int count)
    {
        Length = count;
        _block = (VmArea*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(VmArea));
    }

    public int Length { get; }

    public VmArea* this[int id] => id < 0 ? null : _block + id;

    /// <summary>The id of a pointer this block handed out (-1 for null); throws for a foreign pointer.</summary>
    public int IdOf(VmArea* vma)
    {
        if (vma == null)
        {
            return -1;
        }

        long id = vma - _block;
        if (id < 0 || id >= Length)
        {
            throw new InvalidOperationException($"0x{(nint)vma:x} is not a fake VMA.");
        }

        return (int)id;
    }

    public void Dispose() => NativeMemory.Free(_block);
}
