using System;
using System.Threading;

namespace VmaEngine.Vma.Files;

/// <summary>
/// An open file that <see cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, MappedFile, ulong, out ulong)"/>
/// can map: the handle's reference on the engine's file (<c>struct file</c>). Mappings take their own references, so disposing
/// the handle (closing the descriptor) leaves existing mappings intact, as in Linux.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    /// <summary>The file (a <see cref="VmFile"/> pointer), or 0 once disposed.</summary>
    private nint _file;

    internal MappedFile(string name, ulong sizePages, bool canRead, bool canWrite)
    {
        int id = FileNames.NextId();
        FileNames.Register(id, name);
        _file = (nint)VmFile.Create(id, sizePages, VmFileKind.File, canRead, canWrite);
        Name = name;
        SizePages = sizePages;
    }

    /// <summary>The file's name, as maps shows it.</summary>
    public string Name { get; }

    /// <summary>The file size in pages: faults at or beyond it are SIGBUS.</summary>
    public ulong SizePages { get; }

    /// <summary>The identity mappings of this file share (<see cref="VmaInfo.FileId"/>, the inode maps prints).</summary>
    public int Id => File->Id;

    /// <summary>The unmanaged file VMAs point to.</summary>
    /// <exception cref="ObjectDisposedException">The handle was disposed.</exception>
    internal VmFile* File
    {
        get
        {
            nint file = Volatile.Read(ref _file);
            ObjectDisposedException.ThrowIf(file == 0, this);
            return (VmFile*)file;
        }
    }

    /// <summary>Drops the handle's reference (<c>close</c>).</summary>
    public void Dispose()
    {
        nint file = Interlocked.Exchange(ref _file, 0);
        if (file != 0)
        {
            VmFile.Put((VmFile*)file);
        }
    }
}
