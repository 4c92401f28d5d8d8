using System.Runtime.InteropServices;

namespace Tests.Slab;

/// <summary>A 192-byte object shaped like <c>vm_area_struct</c>: a free pointer may sit over <see cref="Start"/>.</summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
public struct Vma192
{
    [FieldOffset(0)]
    public ulong Start;

    [FieldOffset(8)]
    public ulong End;

    [FieldOffset(16)]
    public long Key;

    [FieldOffset(128)]
    public int Refcount;
}

[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct Size8
{
    public byte First;
}

[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct Size24
{
    public byte First;
}

[StructLayout(LayoutKind.Sequential, Size = 100)]
public struct Size100
{
    public byte First;
}

[StructLayout(LayoutKind.Sequential, Size = 256)]
public struct Size256
{
    public byte First;
}

[StructLayout(LayoutKind.Sequential, Size = 1000)]
public struct Size1000
{
    public byte First;
}

[StructLayout(LayoutKind.Sequential, Size = 4096)]
public struct Size4096
{
    public byte First;
}
